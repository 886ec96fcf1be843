package webchat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/gonbchat/gonbchat/chatcell"
	_ "github.com/gonbchat/gonbchat/chatcell/completions" // providers with only Chat Completions (groq, gemini…) work by themselves
	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/kernel"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/gonbchat/gonbchat/persona"
)

// WithAddress sets where Launch listens (host:port). The default is 127.0.0.1 on the port the
// same bot used last time in this kernel (so that a visitor's cookie still finds their
// conversation when the cell runs again), else a free one; with WithShareToken, every
// interface. The Server's own Start and ListenAndServe take their address as an argument.
func WithAddress(addr string) Option { return func(c *config) { c.addr = addr } }

// WithServeFor makes Launch stop the page after d (0, the default: when stopped). It suits a
// demonstration with a time limit, or a script that checks the page.
func WithServeFor(d time.Duration) Option { return func(c *config) { c.serveFor = d } }

// EnvInteractive overrides whether a notebook cell has a person at it, as it does for
// chatcell's Loop: "1" (Launch serves until the cell is stopped) or "0" (Launch checks the page
// and stops at once).
const EnvInteractive = chatcell.EnvInteractive

// Launch serves persona p, answered by m, as a web page, from a notebook cell or a program, and
// returns when the page stops: the notebook's stop button (GoNB sends the cell an interrupt),
// Ctrl-C, SIGTERM, or WithServeFor's time. Conversations in progress are cut short and kept.
// It is lesson 004's iface.launch(debug=True):
//
//	webchat.Launch(lucky, chatcell.NewEndpoint(chatcell.WithProvider("groq")))
//
// In a GoNB notebook it shows the page's link and the page itself in the cell (an iframe;
// Jupyter's pages on localhost and 127.0.0.1 may embed it), and keeps each visitor's
// conversation under $GONB_TMP_DIR, so that running the cell again continues it. Where nobody
// can press stop (nbconvert, papermill, a jupyter_client script: the rule of chatcell's Loop,
// with $GONBCHAT_INTERACTIVE to override it), it checks that the page answers, stops, and says
// why in one line, so that the notebook runs to its end. Outside a notebook it prints the link
// and serves until interrupted.
//
// Errors (a bad persona, an address in use, a model's bad options) are shown as one line and
// returned. A chatcell Endpoint's errors appear in the bot's bubble as chatcell's line
// (chatcell.Describe) unless WithDescribe says otherwise. The page's words follow WithLanguage,
// else $GONBCHAT_LANG.
func Launch(p persona.Persona, m Model, opts ...Option) error {
	// First of all: a stop that comes while the page starts must stop it, not kill the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// In kernel mode a stop during a model call would otherwise end the cell as soon as the call
	// returned, before the page is closed, the conversations saved and the last line shown.
	defer kernel.HandleInterrupts()()
	return launch(ctx, p, m, launchEnv{
		notebook: gonbui.IsNotebook, getenv: os.Getenv, frontend: kernelenv.Frontend, out: os.Stdout, errOut: os.Stderr,
	}, opts...)
}

// launchEnv is what Launch learns from its surroundings (tests give their own).
type launchEnv struct {
	notebook bool
	getenv   func(string) string
	frontend func() kernelenv.Kind
	out      io.Writer // plain lines outside a notebook
	errOut   io.Writer // error lines outside a notebook
}

// launchText is what Launch says, in one language.
type launchText struct {
	Serving, ServingPlain, Remote, Stopped, StoppedKept, StoppedSaved, ServedFor, Batch, CheckFailed string
	WhyBatch, WhyUnknown, WhyOverride                                                                string
}

