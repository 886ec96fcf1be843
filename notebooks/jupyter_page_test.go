//go:build unix

package notebooks_test

import (
	"github.com/gonbchat/gonbchat/internal/browsertest"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageNotebook is lesson 004's page cell on its own, with the offline model paced so that a
// reply streams (a provider without its key, as a student without one runs it: the cell shows
// the offline notice, then the page): a setup cell (the module at an absolute path: the notebook lives in a
// temporary directory) and the page cell.
func pageNotebook(root string) map[string]any {
	code := func(src string) map[string]any {
		return map[string]any{"cell_type": "code", "execution_count": nil, "metadata": map[string]any{}, "outputs": []any{}, "source": src}
	}
	return map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"display_name": "Go (gonb)", "language": "go", "name": "gonb"}},
		"cells": []any{
			code("!*go mod edit -require=github.com/gonbchat/gonbchat@v0.0.0 -replace=github.com/gonbchat/gonbchat=" + root),
			code(`import (
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/persona"
	"github.com/gonbchat/gonbchat/webchat"
)

%%
lucky := persona.Persona{Title: "員瑛式思考生成器", Character: "請用員瑛式思考。", Description: "嗨！有什麼不順的事？"}
webchat.Launch(lucky, chatcell.NewEndpoint(chatcell.WithProvider("groq"), chatcell.WithOfflinePace(20*time.Millisecond)), webchat.WithLanguage("zh-TW"))`),
		},
	}
}

