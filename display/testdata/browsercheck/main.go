// Command browsercheck verifies display's streaming in a real browser: it serves Jupyter
// Notebook on localhost, drives headless Chromium through the DevTools protocol, runs
// stream.ipynb (a GoNB cell streaming a long Chinese answer with display.NewCell() in Auto mode,
// which is append mode in a live session; -mode=replace sets GONBCHAT_DISPLAY=replace for the
// kernel), samples the DOM while the reply streams, then saves the notebook and checks the saved
// output.
//
// It needs jupyter-notebook, the gonb kernel and chromium, so it is not part of go test. Run it
// from the repository root:
//
//	go run ./display/testdata/browsercheck                 # append mode (Auto)
//	go run ./display/testdata/browsercheck -mode=replace   # replace mode
//
// It exits non-zero if the text did not appear progressively (in append mode: through the
// scripts, the container element staying in place), if the final DOM does not show the final
// render, or if the saved output is not exactly the full render of the source (display/markdown)
// with the source as text/plain and the provenance metadata.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gonbchat/gonbchat/display/markdown"
)

var (
	dir     = flag.String("dir", "display/testdata/browsercheck", "directory of stream.ipynb")
	mode    = flag.String("mode", "append", "append (Auto mode in a live session) or replace (GONBCHAT_DISPLAY=replace)")
	timeout = flag.Duration("timeout", 4*time.Minute, "overall time limit")
	verbose = flag.Bool("v", false, "print every DOM sample")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "browsercheck: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("browsercheck: PASS")
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a command in its own process group; stop kills that group (only what we started).
func start(env []string, name string, args ...string) (stop func(), err error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.CreateTemp("", "browsercheck-"+filepath.Base(name)+"-*.log")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Printf("started %s (pid %d), log %s\n", name, cmd.Process.Pid, logf.Name())
	return func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}, nil
}