var launchTexts = map[string]*launchText{
	"en": {
		Serving:      "The page is open below, and at this link (it works from this computer). Stop the cell (■) to end it; conversations are kept.",
		ServingPlain: "%s: %s (Ctrl-C stops it)",
		Remote:       "On a remote JupyterHub this link points to the Hub's machine: your browser may not reach it.",
		Stopped:      "The page %s has stopped.",
		StoppedKept:  "The page %s has stopped; conversations are kept: run the cell again to continue them.",
		StoppedSaved: "The page %s has stopped; conversations are kept in %s.",
		ServedFor:    "The page %s stopped after %s (WithServeFor).",
		Batch:        "The page answered at %s, and stopped at once: %s. Open the notebook in Jupyter to chat.",
		CheckFailed:  "The page did not answer at %s: %v",
		WhyBatch:     "this notebook runs with nobody at it (nbconvert, papermill or a similar runner)",
		WhyUnknown:   "nobody can stop the cell here (the kernel was not started by Jupyter Notebook or Lab, JupyterHub or VS Code; set GONBCHAT_INTERACTIVE=1 if a person can)",
		WhyOverride:  "the page is switched off by %s",
	},
	"zh-TW": {
		Serving:      "網頁已開啟：就在下方，也可以用這個連結開啟（在這台電腦上才連得到）。按工具列的 ■ 中斷這一格，網頁就會停止；對話會保留。",
		ServingPlain: "%s：%s（按 Ctrl-C 停止）",
		Remote:       "在遠端的 JupyterHub 上，這個連結指向 Hub 那台機器：你的瀏覽器可能連不到。",
		Stopped:      "網頁 %s 已停止。",
		StoppedKept:  "網頁 %s 已停止；對話都保留著，再執行這一格就能接著聊。",
		StoppedSaved: "網頁 %s 已停止；對話保存在 %s。",
		ServedFor:    "網頁 %s 開了 %s 之後停止了（WithServeFor）。",
		Batch:        "網頁在 %s 確認可以開啟，隨即停止：%s。請在 Jupyter 中開啟筆記本來聊天。",
		CheckFailed:  "網頁在 %s 沒有回應：%v",
		WhyBatch:     "這本筆記本是在沒有人操作的情況下執行的（nbconvert、papermill 或類似工具）",
		WhyUnknown:   "這裡沒有人能中斷這一格（kernel 不是由 Jupyter Notebook、Lab、JupyterHub 或 VS Code 啟動的；若有人在操作，請設定 GONBCHAT_INTERACTIVE=1）",
		WhyOverride:  "%s 關掉了網頁",
	},
	"zh-CN": {
		Serving:      "网页已打开：就在下方，也可以用这个链接打开（在这台电脑上才连得到）。按工具栏的 ■ 中断这个单元格，网页就会停止；对话会保留。",
		ServingPlain: "%s：%s（按 Ctrl-C 停止）",
		Remote:       "在远程的 JupyterHub 上，这个链接指向 Hub 那台机器：你的浏览器可能连不到。",
		Stopped:      "网页 %s 已停止。",
		StoppedKept:  "网页 %s 已停止；对话都保留着，再运行这个单元格就能接着聊。",
		StoppedSaved: "网页 %s 已停止；对话保存在 %s。",
		ServedFor:    "网页 %s 开了 %s 之后停止了（WithServeFor）。",
		Batch:        "网页在 %s 确认可以打开，随即停止：%s。请在 Jupyter 中打开笔记本来聊天。",
		CheckFailed:  "网页在 %s 没有响应：%v",
		WhyBatch:     "这个笔记本是在无人操作的情况下运行的（nbconvert、papermill 或类似工具）",
		WhyUnknown:   "这里没有人能中断这个单元格（kernel 不是由 Jupyter Notebook、Lab、JupyterHub 或 VS Code 启动的；若有人在操作，请设置 GONBCHAT_INTERACTIVE=1）",
		WhyOverride:  "%s 关掉了网页",
	},
}

// attended reports whether a person can stop the cell (and use the page), and if not, why: the
// rule of chatcell's Loop. Outside a notebook a program serves until interrupted.
func attended(env launchEnv, tx *launchText) (bool, string) {
	if !env.notebook {
		return true, ""
	}
	switch v := env.getenv(EnvInteractive); strings.ToLower(v) {
	case "1", "true", "yes":
		return true, ""
	case "0", "false", "no":
		return false, fmt.Sprintf(tx.WhyOverride, EnvInteractive+"="+v)
	}
	switch env.frontend() {
	case kernelenv.KindInteractive:
		return true, ""
	case kernelenv.KindBatch:
		return false, tx.WhyBatch
	}
	return false, tx.WhyUnknown
}

