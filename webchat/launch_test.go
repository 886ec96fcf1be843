package webchat

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
)

func TestAttended(t *testing.T) {
	tx := launchTexts["en"]
	for _, tc := range []struct {
		name     string
		notebook bool
		env      string
		kind     kernelenv.Kind
		want     bool
		why      string
	}{
		{"a program", false, "0", kernelenv.KindBatch, true, ""},
		{"Jupyter", true, "", kernelenv.KindInteractive, true, ""},
		{"nbconvert", true, "", kernelenv.KindBatch, false, "nbconvert"},
		{"a jupyter_client script", true, "", kernelenv.KindUnknown, false, "GONBCHAT_INTERACTIVE=1"},
		{"told there is a person", true, "1", kernelenv.KindUnknown, true, ""},
		{"told there is nobody", true, "0", kernelenv.KindInteractive, false, "GONBCHAT_INTERACTIVE=0"},
	} {
		env := launchEnv{notebook: tc.notebook, getenv: func(k string) string {
			if k == EnvInteractive {
				return tc.env
			}
			return ""
		}, frontend: func() kernelenv.Kind { return tc.kind }}
		got, why := attended(env, tx)
		if got != tc.want || !strings.Contains(why, tc.why) || (tc.want && why != "") {
			t.Errorf("%s: attended = %v, %q", tc.name, got, why)
		}
	}
}

// syncBuffer is an io.Writer that tests may read while Launch writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var pageURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)

