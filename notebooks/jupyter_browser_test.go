package notebooks_test

// The real-browser test of a chat loop in Jupyter Notebook: see TestLoopInJupyterNotebook.

import (
	"github.com/gonbchat/gonbchat/internal/browsertest"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// loopQuestion is what the "person" types; the mirror model quotes it in its reply.
const loopQuestion = "北海道的流冰什麼時候最好看？"

// loopNotebook is a small GoNB notebook: the lessons' setup cell (with the repository's absolute
// path, since the notebook lives in a temporary directory), a chat declared at the top level and
// a cell running its loop.
func loopNotebook(repo string) []byte {
	cells := []string{
		"!*go mod edit -require=github.com/gonbchat/gonbchat@v0.0.0 -replace=github.com/gonbchat/gonbchat=" + repo,
		"import (\n\t\"fmt\"\n\n\t\"github.com/gonbchat/gonbchat/chatcell\"\n)\n\n" +
			"var chat = chatcell.NewHistList(chatcell.WithName(\"loop\"))\n\n%%\nfmt.Println(\"chat\", chat.Name(), \"source\", chat.Source())",
		"%%\nchat.Loop()",
	}
	type cell struct {
		CellType       string         `json:"cell_type"`
		ID             string         `json:"id"`
		ExecutionCount *int           `json:"execution_count"`
		Metadata       map[string]any `json:"metadata"`
		Outputs        []any          `json:"outputs"`
		Source         string         `json:"source"`
	}
	nb := map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{
			"kernelspec":    map[string]any{"name": kernelName, "display_name": "Go (gonb)", "language": "go"},
			"language_info": map[string]any{"name": "go"},
		},
	}
	var cs []cell
	for i, src := range cells {
		cs = append(cs, cell{CellType: "code", ID: fmt.Sprintf("loop-%d", i), Metadata: map[string]any{}, Outputs: []any{}, Source: src})
	}
	nb["cells"] = cs
	b, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		panic(err)
	}
	return b
}

// kernelEnv is this process's environment without what would change how the loop or the chat
// behaves: no GONBCHAT_* (GONBCHAT_INTERACTIVE above all), no OPENAI_* and no provider key, so
// the chat answers with the offline mirror model.
func kernelEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GONBCHAT_") || strings.HasPrefix(k, "OPENAI_") || strings.HasSuffix(k, "_API_KEY") ||
			k == "JUPYTERHUB_API_TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// requireJupyterBrowser skips the test unless everything it needs is installed, and returns
// Chromium's path.
func requireJupyterBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: Jupyter Notebook and Chromium are not run")
	}
	for _, p := range []string{"jupyter-notebook", "jupyter-nbconvert"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not found: install Debian's jupyter-notebook and jupyter-nbconvert (./install.sh does)", p)
		}
	}
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found (Debian's python3 with jupyter_client): run ./install.sh first", python)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "run_notebook.py"), "--check", "--kernel", kernelName).Output()
	var spec struct {
		ResourceDir string   `json:"resource_dir"`
		Argv        []string `json:"argv"`
	}
	if err != nil || json.Unmarshal(out, &spec) != nil || len(spec.Argv) == 0 {
		t.Skipf("the %q kernel is not installed (run ./install.sh first): %v %s", kernelName, err, out)
	}
	exe := browsertest.ChromiumPath()
	if exe == "" {
		t.Skip("no Chromium: apt-get install chromium (install.sh --dev does), or set GONBCHAT_CHROMIUM")
	}
	declareInputs(t, spec.Argv[0], filepath.Join(spec.ResourceDir, "kernel.json"))
	return exe
}