func waitHTTP(ctx context.Context, url string) ([]byte, error) {
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return b, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cdp is a minimal DevTools protocol client for one page.
type cdp struct {
	c  *websocket.Conn
	id int
}

func (p *cdp) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p.id++
	req, _ := json.Marshal(map[string]any{"id": p.id, "method": method, "params": params})
	if err := p.c.Write(ctx, websocket.MessageText, req); err != nil {
		return nil, err
	}
	for {
		_, b, err := p.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		var r struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct{ Message string }
		}
		if json.Unmarshal(b, &r) != nil || r.ID != p.id {
			continue // an event
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value into out.
func (p *cdp) eval(ctx context.Context, expr string, out any) error {
	res, err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct{ Text string } `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("javascript: %s in %.80s", r.ExceptionDetails.Text, expr)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

func (p *cdp) waitFor(ctx context.Context, what, expr string) error {
	for {
		var ok bool
		if err := p.eval(ctx, expr, &ok); err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sample is one look at the streaming reply in the page.
type sample struct {
	T      float64 `json:"t"`      // seconds since the cell started
	Exists bool    `json:"exists"` // the append-mode container is in the DOM
	Len    int     `json:"len"`    // characters of text in the cell's output
	N      int     `json:"n"`      // committed blocks in the container (data-n)
	V      int     `json:"v"`      // tail version (data-v)
	Probe  bool    `json:"probe"`  // the container element is the one seen last time (not re-rendered)
	Math   int     `json:"math"`   // formulas typeset by the page's MathJax
}

const sampleJS = `(() => {
  const out = Jupyter.notebook.get_cell(2).output_area.element[0];
  const e = out.querySelector('.gonbchat-reply');
  const s = {t: 0, exists: !!e, len: out.innerText.length, n: 0, v: 0, probe: false,
             math: out.querySelectorAll('.MathJax, mjx-container').length};
  if (e) {
    s.n = +e.dataset.n; s.v = +(e.lastElementChild.dataset.v || 0);
    s.probe = e.__browsercheck === 1; e.__browsercheck = 1;
  }
  return s;
})()`

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	// A copy of the notebook in the same directory (relative paths), removed at the end.
	nbBytes, err := os.ReadFile(filepath.Join(*dir, "stream.ipynb"))
	if err != nil {
		return err
	}
	runName := fmt.Sprintf("run-%d.ipynb", os.Getpid())
	runPath := filepath.Join(*dir, runName)
	if err := os.WriteFile(runPath, nbBytes, 0o644); err != nil {
		return err
	}
	defer os.Remove(runPath)
	srcBytes, err := os.ReadFile(filepath.Join(*dir, "..", "answer-zh.md"))
	if err != nil {
		srcBytes, err = os.ReadFile(filepath.Join(*dir, "..", "stream-zh.md"))
	}
	if err != nil {
		return err
	}
	src := string(srcBytes)

	jport, cport := freePort(), freePort()
	token := fmt.Sprintf("bc%d", time.Now().UnixNano())
	var env []string
	switch *mode {
	case "append":
		env = []string{"GONBCHAT_DISPLAY="}
	case "replace":
		env = []string{"GONBCHAT_DISPLAY=replace"}
	default:
		return fmt.Errorf("-mode=%q: want append or replace", *mode)
	}
	stopJ, err := start(env, "jupyter", "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", jport), "--NotebookApp.token="+token, "--notebook-dir="+*dir)
	if err != nil {
		return err
	}
	defer stopJ()
	base := fmt.Sprintf("http://127.0.0.1:%d", jport)
	if _, err := waitHTTP(ctx, base+"/api/status?token="+token); err != nil {
		return err
	}

	profile, _ := os.MkdirTemp("", "browsercheck-chromium-*")
	defer os.RemoveAll(profile)
	stopC, err := start(nil, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, fmt.Sprintf("--remote-debugging-port=%d", cport), "--window-size=1200,4000", "about:blank")
	if err != nil {
		return err
	}
	defer stopC()
	list, err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/json/list", cport))
	if err != nil {
		return err
	}
	var targets []struct{ Type, WebSocketDebuggerURL string }
	json.Unmarshal(list, &targets)
	var wsURL string
	for _, t := range targets {
		if t.Type == "page" {
			wsURL = t.WebSocketDebuggerURL
		}
	}
	if wsURL == "" {
		return fmt.Errorf("no page target in %s", list)
	}
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		return err
	}
	conn.SetReadLimit(64 << 20)
	defer conn.CloseNow()
	page := &cdp{c: conn}

	if _, err := page.call(ctx, "Page.navigate", map[string]any{"url": base + "/notebooks/" + runName + "?token=" + token}); err != nil {
		return err
	}
	if err := page.waitFor(ctx, "the kernel", `!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`); err != nil {
		return err
	}
	fmt.Println("notebook open, kernel connected")
	done := func(i int) string {
		return fmt.Sprintf(`(() => { const c = Jupyter.notebook.get_cell(%d); return typeof c.input_prompt_number === "number"; })()`, i)
	}
	if err := page.eval(ctx, `Jupyter.notebook.execute_cells([1]), true`, nil); err != nil {
		return err
	}
	if err := page.waitFor(ctx, "the setup cell", done(1)); err != nil {
		return err
	}
	fmt.Println("setup cell done")

	if err := page.eval(ctx, `Jupyter.notebook.execute_cells([2]), true`, nil); err != nil {
		return err
	}
	t0 := time.Now()
	var samples []sample
	for {
		var s sample
		if err := page.eval(ctx, sampleJS, &s); err != nil {
			return err
		}
		s.T = time.Since(t0).Seconds()
		samples = append(samples, s)
		if *verbose {
			fmt.Printf("%+v\n", s)
		}
		var finished bool
		if err := page.eval(ctx, done(2), &finished); err != nil {
			return err
		}
		if finished {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}

	// Progress: while the container was in the DOM, its text grew many times, and grew while
	// the same element stayed in place (so through the scripts, not whole-bundle updates).
	var growth, jsGrowth, maxN, maxV, inDOM, grewBeforeEnd, mathInStream int
	firstText, lastLen := -1.0, 0
	for i, s := range samples {
		if s.Exists {
			inDOM++
			maxN, maxV = max(maxN, s.N), max(maxV, s.V)
			if firstText < 0 && s.Len > 0 {
				firstText = s.T
			}
		}
		if s.Exists {
			mathInStream = max(mathInStream, s.Math)
		}
		if i > 0 && s.Len > lastLen && i < len(samples)-1 {
			grewBeforeEnd++
		}
		if i > 0 && s.Exists && s.Len > lastLen {
			growth++
			if s.Probe {
				jsGrowth++
			}
		}
		lastLen = s.Len
	}
	fmt.Printf("mode %s: cell ran %.1f s; %d samples; the text grew in %d of them before the end; %d with the append container in the DOM; it grew in %d, %d of them with the container untouched (script-driven); data-n reached %d, tail version %d; first container text at %.2f s; up to %d formulas typeset in the container while streaming\n",
		*mode, time.Since(t0).Seconds(), len(samples), grewBeforeEnd, inDOM, growth, jsGrowth, maxN, maxV, firstText, mathInStream)
	var problems []string
	if grewBeforeEnd < 10 {
		problems = append(problems, fmt.Sprintf("the text grew in only %d samples", grewBeforeEnd))
	}
	if *mode == "append" {
		if jsGrowth < 5 {
			problems = append(problems, fmt.Sprintf("only %d samples grew through the scripts", jsGrowth))
		}
		if maxN < 5 {
			problems = append(problems, fmt.Sprintf("only %d blocks appended", maxN))
		}
	} else if inDOM > 0 {
		problems = append(problems, "replace mode used the append container")
	}

	// The final DOM shows the final render's text, without the container.
	var final struct {
		Container bool   `json:"container"`
		Text      string `json:"text"`
		Scripts   int    `json:"scripts"`
		Math      int    `json:"math"`
	}
	time.Sleep(2 * time.Second) // let MathJax finish typesetting the final output
	// The text of the reply's output with MathJax's work undone: its rendered formulas removed and
	// its math/tex scripts turned back into $…$ (as in the HTML sent).
	if err := page.eval(ctx, `(() => { const out = Jupyter.notebook.get_cell(2).output_area.element[0];
	  const h = out.querySelector('.output_html');
	  const c = h ? h.cloneNode(true) : document.createElement('div');
	  c.querySelectorAll('.MathJax_Preview, .MathJax, .MathJax_Display, mjx-container').forEach(x => x.remove());
	  c.querySelectorAll('script[type^="math/tex"]').forEach(x => x.replaceWith(
	    (x.type.includes('mode=display') ? '$$' : '$') + x.textContent + (x.type.includes('mode=display') ? '$$' : '$')));
	  return {container: !!out.querySelector('.gonbchat-reply'), text: c.textContent,
	          scripts: out.querySelectorAll('script:not([type^="math/tex"])').length,
	          math: out.querySelectorAll('.MathJax, mjx-container').length}; })()`, &final); err != nil {
		return err
	}
	want := markdown.New().Render(src)
	if final.Container {
		problems = append(problems, "the append-mode container is still in the DOM after the final update")
	}
	if got, want := collapse(final.Text), collapse(html.UnescapeString(tags.ReplaceAllString(want, ""))); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		problems = append(problems, fmt.Sprintf("the final DOM text differs from the render's text at %d: %.80q, want %.80q", i, got[i:], want[i:]))
	}
	if final.Scripts > 0 {
		problems = append(problems, fmt.Sprintf("%d script elements left in the output", final.Scripts))
	}
	fmt.Printf("final DOM: container=%v, %d script elements left, %d formulas typeset by MathJax, text %d chars\n", final.Container, final.Scripts, final.Math, len(final.Text))

	// Save, then check the saved output exactly.
	if err := page.eval(ctx, `Jupyter.notebook.save_notebook().then(() => true)`, nil); err != nil {
		return err
	}
	time.Sleep(time.Second)
	saved, err := os.ReadFile(runPath)
	if err != nil {
		return err
	}
	var nb struct {
		Cells []struct {
			Outputs []struct {
				OutputType string                     `json:"output_type"`
				Data       map[string]json.RawMessage `json:"data"`
				Metadata   map[string]any             `json:"metadata"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(saved, &nb); err != nil {
		return err
	}
	outs := nb.Cells[2].Outputs
	fmt.Printf("saved notebook: cell 2 has %d outputs\n", len(outs))
	found := false
	for i, o := range outs {
		h, p := joinLines(o.Data["text/html"]), joinLines(o.Data["text/plain"])
		fmt.Printf("  output %d: %s, text/html %d bytes, text/plain %d bytes, metadata %v\n", i, o.OutputType, len(h), len(p), keys(o.Metadata))
		if g, ok := o.Metadata["gonbchat"].(map[string]any); ok {
			found = true
			if h != want {
				problems = append(problems, "saved text/html is not the full render of the source")
			}
			if p != src {
				problems = append(problems, "saved text/plain is not the source")
			}
			fmt.Printf("  provenance: %v\n", g)
			if g["mode"] != *mode || g["model"] != "browsercheck" || g["source"] != "replayed" {
				problems = append(problems, fmt.Sprintf("saved metadata %v", g))
			}
		} else if h != "" || p != "" || o.OutputType != "display_data" {
			problems = append(problems, fmt.Sprintf("unexpected output %d: %s %.80q %.80q", i, o.OutputType, h, p))
		}
	}
	if !found {
		problems = append(problems, "no saved output with gonbchat metadata")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

var tags = regexp.MustCompile(`<[^>]*>`)

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// joinLines reads an ipynb multiline string (a string or a list of strings).
func joinLines(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []string
	json.Unmarshal(raw, &l)
	return strings.Join(l, "")
}

func keys(m map[string]any) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}
