package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
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
	out := &lockedBuffer{}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "GROQ_API_KEY=", "GONBCHAT_LANG=")
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
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"<title>員瑛式思考生成器</title>", ">送出</button>", ">停止</button>", "今天出門忘記帶傘"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	req, _ := http.NewRequest("POST", url+"api/send", strings.NewReader(`{"text":"早上差一秒沒趕上公車"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gonbchat-Csrf", string(m[1]))
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Fatalf("send: %s %s", res.Status, ct)
	}
	var progress int
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
	res.Body.Close()
	// The offline mirror model shows what it received: the persona and the question.
	if !done.Done || done.Error != "" || !strings.Contains(done.HTML, "早上差一秒沒趕上公車") || progress < 2 {
		t.Fatalf("the reply did not stream: %d progress events, final %+v", progress, done)
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
	if code, out := run("--persona", "../../persona/testdata/lucky_vicky.yaml", "--addr", "0.0.0.0:0"); code != 1 || !strings.Contains(out, "WithShareToken") {
		t.Errorf("beyond loopback without --share: %d %s", code, out)
	}
	if code, out := run("--persona", "../../persona/testdata/lucky_vicky.yaml", "--provider", "nosuch"); code != 1 || !strings.Contains(out, "nosuch") {
		t.Errorf("unknown provider: %d %s", code, out)
	}
}
