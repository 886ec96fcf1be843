package webchat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/persona"
)

func TestLimits(t *testing.T) {
	m := &fakeModel{reply: says("ok", 2)}
	s, ts := newTestServer(t, m, WithLimits(Limits{MaxMessageRunes: 10, RequestsPerMinute: 2, MaxTurns: 2}))
	clock := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	v := newVisitor(t, ts.URL)
	v.page()

	if r := v.send(strings.Repeat("字", 11)); r.status != http.StatusRequestEntityTooLarge || r.errLine != "The message is 11 characters long; the limit is 10." {
		t.Errorf("long message: %d %q", r.status, r.errLine)
	}
	if r := v.send(strings.Repeat("字", 10000)); r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.errLine, "too long") {
		t.Errorf("huge body: %d %q", r.status, r.errLine)
	}
	if r := v.send("  \n "); r.status != http.StatusBadRequest || r.errLine != "The message is empty." {
		t.Errorf("empty message: %d %q", r.status, r.errLine)
	}
	if m.nCalls() != 0 {
		t.Fatalf("refused messages reached the model")
	}
	v.send("q1")
	v.send("q2")
	res := v.post("/api/send", map[string]string{"text": "q3"})
	r := readResult(t, res)
	if r.status != http.StatusTooManyRequests || r.errLine != "Too many messages: at most 2 a minute. Try again in 60 s." || res.Header.Get("Retry-After") != "60" {
		t.Errorf("rate limit: %d %q %q", r.status, r.errLine, res.Header.Get("Retry-After"))
	}
	if r := v.ask("/api/retry", nil); r.status != http.StatusTooManyRequests {
		t.Errorf("retry is not rate limited: %d", r.status)
	}
	// Another visitor has a limit of their own.
	w := newVisitor(t, ts.URL)
	w.page()
	if r := w.send("w1"); r.status != 200 {
		t.Errorf("other visitor: %d %q", r.status, r.errLine)
	}
	advance(61 * time.Second)
	if r := v.send("q3"); r.status != 200 {
		t.Errorf("after a minute: %d %q", r.status, r.errLine)
	}
	// MaxTurns: the model sees the greeting and the last 2 turns only.
	advance(61 * time.Second)
	v.send("q4")
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description,
		"user:q2", "assistant:ok", "user:q3", "assistant:ok", "user:q4"}
	if got := contents(m.lastCall()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("trimmed request: %q", got)
	}
	if l := v.logHTML(); strings.Contains(l, "q1") || count(l, `class="msg user"`) != 2 || !strings.Contains(l, "greeting") {
		t.Errorf("trimmed log:\n%s", l)
	}
}

func TestBadLimits(t *testing.T) {
	if _, err := New(testPersona, &fakeModel{}, WithLimits(Limits{RequestsPerMinute: -1})); err == nil ||
		!strings.Contains(err.Error(), "RequestsPerMinute") {
		t.Errorf("negative limit: %v", err)
	}
	if _, err := New(testPersona, nil); err == nil {
		t.Error("no model: no error")
	}
	if _, err := New(testPersona, &fakeModel{}, WithShareToken("short")); err == nil {
		t.Error("short token: no error")
	}
	bad := testPersona
	bad.Character = ""
	if _, err := New(bad, &fakeModel{}); err == nil || !strings.Contains(err.Error(), "character") {
		t.Errorf("invalid persona: %v", err)
	}
}

func TestMaxStreams(t *testing.T) {
	m := &fakeModel{block: true, started: make(chan struct{}, 1)}
	_, ts := newTestServer(t, m, WithLimits(Limits{MaxStreams: 1}))
	a, b := newVisitor(t, ts.URL), newVisitor(t, ts.URL)
	a.page()
	b.page()
	done := make(chan result, 1)
	go func() { done <- a.send("long") }()
	<-m.started
	if r := b.send("hi"); r.status != http.StatusServiceUnavailable || !strings.Contains(r.errLine, "busy") {
		t.Errorf("second stream: %d %q", r.status, r.errLine)
	}
	a.post("/api/stop", nil).Body.Close()
	<-done
	m.set(func(m *fakeModel) { m.block = false; m.reply = says("ok", 1) })
	if r := b.send("hi"); r.status != 200 {
		t.Errorf("after the first ended: %d %q", r.status, r.errLine)
	}
}