// frameOrigins are the pages that may show the chat in an iframe: a Jupyter server on this
// machine, on any port.
var frameOrigins = []string{"http://localhost:*", "http://127.0.0.1:*", "https://localhost:*", "https://127.0.0.1:*"}

func launch(ctx context.Context, p persona.Persona, m Model, env launchEnv, opts ...Option) error {
	fail := func(err error) error {
		line := chatcell.Describe(err)
		if env.notebook {
			display.Error(line)
		} else {
			fmt.Fprintln(env.errOut, "✖ "+line)
		}
		return err
	}
	if e, ok := m.(interface{ Err() error }); ok && e.Err() != nil {
		return fail(e.Err())
	}
	// Launch's defaults first: the caller's options override them.
	base := []Option{WithDescribe(chatcell.Describe)}
	if env.notebook {
		// The bubble shows a model's errors; the cell's stderr gets only the server's own.
		base = append(base, WithFrameAncestors(frameOrigins...),
			WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
		if d := kernelenv.StateDirFrom(env.getenv); d != "" {
			sum := sha256.Sum256([]byte(p.Title))
			base = append(base, WithStateDir(filepath.Join(d, "webchat", hex.EncodeToString(sum[:8]))))
		}
	}
	s, err := New(p, m, append(base, opts...)...)
	if err != nil {
		return fail(err)
	}
	tx := launchTexts[s.lang]

	ln, err := s.launchListener()
	if err != nil {
		return fail(err)
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	// The server stops when Launch says so (below), after it has seen why.
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() { done <- s.serve(serveCtx, ln, ready) }()
	<-ready
	url := s.URL()
	s.rememberPort(ln.Addr())

	ok, why := attended(env, tx)
	if !ok {
		// Nobody can use the page or stop the cell: check that it answers, then stop.
		checkErr := checkPage(ctx, url, p.Title)
		cancel()
		<-done
		if checkErr != nil {
			return fail(fmt.Errorf(tx.CheckFailed, url, checkErr))
		}
		s.showStopped(env, url, fmt.Sprintf(tx.Batch, url, why))
		return nil
	}

	id := ""
	if env.notebook {
		id = "gonbchat-webchat-" + gonbui.UniqueID()
		// Through display, as chatcell's notices go: in kernel mode both reach GoNB by the
		// helper, in one display stream (two writers of a cell's pipe break it).
		display.HTML(id, s.launchHTML(url, port(ln.Addr()), tx, env), p.Title+": "+url)
	} else {
		fmt.Fprintf(env.out, tx.ServingPlain+"\n", p.Title, url)
	}

	var timeUp <-chan time.Time
	if d := s.cfg.serveFor; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeUp = t.C
	}
	var line string
	select {
	case <-ctx.Done(): // the stop button, Ctrl-C
		switch {
		case s.cfg.stateDir != "" && env.notebook:
			line = fmt.Sprintf(tx.StoppedKept, url)
		case s.cfg.stateDir != "":
			line = fmt.Sprintf(tx.StoppedSaved, url, s.cfg.stateDir)
		default:
			line = fmt.Sprintf(tx.Stopped, url)
		}
	case <-timeUp:
		line = fmt.Sprintf(tx.ServedFor, url, s.cfg.serveFor)
	case err := <-done: // the server failed
		if err == nil {
			err = errors.New("webchat: the server stopped by itself")
		}
		return fail(err)
	}
	cancel()
	err = <-done // graceful: replies in progress are cut short and saved
	if id != "" {
		display.HTML(id, stoppedHTML(p.Title, url), p.Title+": "+url)
	}
	s.showStopped(env, url, line)
	if err != nil {
		return fail(err)
	}
	return nil
}

// launchListener listens where Launch serves: WithAddress, else the port this bot had last
// time (kept in its state directory), else a free one.
func (s *Server) launchListener() (net.Listener, error) {
	if s.cfg.addr != "" {
		return s.listen(s.cfg.addr)
	}
	host := "127.0.0.1"
	if s.cfg.shareToken != "" {
		host = "" // every interface
	}
	if port := s.lastPort(); port != "" {
		if ln, err := s.listen(net.JoinHostPort(host, port)); err == nil {
			return ln, nil
		}
	}
	return s.listen(net.JoinHostPort(host, "0"))
}

const portFile = "launch-port"

func (s *Server) lastPort() string {
	if s.cfg.stateDir == "" {
		return ""
	}
	b, err := fsutil.ReadFile(filepath.Join(s.cfg.stateDir, portFile), 64)
	if err != nil {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 || n > 65535 {
		return ""
	}
	return strconv.Itoa(n)
}

func (s *Server) rememberPort(a net.Addr) {
	p := port(a)
	if p == 0 || s.cfg.stateDir == "" {
		return
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(s.cfg.stateDir, portFile), []byte(strconv.Itoa(p)+"\n"), 0o600); err != nil {
		s.log.Warn("webchat: remembering the port", "err", err)
	}
}

func port(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// checkPage fetches the page once, as a visitor's browser would.
func checkPage(ctx context.Context, url, title string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return errors.New(res.Status)
	}
	if !strings.Contains(string(b), html.EscapeString(title)) {
		return errors.New("the page does not show the bot's title")
	}
	return nil
}

// showStopped says the last line: in a notebook as a note, elsewhere on the output.
func (s *Server) showStopped(env launchEnv, url, line string) {
	if env.notebook {
		display.Info(line)
		return
	}
	fmt.Fprintln(env.out, line)
}

// launchHTML is the cell's output while the page serves: the link, a line on how to stop it,
// and the page in an iframe. Jupyter opened as localhost gets the page as localhost too (the
// script below), so that the page's cookie is a same-site one and the visitor keeps their
// conversation; the script replaces the iframe rather than its src, so that the page loads once.
func (s *Server) launchHTML(url string, port int, tx *launchText, env launchEnv) string {
	id := "gonbchat-webchat-" + gonbui.UniqueID()
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="gonbchat-webchat" style="margin:4px 0">`)
	fmt.Fprintf(&b, `<div style="margin-bottom:6px">💬 <b>%s</b>：<a id="%s-a" href="%s" target="_blank" rel="noopener">%s</a></div>`,
		html.EscapeString(s.p.Title), id, html.EscapeString(url), html.EscapeString(url))
	fmt.Fprintf(&b, `<div class="gonbchat-info" style="color:#888;font-size:smaller">%s</div>`, html.EscapeString(tx.Serving))
	if env.getenv("JUPYTERHUB_API_URL") != "" || env.getenv("JUPYTERHUB_SERVICE_PREFIX") != "" {
		fmt.Fprintf(&b, `<div class="gonbchat-info" style="color:#888;font-size:smaller">%s</div>`, html.EscapeString(tx.Remote))
	}
	fmt.Fprintf(&b, `<iframe id="%s" src="%s" title="%s" style="width:100%%;max-width:900px;height:620px;border:1px solid #ccc;border-radius:8px;margin-top:6px"></iframe>`,
		id, html.EscapeString(url), html.EscapeString(s.p.Title))
	if port > 0 && s.cfg.shareToken == "" {
		fmt.Fprintf(&b, `<script>(function(){var h=location.hostname;if(h!=='localhost')return;var u='http://localhost:%d/';`+
			`var f=document.getElementById('%s'),a=document.getElementById('%s-a');`+
			`if(f){var g=f.cloneNode(false);g.src=u;f.replaceWith(g);}if(a){a.href=u;a.textContent=u;}})();</script>`,
			port, id, id)
	}
	b.WriteString(`</div>`)
	return b.String()
}

// stoppedHTML replaces the iframe once the page has stopped.
func stoppedHTML(title, url string) string {
	return fmt.Sprintf(`<div class="gonbchat-webchat">💬 <b>%s</b>：<s style="color:#888">%s</s></div>`,
		html.EscapeString(title), html.EscapeString(url))
}