// TestPageInJupyter runs the page cell in a real Jupyter Notebook opened in headless Chromium
// at http://localhost:PORT, as a student does: the page appears in the cell's iframe (Jupyter
// may frame it), as localhost so that its cookie is a same-site one; a question typed in the
// iframe gets a streamed reply; the stop button (the kernel's interrupt) stops the page and the
// cell says so; running the cell again serves the same conversation on the same port.
func TestPageInJupyter(t *testing.T) {
	requireKernel(t)
	chromium := browsertest.ChromiumPath()
	jupyter, err := exec.LookPath("jupyter-notebook")
	if chromium == "" || err != nil {
		t.Skip("needs chromium and jupyter-notebook (install.sh installs both)")
	}
	root := filepath.Dir(mustAbs(t, "."))
	dir := t.TempDir()
	b, _ := json.Marshal(pageNotebook(root))
	if err := os.WriteFile(filepath.Join(dir, "page.ipynb"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	port, token := freePort(t), fmt.Sprintf("t%d", time.Now().UnixNano())
	cmd := exec.Command(jupyter, "--no-browser", "--allow-root", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--NotebookApp.token="+token, "--notebook-dir="+dir)
	// As a student's: no key, no override of what gonbchat guesses from the Jupyter server.
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "GROQ_API_KEY=", "GONBCHAT_INTERACTIVE=", "GONBCHAT_LANG=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.Create(filepath.Join(dir, "jupyter.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the server and the kernels it started
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "jupyter.log"))
			t.Logf("jupyter.log:\n%s", b)
		}
	}()
	base := fmt.Sprintf("http://localhost:%d", port)
	for deadline := time.Now().Add(60 * time.Second); ; {
		res, err := http.Get(base + "/api/status?token=" + token)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jupyter did not start: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	page := browsertest.Start(t, ctx, chromium, chromedp.WindowSize(1100, 1300))
	do := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(page, timeout)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	js := func(expr string) string {
		t.Helper()
		c, cancel := context.WithTimeout(page, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	wait := func(what, cond string, timeout time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(timeout); js(`String(!!(`+cond+`))`) != "true"; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; the cell shows:\n%s", what, js(`Jupyter.notebook.get_cell(1).output_area.element[0].innerText`))
			}
		}
	}
	cellDone := func(i int) string {
		return fmt.Sprintf(`typeof Jupyter.notebook.get_cell(%d).input_prompt_number === "number"`, i)
	}

	do("opening the notebook", time.Minute, chromedp.Navigate(base+"/notebooks/page.ipynb?token="+token))
	wait("the kernel", `window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`, time.Minute)
	js(`Jupyter.notebook.execute_cells([0]), ""`)
	wait("the setup cell", cellDone(0), 2*time.Minute)

	// run starts the page cell and returns the iframe's address once its page shows the greeting.
	run := func() string {
		t.Helper()
		js(`Jupyter.notebook.execute_cells([1]), ""`)
		wait("the page in the cell", `document.querySelector('.gonbchat-webchat iframe')`, 3*time.Minute)
		src := js(`document.querySelector('.gonbchat-webchat iframe').src`)
		if !strings.HasPrefix(src, "http://localhost:") {
			t.Errorf("Jupyter is on localhost, the iframe on %s: its cookie would be a third-party one", src)
		}
		// The iframe's page: its node is looked up afresh each time (the cell's script may
		// have replaced the element).
		for deadline := time.Now().Add(time.Minute); ; {
			c, cancel := context.WithTimeout(page, 3*time.Second)
			err := chromedp.Do(c, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(".gonbchat-webchat iframe")))
				if err != nil {
					return err
				}
				return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".msg.bot.greeting"), chromedp.FromNode(nodes[0])))
			}))
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the iframe shows no greeting: %v", err)
			}
		}
		return src
	}
	inFrame := func(what string, f func(frame *chromedp.Node) chromedp.Action[chromedp.Void]) {
		t.Helper()
		do(what, time.Minute, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(".gonbchat-webchat iframe")))
			if err != nil {
				return err
			}
			return chromedp.Do(ctx, f(nodes[0]))
		}))
	}
	frameText := func(sel string) string {
		t.Helper()
		var text string
		inFrame("reading "+sel, func(frame *chromedp.Node) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				var err error
				text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.FromNode(frame)))
				return err
			})
		})
		return text
	}
	stop := func() string {
		t.Helper()
		js(`Jupyter.notebook.kernel.interrupt(), ""`)
		wait("the cell to end after the stop button", cellDone(1), 30*time.Second)
		return js(`Jupyter.notebook.get_cell(1).output_area.element[0].innerText`)
	}

	first := run()
	if got := frameText("#send"); got != "送出" {
		t.Errorf("the Send button says %q", got)
	}
	inFrame("asking in the iframe", func(frame *chromedp.Node) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			return chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS("#input"), "今天出門忘記帶傘", chromedp.FromNode(frame)),
				chromedp.Click(chromedp.CSS("#send"), chromedp.FromNode(frame)),
				chromedp.WaitVisible(chromedp.CSS(".msg.bot:not(.greeting):not(.streaming) .md"), chromedp.FromNode(frame)))
		})
	})
	if reply := frameText(".msg.bot:not(.greeting) .md"); !strings.Contains(reply, "今天出門忘記帶傘") {
		t.Errorf("the reply in the iframe: %q", reply)
	}
	browsertest.Screenshot(t, page, browsertest.ScreenshotDir(t), "webchat-in-jupyter.png")
	out := stop()
	// The notice and the page in one display stream (kernel mode: both through the helper).
	if !strings.Contains(out, "GROQ_API_KEY") || strings.Contains(out, "gonbui") {
		t.Errorf("the cell lacks the offline notice, or says it displays two ways:\n%s", out)
	}
	if !strings.Contains(out, "已停止；對話都保留著") || strings.Contains(out, "✖") || js(`String(!!document.querySelector('.gonbchat-webchat iframe'))`) != "false" {
		t.Errorf("after the stop button the cell shows:\n%s", out)
	}

	// Again: the same port, so the visitor's cookie finds their conversation.
	second := run()
	if second != first {
		t.Errorf("the second run serves %s, the first %s", second, first)
	}
	if got := frameText(".msg.user .text"); got != "今天出門忘記帶傘" {
		t.Errorf("after running the cell again, the conversation shows %q", got)
	}
	stop()
}