// serveOn serves s on addr ("127.0.0.1:0" for any port) until the test ends or stop is
// called; it returns the base URL.
func serveOn(t *testing.T, s *Server, addr string) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL, ts.Close
}

func quietServer(t *testing.T, p persona.Persona, m Model, opts ...Option) *Server {
	t.Helper()
	s, err := New(p, m, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s.flushInterval = 5 * time.Millisecond
	return s
}

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	m := &fakeModel{reply: func(n int, _ []llm.Message) []string { return []string{fmt.Sprintf("**answer %d**", n)} }}
	base, stop := serveOn(t, quietServer(t, testPersona, m, WithStateDir(dir)), "127.0.0.1:0")
	v := newVisitor(t, base)
	v.page()
	v.send("q1")
	v.send("q2")
	m.set(func(m *fakeModel) { m.reply = nil; m.err = errors.New("provider down") })
	v.send("q3")
	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "*.hist"))
	if len(files) != 1 {
		t.Fatalf("state files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode: %v", di.Mode())
	}
	raw, _ := os.ReadFile(files[0])
	for _, c := range v.c.Jar.Cookies(mustURL(base)) {
		if bytes.Contains(raw, []byte(c.Value)) {
			t.Error("the state file holds the session id")
		}
	}

	// A new server on the same directory and address: the same visitor finds the
	// conversation, with the greeting once and the error line kept.
	m.set(func(m *fakeModel) { m.err = nil; m.reply = says("again", 5) })
	base2, _ := serveOn(t, quietServer(t, testPersona, m, WithStateDir(dir)), strings.TrimPrefix(base, "http://"))
	if base2 != base {
		t.Fatalf("restarted on %s, not %s", base2, base)
	}
	page := v.page()
	for _, want := range []string{"q1", "<strong>answer 1</strong>", "q2", "q3", "⚠ provider down"} {
		if !strings.Contains(page, want) {
			t.Errorf("after a restart the page lacks %q", want)
		}
	}
	if count(page, "有什麼不順的事") != 1 {
		t.Errorf("greeting appears %d times", count(page, "有什麼不順的事"))
	}
	v.send("q4")
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description,
		"user:q1", "assistant:**answer 1**", "user:q2", "assistant:**answer 2**", "user:q4"}
	if got := contents(m.lastCall()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("after a restart the model got %q", got)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestPersonaChangeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	m := &fakeModel{reply: says("ok", 1)}
	base, stop := serveOn(t, quietServer(t, testPersona, m, WithStateDir(dir)), "127.0.0.1:0")
	v := newVisitor(t, base)
	v.page()
	v.send("q1")
	stop()
	p2 := testPersona
	p2.Character = "新的人設"
	p2.Description = "新的招呼"
	serveOn(t, quietServer(t, p2, m, WithStateDir(dir)), strings.TrimPrefix(base, "http://"))
	page := v.page()
	if strings.Contains(page, "有什麼不順的事") || count(page, "新的招呼") != 1 || !strings.Contains(page, "q1") {
		t.Errorf("the restored conversation does not start with the new greeting once:\n%s", page)
	}
	v.send("q2")
	want := []string{"system:新的人設", "assistant:新的招呼", "user:q1", "assistant:ok", "user:q2"}
	if got := contents(m.lastCall()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the model got %q", got)
	}
}

