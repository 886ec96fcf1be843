package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func buildCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gonbchat")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// serving is a running `gonbchat serve`.
type serving struct {
	t   *testing.T
	cmd *exec.Cmd
	out *lockedBuffer
}

func startServe(t *testing.T, bin string, args ...string) (*serving, string) {
	t.Helper()
	return startServeEnv(t, bin, nil, args...)
}

// startServeEnv is startServe with env added to the command's (no key, no base URL) environment.
func startServeEnv(t *testing.T, bin string, env []string, args ...string) (*serving, string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "GROQ_API_KEY=", "GONBCHAT_LANG="), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serving{t: t, cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	url := regexp.MustCompile(`http://[^\s（]+`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "Ctrl-C") { // the line the command prints, not the log's
				return s, url.FindString(line)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gonbchat serve printed no URL:\n%s", out)
	return nil, ""
}

// interrupt sends Ctrl-C and waits for a graceful end.
func (s *serving) interrupt() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Fatalf("gonbchat serve ended with %v after Ctrl-C:\n%s", err, s.out)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatalf("gonbchat serve did not stop after Ctrl-C:\n%s", s.out)
	}
}

var csrfMeta = regexp.MustCompile(`<meta name="gonbchat-csrf" content="([^"]+)">`)

// The persona bot's page from a terminal, on the offline model: the page in the chosen
// language, a streamed reply, and a graceful Ctrl-C that keeps the conversation.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildCommand(t)
	state := t.TempDir()
	s, url := startServe(t, bin, "--persona", "../../persona/testdata/lucky_vicky.yaml", "--provider", "groq",
		"--addr", "127.0.0.1:0", "--lang", "zh-TW", "--state", state)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("URL %s is not on loopback", url)
	}
	c, page, csrf := visit(t, url)
	for _, want := range []string{"<title>員瑛式思考生成器</title>", ">送出</button>", ">停止</button>", "今天出門忘記帶傘"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	progress, html, errLine := send(t, c, url, csrf, "早上差一秒沒趕上公車")
	// The offline mirror model shows what it received: the persona and the question.
	if errLine != "" || !strings.Contains(html, "早上差一秒沒趕上公車") || progress < 2 {
		t.Fatalf("the reply did not stream: %d progress events, final %q / %q", progress, html, errLine)
	}
	s.interrupt()
	if out := s.out.String(); !strings.Contains(out, "已停止") || strings.Contains(out, "panic") {
		t.Errorf("after Ctrl-C:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(state, "*.hist"))
	if len(files) != 1 {
		t.Errorf("the conversation was not kept in --state: %v", files)
	}
}

// --share listens on every interface and prints a URL with a token; without it, a visitor is
// refused.
func TestServeShare(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildCommand(t)
	s, url := startServe(t, bin, "--persona", "../../persona/testdata/lucky_vicky.json", "--addr", "127.0.0.1:0", "--share")
	m := regexp.MustCompile(`^http://([^/]+):(\d+)/\?token=([A-Za-z0-9_-]{16,})$`).FindStringSubmatch(url)
	if m == nil {
		t.Fatalf("shared URL %q has no token", url)
	}
	local := "http://127.0.0.1:" + m[2] + "/"
	res, err := http.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("without the token: %s", res.Status)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err = c.Get(local + "?token=" + m[3])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "員瑛式思考生成器") {
		t.Errorf("with the token: %s", res.Status)
	}
	s.interrupt()
}

func TestServeUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildCommand(t)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := run(); code != 2 || !strings.Contains(out, "--persona is required") {
		t.Errorf("no persona: %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("title: x\ncharacter: [1, 2]\n"), 0o644)
	if code, out := run("--persona", bad, "--addr", "127.0.0.1:0"); code != 1 || !strings.Contains(out, "bad.yaml") || !strings.Contains(out, "character") {
		t.Errorf("bad persona: %d %s", code, out)
	}
	if code, out := run("--persona", "../../persona/testdata/lucky_vicky.yaml", "--provider", "nosuch"); code != 1 || !strings.Contains(out, "nosuch") {
		t.Errorf("unknown provider: %d %s", code, out)
	}
}

// An address beyond loopback without --share is refused before anything listens, with the
// flag that does it (not the Go option a library user would pass).
func TestServeBeyondLoopbackNeedsShare(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		var out bytes.Buffer
		code := serveCmd([]string{"--persona", "../../persona/testdata/lucky_vicky.yaml", "--addr", addr}, &out)
		if code != 2 || !strings.Contains(out.String(), "--share") || strings.Contains(out.String(), "WithShareToken") {
			t.Errorf("--addr %s without --share: %d %s", addr, code, out.String())
		}
	}
	for _, addr := range []string{"127.0.0.1:7860", "localhost:7860", "[::1]:7860"} {
		if !loopback(addr) {
			t.Errorf("%s is loopback", addr)
		}
	}
}

// ccOnlyServer is a server of one's own with only Chat Completions (as many local servers
// are): the Responses API is a 404, as such servers answer a path they do not have.
func ccOnlyServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"Not Found","type":"not_found","code":"not_found"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{"完全是", " Lucky", " Vicky 呀！"} {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", d)
		}
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// sendOnce asks one question as a new visitor and returns the reply's final event.
func sendOnce(t *testing.T, url, q string) (html, errLine string) {
	t.Helper()
	c, _, csrf := visit(t, url)
	_, html, errLine = send(t, c, url, csrf, q)
	return html, errLine
}

// visit opens the page as a new visitor: the visitor's client (it keeps the cookie), the page
// and its CSRF token.
func visit(t *testing.T, url string) (*http.Client, []byte, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return c, page, string(m[1])
}

// send posts q and reads the streamed answer: the progress events before the final one, and
// the final event's HTML and error line.
func send(t *testing.T, c *http.Client, url, csrf, q string) (progress int, html, errLine string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": q})
	req, _ := http.NewRequest("POST", url+"api/send", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gonbchat-Csrf", csrf)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Fatalf("send: %s %s", res.Status, ct)
	}
	var done struct {
		Done  bool
		HTML  string
		Error string
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"done":true`)) {
			json.Unmarshal(sc.Bytes(), &done)
		} else {
			progress++
		}
	}
	if !done.Done {
		t.Fatalf("send: %s, no final event", res.Status)
	}
	return progress, done.HTML, done.Error
}

// OPENAI_BASE_URL at a server with only Chat Completions: the Responses API's 404 says, in the
// bot's bubble, to use --completions; with it the bot answers.
func TestServeCompletions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildCommand(t)
	env := []string{"OPENAI_API_KEY=sk-own-server-0123456789abcdef", "OPENAI_BASE_URL=" + ccOnlyServer(t)}
	serve := func(args ...string) (*serving, string) {
		return startServeEnv(t, bin, env, append([]string{"--persona", "../../persona/testdata/lucky_vicky.yaml", "--addr", "127.0.0.1:0"}, args...)...)
	}
	s, url := serve()
	if _, line := sendOnce(t, url, "今天下雨"); !strings.Contains(line, "404") || !strings.Contains(line, "gonbchat serve --completions") {
		t.Errorf("the 404's line: %q", line)
	}
	s.interrupt()
	s, url = serve("--completions")
	if html, line := sendOnce(t, url, "今天下雨"); line != "" || !strings.Contains(html, "完全是 Lucky Vicky 呀！") {
		t.Errorf("with --completions: %q %q", html, line)
	}
	s.interrupt()
}