// TestLoopInJupyterNotebook proves the real path of a chat loop, with no GONBCHAT_INTERACTIVE to
// play a person: Debian's Jupyter Notebook 6 serves a small notebook to headless Chromium
// (driven by chromedp), the loop sees that a Jupyter server started its kernel and asks in
// Notebook's input box; the test types a Chinese question, presses Enter, watches the offline
// mirror model's reply stream into the cell, then answers an empty line and checks the cell
// ended. The same notebook run by `jupyter nbconvert --execute` must end by itself: the loop
// says in one line that nobody can answer there.
//
// Skipped with -short, and when jupyter-notebook, jupyter-nbconvert, the gonb kernel or Chromium
// is missing (set GONBCHAT_CHROMIUM to Chromium's path if it is not on PATH).
// Screenshots go to $GONBCHAT_SCREENSHOT_DIR if set, else to the test's temporary directory;
// the test logs their paths.
func TestLoopInJupyterNotebook(t *testing.T) {
	chromium := requireJupyterBrowser(t)
	repo := filepath.Dir(mustAbs(t, "."))
	nb := loopNotebook(repo)
	cellTimeout := 100 * time.Second // the first cells of a kernel build the cell program

	t.Run("browser", func(t *testing.T) {
		t.Parallel()
		loopInBrowser(t, chromium, nb, cellTimeout)
	})
	t.Run("nbconvert", func(t *testing.T) {
		t.Parallel()
		loopInNbconvert(t, nb, cellTimeout)
	})
}