func TestStateBounds(t *testing.T) {
	dir := t.TempDir()
	m := &fakeModel{reply: says("ok", 1)}
	s := quietServer(t, testPersona, m, WithStateDir(dir), WithLimits(Limits{MaxVisitors: 2}))
	base, _ := serveOn(t, s, "127.0.0.1:0")
	var vs []*visitor
	for i := range 4 {
		v := newVisitor(t, base)
		v.page()
		v.send(fmt.Sprint("q", i))
		vs = append(vs, v)
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.hist"))
	if len(files) != 2 {
		t.Errorf("%d state files, want at most 2", len(files))
	}
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n > 2 {
		t.Errorf("%d sessions in memory, want at most 2", n)
	}
	// The most recent visitor keeps their conversation; the oldest starts again.
	if !strings.Contains(vs[3].page(), "q3") {
		t.Error("the newest conversation was dropped")
	}
	if strings.Contains(vs[0].page(), "q0") {
		t.Error("the oldest conversation was kept past MaxVisitors")
	}

	// A damaged file: the visitor starts again, and the server says nothing to the page.
	for _, f := range files {
		os.WriteFile(f, []byte("GONBCHAT-HIST\ngarbage"), 0o600)
	}
	s2 := quietServer(t, testPersona, m, WithStateDir(dir))
	key := sessionKey(cookieValue(t, vs[3], base))
	s2.mu.Lock()
	ss := s2.loadLocked(cookieValue(t, vs[3], base))
	_, still := s2.files[key]
	s2.mu.Unlock()
	if ss != nil || still {
		t.Errorf("a damaged file was loaded or kept")
	}
}

func cookieValue(t *testing.T, v *visitor, base string) string {
	for _, c := range v.c.Jar.Cookies(mustURL(base)) {
		if strings.HasPrefix(c.Name, "gonbchat_sid_") {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestCSRF(t *testing.T) {
	m := &fakeModel{reply: says("ok", 1)}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	do := func(mod func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/send", strings.NewReader(`{"text":"hi"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Gonbchat-Csrf", v.csrf)
		mod(req)
		res, err := v.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for name, mod := range map[string]func(*http.Request){
		"no token":          func(r *http.Request) { r.Header.Del("X-Gonbchat-Csrf") },
		"another's token":   func(r *http.Request) { r.Header.Set("X-Gonbchat-Csrf", csrfToken(newSessionID())) },
		"cross-site fetch":  func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"foreign origin":    func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
		"form post":         func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
		"text/plain beacon": func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
	} {
		code, body := do(mod)
		if code != http.StatusForbidden && code != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %d %s", name, code, body)
		}
		if !strings.Contains(body, `"error"`) {
			t.Errorf("%s: no readable line: %s", name, body)
		}
	}
	if m.nCalls() != 0 {
		t.Fatalf("a refused request reached the model")
	}
	if code, body := do(func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") }); code != 200 {
		t.Errorf("same-origin: %d %s", code, body)
	}
	// Undo, Clear and Stop are guarded too.
	for _, p := range []string{"/api/undo", "/api/clear", "/api/stop", "/api/retry"} {
		req, _ := http.NewRequest("POST", ts.URL+p, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		res, _ := v.c.Do(req)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s without token: %s", p, res.Status)
		}
	}
	// GET never changes anything.
	if res, _ := v.c.Get(ts.URL + "/api/clear"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/clear: %s", res.Status)
	}
}

func TestHostCheck(t *testing.T) {
	s := quietServer(t, testPersona, &fakeModel{}, WithAllowedHosts("chat.lab.internal"))
	for host, want := range map[string]int{
		"127.0.0.1:7860":         200,
		"localhost:7860":         200,
		"[::1]:7860":             200,
		"chat.lab.internal:7860": 200,
		"evil.example:7860":      http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io":       http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
	}
}

func TestShareToken(t *testing.T) {
	token := NewToken()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	m := &fakeModel{reply: says("ok", 1)}
	s, err := New(testPersona, m, WithShareToken(token), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := s.Start(ctx, "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u, "/?token="+token) || u != s.URL() {
		t.Fatalf("share URL %q", u)
	}
	logMu.Lock()
	line := logs.String()
	logMu.Unlock()
	if count(line, "\n") != 1 || !strings.Contains(line, "sharing") || !strings.Contains(line, token) {
		t.Errorf("the share log line: %q", line)
	}
	// Visitors come through loopback here (the test cannot reach other interfaces).
	port := mustURL(u).Port()
	base := "http://127.0.0.1:" + port

	v := newVisitor(t, base)
	noRedirect := *v.c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/", "/?token=wrong-token-wrong-token", "/api/log"} {
		res, err := noRedirect.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "token") || strings.Contains(string(b), token) {
			t.Errorf("GET %s without the token: %s %s", path, res.Status, b)
		}
	}
	res, err := noRedirect.Get(base + "/?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "./" {
		t.Fatalf("with the token: %s, Location %q", res.Status, res.Header.Get("Location"))
	}
	page := v.page() // the access cookie is kept
	if !strings.Contains(page, "員瑛式思考生成器") || strings.Contains(page, token) {
		t.Errorf("shared page")
	}
	if r := v.send("hi"); r.status != 200 {
		t.Errorf("send with access: %d %q", r.status, r.errLine)
	}
	// A visitor with a session but no access cookie is refused.
	w := newVisitor(t, base)
	w.csrf = v.csrf
	if r := w.send("hi"); r.status != http.StatusForbidden {
		t.Errorf("send without access: %d", r.status)
	}
	// In share mode any host name is fine (the token protects).
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "teacher-laptop.local:" + port
	res, err = v.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden { // no cookie for that host name
		t.Errorf("other host without cookie: %s", res.Status)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestListenNeedsToken(t *testing.T) {
	s := quietServer(t, testPersona, &fakeModel{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		if _, err := s.Start(ctx, addr); err == nil || !strings.Contains(err.Error(), "WithShareToken") {
			t.Errorf("Start(%q) without a token: %v", addr, err)
		}
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ctx, ln); err == nil {
		t.Error("Serve on all interfaces without a token: no error")
	}
}

func TestStartAndShutdown(t *testing.T) {
	m := &fakeModel{reply: says("一點點", 1), block: true, started: make(chan struct{}, 1)}
	s := quietServer(t, testPersona, m)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { served <- s.Serve(ctx, ln) }()
	for s.URL() == "" {
		time.Sleep(time.Millisecond)
	}
	u := s.URL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/") {
		t.Fatalf("URL %q", u)
	}
	v := newVisitor(t, strings.TrimSuffix(u, "/"))
	v.page()
	got := make(chan result, 1)
	go func() { got <- v.send("q") }()
	<-m.started
	time.Sleep(30 * time.Millisecond)
	cancel() // the reply in progress is cut short and kept, then the server stops
	select {
	case r := <-got:
		if !r.done.Partial || !strings.Contains(r.done.HTML, "一點點") {
			t.Errorf("reply at shutdown: %+v", r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reply did not end at shutdown")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := http.Get(u); err == nil {
		t.Error("the server still answers")
	}

	// Start: an ephemeral loopback port, reported at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	u2, err := s.Start(ctx2, "")
	if err != nil || !strings.HasPrefix(u2, "http://127.0.0.1:") {
		t.Fatalf("Start: %q %v", u2, err)
	}
	res, err := http.Get(u2)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET %s: %s", u2, res.Status)
	}
}

func TestNoKeyAnywhere(t *testing.T) {
	const key = "sk-proj-TESTKEYwebchat0123456789abcdefABCDEF"
	secret.Register(key)
	dir := t.TempDir()
	m := &fakeModel{reply: says("partial answer", 4),
		err: fmt.Errorf("401 Unauthorized: Incorrect API key provided: %s. You can find your API key at …", key)}
	_, ts := newTestServer(t, m, WithStateDir(dir), WithDescribe(func(err error) string { return "bad key " + key }))
	v := newVisitor(t, ts.URL)
	var seen strings.Builder
	seen.WriteString(v.page())
	r := v.send("what is the key?")
	seen.WriteString(r.raw)
	m.set(func(m *fakeModel) { m.reply = nil })
	r = v.send("again")
	seen.WriteString(r.raw)
	seen.WriteString(v.logHTML())
	seen.WriteString(v.page())
	if strings.Contains(seen.String(), key) || strings.Contains(seen.String(), key[8:20]) {
		t.Errorf("the key reached the browser")
	}
	if !strings.Contains(seen.String(), secret.Mask) {
		t.Errorf("expected the key's place to be masked")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(key[8:20])) {
			t.Errorf("%s holds the key", f)
		}
	}
}

func TestEscaping(t *testing.T) {
	evil := "<script>window.pwned=1</script>\n\n<img src=x onerror=\"window.pwned=1\">\n\n[click](javascript:window.pwned=1) <b onmouseover=alert(1)>b</b>"
	m := &fakeModel{reply: says(evil, 5)}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	r := v.send("<script>alert('user')</script>")
	all := r.raw + v.page() + v.logHTML()
	for _, bad := range []string{"<script>window", "<script>alert", "<img", "onerror=", "href=\"javascript:", "<b onmouseover"} {
		if strings.Contains(all, bad) {
			t.Errorf("unescaped %q reached the page", bad)
		}
	}
	if !strings.Contains(v.page(), "&lt;script&gt;alert(&#39;user&#39;)&lt;/script&gt;") {
		t.Errorf("the visitor's message is not shown as text")
	}
}
