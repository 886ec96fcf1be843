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
//	go run ./display/testdata/browsercheck -closepage      # first close the page mid-reply
//
// It records, in the page, the containers the page is sent and what the page tells the cell
// over GoNB's comms, and, through the DevTools protocol, the bytes the page receives on its
// websockets (the notebook's own, and GoNB's gonb_comm, which gets a copy of every iopub message).
//
// It exits non-zero if the text did not appear progressively (in append mode: through the
// scripts, the container element staying in place), if in append mode the page did not
// acknowledge the scripts or was sent a safety-net container more than a second after it did,
// if the final DOM does not show the final render, or if the saved output is not exactly the
// full render of the source (display/markdown) with the source as text/plain and the provenance
// metadata. With -closepage, it also fails if the cell does not finish once its page is gone.
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
	dir       = flag.String("dir", "display/testdata/browsercheck", "directory of stream.ipynb")
	mode      = flag.String("mode", "append", "append (Auto mode in a live session) or replace (GONBCHAT_DISPLAY=replace)")
	timeout   = flag.Duration("timeout", 4*time.Minute, "overall time limit")
	verbose   = flag.Bool("v", false, "print every DOM sample")
	closePage = flag.Bool("closepage", false, "first run the reply and close the page 3 s into it: the cell must still finish")
)

// instrumentJS runs in the page before Jupyter's scripts: it records the containers the page is
// sent (a MutationObserver), the calls of gonbchat_v2, and what the page tells the cell over GoNB's
// comms (gonb_comm.send to the acknowledgement address, wrapped once gonb_comm is complete).
const instrumentJS = `(() => {
  const bc = window.__bc = {start: 0, containers: [], said: [], calls: 0};
  let g2;
  Object.defineProperty(window, "gonbchat_v2", {configurable: true, get() { return g2 },
    set(f) { g2 = function() { bc.calls++; return f.apply(this, arguments) } }});
  const wrap = () => {
    const g = window.gonb_comm;
    if (g && g.send && !g.__bc) {
      const send = g.send; g.__bc = true;
      g.send = function(a, v) { if (a === "/gonbchat/ack") bc.said.push({t: Date.now(), v: String(v)}); return send.apply(this, arguments) };
    }
  };
  new MutationObserver(ms => {
    wrap();
    for (const m of ms) for (const n of m.addedNodes) {
      if (n.nodeType !== 1) continue;
      if (n.matches(".gonbchat-reply")) bc.containers.push(Date.now());
      n.querySelectorAll(".gonbchat-reply").forEach(() => bc.containers.push(Date.now()));
    }
  }).observe(document, {childList: true, subtree: true});
})()`

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