// loopInNbconvert executes the notebook with nbconvert: nobody answers there, so the loop must
// not ask; it ends at once with its one line, and the cell finishes within the cell timeout (a
// loop that asked would wait for an answer until nbconvert gave up with a CellTimeoutError).
func loopInNbconvert(t *testing.T, nb []byte, cellTimeout time.Duration) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loop.ipynb"), nb, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*cellTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "jupyter", "nbconvert", "--to", "notebook", "--execute",
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", int(cellTimeout.Seconds())),
		"--ExecutePreprocessor.kernel_name="+kernelName, "--output", "loop.out.ipynb", "loop.ipynb")
	cmd.Dir = dir
	cmd.Env = kernelEnv("JUPYTER_RUNTIME_DIR=" + filepath.Join(dir, "runtime"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("nbconvert ran in %.1fs", time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("nbconvert: %v\n%s", err, tail(out, 3000))
	}
	raw, err := os.ReadFile(filepath.Join(dir, "loop.out.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	var done struct {
		Cells []struct {
			Source         any `json:"source"`
			ExecutionCount *int
			Outputs        []struct {
				OutputType string          `json:"output_type"`
				Name       string          `json:"name"`
				Text       json.RawMessage `json:"text"`
				Data       map[string]json.RawMessage
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(raw, &done); err != nil {
		t.Fatal(err)
	}
	if len(done.Cells) != 3 {
		t.Fatalf("executed notebook has %d cells", len(done.Cells))
	}
	var declOut, loopOut strings.Builder
	for i, c := range done.Cells {
		for _, o := range c.Outputs {
			text := joinText(o.Text)
			for _, v := range o.Data {
				text += joinText(v)
			}
			if o.OutputType == "error" || strings.Contains(text, "panic") || strings.Contains(text, "goroutine ") {
				t.Errorf("cell %d: %s output %.300q", i, o.OutputType, text)
			}
			switch i {
			case 1:
				declOut.WriteString(text)
			case 2:
				loopOut.WriteString(text)
			}
		}
	}
	if !strings.Contains(declOut.String(), "chat loop source offline") {
		t.Errorf("cell 1 printed %q, want the chat on the offline mirror model", declOut.String())
	}
	got := loopOut.String()
	t.Logf("the loop cell under nbconvert printed %q", got)
	// One line: "Loop: …nbconvert…, so the loop ends here." in the default language (the message
	// names nbconvert in every language); no prompt, no hint about ending with an empty line.
	if lines := strings.Split(strings.TrimSpace(got), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "Loop") ||
		!strings.Contains(lines[0], "nbconvert") {
		t.Errorf("the loop cell printed %q, want one line saying the loop ends under nbconvert", got)
	}
	if strings.Contains(got, ">>>") || strings.Contains(got, "↵") {
		t.Errorf("the loop offered input under nbconvert: %q", got)
	}
}

// joinText reads an ipynb multiline string (a string or a list of strings).
func joinText(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return strings.Join(l, "")
	}
	return ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startJupyter serves dir with Debian's Jupyter Notebook on a free port and returns its base URL.
// At cleanup it shuts down the kernels it started, then the server (its process group).
func startJupyter(t *testing.T, dir, token string) string {
	t.Helper()
	port := freePort(t)
	logPath := filepath.Join(t.TempDir(), "jupyter.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("jupyter", "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", port), "--NotebookApp.token="+token, "--notebook-dir="+dir)
	cmd.Env = kernelEnv("JUPYTER_RUNTIME_DIR=" + filepath.Join(t.TempDir(), "runtime"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting jupyter notebook: %v", err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The kernels run in sessions of their own: shut them down through the server first.
		shutdownKernels(base, token)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("jupyter notebook's log (%s):\n%s", logPath, tail(b, 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/status?token=" + token)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("jupyter notebook exited:\n%s", tail(b, 3000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("jupyter notebook did not answer on %s within 30s", base)
		}
	}
}

func shutdownKernels(base, token string) {
	resp, err := http.Get(base + "/api/kernels?token=" + token)
	if err != nil {
		return
	}
	var kernels []struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&kernels)
	resp.Body.Close()
	for _, k := range kernels {
		req, _ := http.NewRequest(http.MethodDelete, base+"/api/kernels/"+k.ID+"?token="+token, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// page is the notebook's tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

func evalJS[T any](p page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluating %.120s: %v", js, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds; on a timeout it fails with the cell outputs.
func (p page) wait(js, what string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !evalJS[bool](p, js) {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %v waiting for %s (%s); outputs:\n%s", timeout, what, js, evalJS[string](p, jsOutputs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p page) screenshot(dir, name string) {
	p.t.Helper()
	png := func() []byte {
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG (below 100: JPEG)
		if err != nil {
			p.t.Fatalf("screenshot: %v", err)
		}
		return b
	}()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// pressEnter presses Enter as a keyboard does: keyDown (which Notebook's raw input handles) and
// keyUp.
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		p := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			Text: "\r", UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
			return err
		}
		p.Type, p.Text, p.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, p)
		return err
	})
}

const (
	// jsOutputs is every cell's outputs, for failure messages.
	jsOutputs = `JSON.stringify(Jupyter.notebook.get_cells().map(c => c.output_area.outputs), null, 1)`
	// jsLoopOut is the loop cell's output element.
	jsLoopOut = `Jupyter.notebook.get_cell(2).output_area.element[0]`
	// jsInputBox: Notebook 6's raw input element is in the loop cell's output.
	jsInputBox = `!!` + jsLoopOut + `.querySelector('input.raw_input')`
)

// jsDone reports whether cell i has run: its prompt number set and the kernel idle.
func jsDone(i int) string {
	return fmt.Sprintf(`typeof Jupyter.notebook.get_cell(%d).input_prompt_number === "number" && !Jupyter.notebook.kernel_busy`, i)
}

// loopInBrowser opens the notebook in Jupyter Notebook in headless Chromium and chats once.
func loopInBrowser(t *testing.T, chromium string, nb []byte, cellTimeout time.Duration) {
	shots := browsertest.ScreenshotDir(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loop.ipynb"), nb, 0o644); err != nil {
		t.Fatal(err)
	}
	var tok [12]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	base := startJupyter(t, dir, token)

	ctx, cancel := context.WithTimeout(context.Background(), 3*cellTimeout)
	defer cancel()
	tab := browsertest.Start(t, ctx, chromium, chromedp.WindowSize(1200, 1400))
	p := page{t: t, ctx: tab}
	p.do(chromedp.Navigate(base + "/notebooks/loop.ipynb?token=" + token))
	p.wait(`!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`,
		"the kernel to connect", 60*time.Second)
	if got := evalJS[string](p, `Jupyter.notebook.kernel.name`); got != kernelName {
		t.Fatalf("the notebook runs kernel %q, want %q", got, kernelName)
	}

	// The setup cell and the declaration.
	for i := range 2 {
		start := time.Now()
		evalJS[bool](p, fmt.Sprintf(`Jupyter.notebook.execute_cells([%d]), true`, i))
		p.wait(jsDone(i), fmt.Sprintf("cell %d to finish", i), cellTimeout)
		t.Logf("cell %d ran in %.1fs", i, time.Since(start).Seconds())
	}
	outs := evalJS[string](p, `JSON.stringify(Jupyter.notebook.get_cell(0).output_area.outputs.concat(Jupyter.notebook.get_cell(1).output_area.outputs))`)
	if strings.Contains(outs, `"output_type":"error"`) || strings.Contains(outs, "panic") {
		t.Fatalf("the setup cells failed: %s", outs)
	}
	if !strings.Contains(outs, "chat loop source offline") {
		t.Fatalf("the chat is not on the offline mirror model: %s", outs)
	}

	// The loop: it must ask in Notebook's input box.
	start := time.Now()
	evalJS[bool](p, `Jupyter.notebook.execute_cells([2]), true`)
	p.wait(jsInputBox+` || `+jsDone(2), "the loop's input box", cellTimeout)
	if !evalJS[bool](p, jsInputBox) {
		t.Fatalf("the loop ended without asking for input; outputs:\n%s", evalJS[string](p, jsOutputs))
	}
	t.Logf("the input box appeared %.1fs after the loop cell started", time.Since(start).Seconds())
	if out := evalJS[string](p, jsLoopOut+`.innerText`); strings.Contains(out, "Loop") {
		t.Errorf("the loop said it cannot ask, yet asked: %q", out)
	}

	// Record the output's text at every change while the reply comes in: its length, and whether
	// an input box is shown.
	evalJS[bool](p, `(() => { const out = `+jsLoopOut+`; window.samples = [];
	  new MutationObserver(() => window.samples.push({len: out.innerText.length, box: !!out.querySelector('input.raw_input'),
	    reply: out.innerText.includes('鏡像模型')}))
	    .observe(out, {childList: true, subtree: true, characterData: true}); return true; })()`)
	p.do(chromedp.SendKeys(chromedp.CSS("input.raw_input"), loopQuestion))
	if v := evalJS[string](p, `document.querySelector('input.raw_input').value`); v != loopQuestion {
		t.Fatalf("the input box holds %q after typing, want %q", v, loopQuestion)
	}
	p.screenshot(shots, "jupyter-loop-asking.png")
	p.do(pressEnter())
	asked := time.Now()
	// The reply, then the next input box.
	p.wait(jsInputBox+` || `+jsDone(2), "the reply and the next input box", 60*time.Second)
	if !evalJS[bool](p, jsInputBox) {
		t.Fatalf("the loop ended after one question; outputs:\n%s", evalJS[string](p, jsOutputs))
	}
	t.Logf("reply shown and next input box %.1fs after Enter", time.Since(asked).Seconds())
	type sample struct {
		Len   int  `json:"len"`
		Box   bool `json:"box"`
		Reply bool `json:"reply"`
	}
	samples := evalJS[[]sample](p, `window.samples`)
	// While the reply streamed (its header shown, no input box yet), the text grew in steps.
	var lens []int
	for _, s := range samples {
		if s.Box {
			break
		}
		if s.Reply && (len(lens) == 0 || s.Len > lens[len(lens)-1]) {
			lens = append(lens, s.Len)
		}
	}
	t.Logf("%d changes of the output while the reply came in; the reply's text grew in %d steps: %v", len(samples), len(lens), lens)
	if len(lens) < 3 {
		t.Errorf("the reply did not stream into the output: it grew in %d steps (%v)", len(lens), lens)
	}
	text := evalJS[string](p, jsLoopOut+`.innerText`)
	if !strings.Contains(text, ">>> "+loopQuestion) {
		t.Errorf("the question is not echoed after the prompt: %q", text)
	}
	if !strings.Contains(text, "“"+loopQuestion+"”") || !strings.Contains(text, "鏡像模型") {
		t.Errorf("the mirror's reply does not quote the question: %q", text)
	}

	// An empty line ends the loop and the cell.
	p.do(chromedp.Focus(chromedp.CSS("input.raw_input")), pressEnter())
	p.wait(jsDone(2), "the loop cell to finish after an empty line", 30*time.Second)
	if evalJS[bool](p, jsInputBox) {
		t.Error("an input box is still shown after the loop ended")
	}
	n := evalJS[int](p, `Jupyter.notebook.get_cell(2).input_prompt_number`)
	outs = evalJS[string](p, `JSON.stringify(Jupyter.notebook.get_cell(2).output_area.outputs)`)
	if strings.Contains(outs, `"output_type":"error"`) || strings.Contains(outs, "panic") || strings.Contains(outs, "goroutine ") {
		t.Errorf("the loop cell failed: %s", outs)
	}
	if got := strings.Count(outs, `>>> `); got != 2 {
		t.Errorf("the loop asked %d times, want 2 (the question, then the empty line): %s", got, outs)
	}
	t.Logf("the loop cell finished with prompt number %d, kernel idle, %.1fs after it started", n, time.Since(start).Seconds())
	p.screenshot(shots, "jupyter-loop-done.png")
}