// waitURL waits for Launch to print the page's URL.
func waitURL(t *testing.T, out *syncBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if u := pageURL.FindString(out.String()); u != "" {
			return u
		}
		select {
		case err := <-done:
			t.Fatalf("Launch returned %v before serving; output:\n%s", err, out)
		case <-deadline:
			t.Fatalf("no URL; output:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func refused(url string) bool {
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
}

// In a notebook with nobody at it, Launch checks the page, stops at once, and returns; the
// bot's port is remembered in its state directory under $GONB_TMP_DIR.
func TestLaunchUnattended(t *testing.T) {
	tmp := t.TempDir()
	env := launchEnv{notebook: true, out: io.Discard, errOut: io.Discard, frontend: func() kernelenv.Kind { return kernelenv.KindBatch },
		getenv: func(k string) string {
			if k == "GONB_TMP_DIR" {
				return tmp
			}
			return ""
		}}
	done := make(chan error, 1)
	go func() { done <- launch(context.Background(), testPersona, &fakeModel{}, env, WithLogger(nil)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Launch did not return in a batch run")
	}
	ports, _ := filepath.Glob(filepath.Join(tmp, ".gonbchat", "webchat", "*", portFile))
	if len(ports) != 1 {
		t.Fatalf("port files: %v", ports)
	}
	b, _ := os.ReadFile(ports[0])
	if u := "http://127.0.0.1:" + strings.TrimSpace(string(b)) + "/"; !refused(u) {
		t.Errorf("%s still answers after Launch returned", u)
	}
}

// A stop (the context, as the interrupt does) ends Launch; WithServeFor ends it on time.
func TestLaunchStops(t *testing.T) {
	for _, byTime := range []bool{false, true} {
		out, errOut := &syncBuffer{}, &syncBuffer{}
		env := launchEnv{out: out, errOut: errOut, getenv: func(string) string { return "" }, frontend: func() kernelenv.Kind { return kernelenv.KindUnknown }}
		ctx, cancel := context.WithCancel(context.Background())
		opts := []Option{WithLogger(nil), WithLanguage("zh-TW")}
		if byTime {
			opts = append(opts, WithServeFor(300*time.Millisecond))
		}
		done := make(chan error, 1)
		go func() { done <- launch(ctx, testPersona, &fakeModel{reply: says("好運！", 2)}, env, opts...) }()
		url := waitURL(t, out, done)
		v := newVisitor(t, strings.TrimSuffix(url, "/"))
		if page := v.page(); !strings.Contains(page, ">送出</button>") {
			t.Errorf("the page is not in zh-TW")
		}
		if r := v.send("下雨了"); r.done.HTML != "<p>好運！</p>\n" {
			t.Errorf("reply: %+v", r.done)
		}
		if !byTime {
			cancel()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Launch did not stop")
		}
		cancel()
		want := "已停止。"
		if byTime {
			want = "開了 300ms 之後停止了"
		}
		if !strings.Contains(out.String(), want) || errOut.String() != "" || !refused(url) {
			t.Errorf("after the stop (by time: %v): output %q, errors %q, refused %v", byTime, out, errOut, refused(url))
		}
	}
}

// What a notebook shows: the link, and the page in an iframe that Jupyter on localhost may
// embed.
func TestLaunchHTML(t *testing.T) {
	s := quietServer(t, testPersona, &fakeModel{}, WithFrameAncestors(frameOrigins...))
	env := launchEnv{getenv: func(k string) string {
		if k == "JUPYTERHUB_API_URL" {
			return "http://hub.example:8081/hub/api"
		}
		return ""
	}}
	h := s.launchHTML("http://127.0.0.1:4321/", 4321, launchTexts["zh-TW"], env)
	for _, want := range []string{`<iframe id="gonbchat-webchat-`, `src="http://127.0.0.1:4321/"`, `href="http://127.0.0.1:4321/"`,
		"員瑛式思考生成器", "按工具列的 ■", "JupyterHub", `'http://localhost:4321/'`} {
		if !strings.Contains(h, want) {
			t.Errorf("the cell's HTML lacks %s:\n%s", want, h)
		}
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	res, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*") || res.Header.Get("X-Frame-Options") != "" {
		t.Errorf("Jupyter cannot embed the page: CSP %q, X-Frame-Options %q", csp, res.Header.Get("X-Frame-Options"))
	}
}

// The launch child: Launch in a process of its own, as a notebook cell runs it (the parent
// sends it SIGINT, as GoNB does for the stop button).
func TestLaunchChild(t *testing.T) {
	dir := os.Getenv("WEBCHAT_LAUNCH_CHILD")
	if dir == "" {
		t.Skip("run by TestLaunchInterrupt")
	}
	m := chatcell.NewEndpoint(chatcell.WithOffline(), chatcell.WithOfflinePace(40*time.Millisecond))
	if err := Launch(testPersona, m, WithStateDir(dir), WithLanguage("zh-TW")); err != nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// The stop button: SIGINT ends Launch gracefully, the reply in progress is kept (cut short)
// with the rest of the visitor's conversation, and the next run on the same port shows it all.
func TestLaunchInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	start := func() (*exec.Cmd, *syncBuffer, string) {
		out := &syncBuffer{}
		cmd := exec.Command(os.Args[0], "-test.run=^TestLaunchChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WEBCHAT_LAUNCH_CHILD="+dir, "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "GONB_PIPE=")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out, waitURL(t, out, nil)
	}
	stop := func(cmd *exec.Cmd, out *syncBuffer) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGINT)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatalf("the child ended with %v after SIGINT:\n%s", err, out)
			}
		case <-time.After(5 * time.Second): // GoNB kills the cell 5 s after the interrupt
			cmd.Process.Kill()
			t.Fatalf("the child did not stop within 5 s of SIGINT:\n%s", out)
		}
		if !strings.Contains(out.String(), "已停止") || strings.Contains(out.String(), "✖") {
			t.Errorf("the child did not say it stopped, or showed an error:\n%s", out)
		}
	}

	cmd, out, url := start()
	base := strings.TrimSuffix(url, "/")
	v := newVisitor(t, base)
	v.page()
	if r := v.send("今天忘記帶傘"); r.status != 200 || r.done.Partial || !strings.Contains(r.done.HTML, "今天忘記帶傘") {
		t.Fatalf("first reply: %d %+v", r.status, r.done)
	}
	// The second reply streams slowly; the stop button comes in the middle of it.
	res := v.post("/api/send", map[string]string{"text": "沒趕上公車"})
	br := bufio.NewReader(res.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("no progress before the interrupt: %v", err)
	}
	stop(cmd, out)
	rest, _ := io.ReadAll(br)
	res.Body.Close()
	if !bytes.Contains(rest, []byte(`"partial":true`)) || !bytes.Contains(rest, []byte("回覆不完整：網頁停止了。")) {
		t.Errorf("the reply in progress did not end as cut short: %s", rest)
	}
	if !refused(url) {
		t.Fatal("the page still answers after SIGINT")
	}

	cmd2, out2, url2 := start()
	defer func() {
		if cmd2.ProcessState == nil {
			stop(cmd2, out2)
		}
	}()
	if url2 != url {
		t.Errorf("the second run serves %s, not the bot's port %s", url2, url)
	}
	log := v.logHTML()
	for _, want := range []string{"今天忘記帶傘", "沒趕上公車", `class="msg bot partial"`, "回覆不完整：網頁停止了。"} {
		if !strings.Contains(log, want) {
			t.Errorf("after the restart the conversation lacks %s:\n%s", want, log)
		}
	}
	if count(log, `class="msg user"`) != 2 {
		t.Errorf("after the restart: %d questions", count(log, `class="msg user"`))
	}
	stop(cmd2, out2)
}