// cdp is a minimal DevTools protocol client for one page. Events read while waiting for a reply
// go to onEvent.
type cdp struct {
	c       *websocket.Conn
	id      int
	onEvent func(method string, params json.RawMessage)
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
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct{ Message string }
		}
		if json.Unmarshal(b, &r) != nil || r.ID != p.id {
			if r.Method != "" && p.onEvent != nil {
				p.onEvent(r.Method, r.Params)
			}
			continue
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
	N      int     `json:"n"`      // elements before the tail in the container (script, committed blocks)
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
    s.n = e.children.length - 2; s.v = +(e.lastElementChild.dataset.v || 0);
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
	// What the page receives on its websockets while the reply streams: the notebook's own
	// connection to the kernel, and GoNB's (gonb_comm), which gets every iopub message too.
	wsKind := map[string]string{}
	wsBytes := map[string]int{}
	counting := false
	page.onEvent = func(method string, params json.RawMessage) {
		var ev struct {
			RequestID string `json:"requestId"`
			URL       string `json:"url"`
			Response  struct {
				PayloadData string `json:"payloadData"`
			} `json:"response"`
		}
		json.Unmarshal(params, &ev)
		switch method {
		case "Network.webSocketCreated":
			if strings.Contains(ev.URL, "session_id=") {
				wsKind[ev.RequestID] = "the notebook's"
			} else {
				wsKind[ev.RequestID] = "gonb_comm's"
			}
		case "Network.webSocketFrameReceived":
			if counting {
				wsBytes[wsKind[ev.RequestID]] += len(ev.Response.PayloadData)
			}
		}
	}
	for _, domain := range []string{"Network.enable", "Page.enable"} {
		if _, err := page.call(ctx, domain, map[string]any{}); err != nil {
			return err
		}
	}
	if _, err := page.call(ctx, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": instrumentJS}); err != nil {
		return err
	}
	notebookURL := base + "/notebooks/" + runName + "?token=" + token
	open := func() error {
		if _, err := page.call(ctx, "Page.navigate", map[string]any{"url": notebookURL}); err != nil {
			return err
		}
		return page.waitFor(ctx, "the kernel", `!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`)
	}
	if err := open(); err != nil {
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

	if *closePage {
		// Run the reply, close the page 3 s into it, and wait for the kernel to finish the cell
		// with nobody listening; then open the page again for the checked run.
		var kernelID string
		if err := page.eval(ctx, `Jupyter.notebook.kernel.id`, &kernelID); err != nil {
			return err
		}
		if err := page.eval(ctx, `Jupyter.notebook.execute_cells([2]), true`, nil); err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		if _, err := page.call(ctx, "Page.navigate", map[string]any{"url": "about:blank"}); err != nil {
			return err
		}
		tc := time.Now()
		for {
			b, err := waitHTTP(ctx, base+"/api/kernels/"+kernelID+"?token="+token)
			if err != nil {
				return err
			}
			var k struct {
				ExecutionState string `json:"execution_state"`
			}
			json.Unmarshal(b, &k)
			if k.ExecutionState == "idle" {
				break
			}
			if time.Since(tc) > 2*time.Minute {
				return fmt.Errorf("the cell did not finish within 2 minutes of closing the page")
			}
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Printf("page closed 3 s into the reply: the kernel went idle %.1f s later (the cell ran %.1f s)\n",
			time.Since(tc).Seconds(), time.Since(tc).Seconds()+3)
		if err := open(); err != nil {
			return err
		}
		fmt.Println("notebook open again, kernel connected")
	}

	page.eval(ctx, `1`, nil) // read the events so far
	counting = true
	if err := page.eval(ctx, `Jupyter.notebook.execute_cells([2]), window.__bc.start = Date.now(), true`, nil); err != nil {
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
	fmt.Printf("mode %s: cell ran %.1f s; %d samples; the text grew in %d of them before the end; %d with the append container in the DOM; it grew in %d, %d of them with the container untouched (script-driven); up to %d blocks moved out of the tail, tail version %d; first container text at %.2f s; up to %d formulas typeset in the container while streaming\n",
		*mode, time.Since(t0).Seconds(), len(samples), grewBeforeEnd, inDOM, growth, jsGrowth, maxN, maxV, firstText, mathInStream)
	page.eval(ctx, `1`, nil) // read the events so far
	counting = false
	fmt.Printf("the page received %d KB on the notebook's websocket and %d KB on gonb_comm's while the reply ran\n",
		wsBytes["the notebook's"]/1000, wsBytes["gonb_comm's"]/1000)

	// The page's answers, and the containers it was sent, in ms since the cell started.
	var bc struct {
		Start      float64   `json:"start"`
		Containers []float64 `json:"containers"`
		Said       []struct {
			T float64 `json:"t"`
			V string  `json:"v"`
		} `json:"said"`
		Calls int `json:"calls"`
	}
	if err := page.eval(ctx, `window.__bc`, &bc); err != nil {
		return err
	}
	firstOK := -1.0
	var said []string
	for _, a := range bc.Said {
		said = append(said, fmt.Sprintf("%q at %.2f s", a.V, (a.T-bc.Start)/1000))
		if firstOK < 0 && strings.HasSuffix(a.V, " ok") {
			firstOK = a.T
		}
	}
	var before, after []string
	for _, c := range bc.Containers {
		at := fmt.Sprintf("%.2f s", (c-bc.Start)/1000)
		if firstOK >= 0 && c > firstOK+1000 {
			after = append(after, at)
		} else {
			before = append(before, at)
		}
	}
	fmt.Printf("the page ran %d scripts and said %v; containers it was sent: %v before the first ok (+1 s), %v after\n",
		bc.Calls, said, before, after)
	var problems []string
	if *mode == "append" {
		if firstOK < 0 {
			problems = append(problems, "the page never acknowledged the scripts")
		}
		if len(after) > 0 {
			problems = append(problems, fmt.Sprintf("%d safety-net containers after the acknowledgement", len(after)))
		}
	} else if len(bc.Said) > 0 || len(bc.Containers) > 0 {
		problems = append(problems, "replace mode used the append container or comms")
	}
	if grewBeforeEnd < 10 {
		problems = append(problems, fmt.Sprintf("the text grew in only %d samples", grewBeforeEnd))
	}
	if *mode == "append" {
		if jsGrowth < 5 {
			problems = append(problems, fmt.Sprintf("only %d samples grew through the scripts", jsGrowth))
		}
		if maxN < 5 {
			problems = append(problems, fmt.Sprintf("only %d blocks moved out of the tail", maxN))
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
