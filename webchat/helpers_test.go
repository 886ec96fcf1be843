package webchat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/persona"
)

// testPersona is lesson 004's bot.
var testPersona = persona.Persona{
	Title:       "員瑛式思考生成器",
	Character:   "請用員瑛式思考，以「完全是 Lucky Vicky 呀!」結尾。",
	Description: "嗨！我是你的**員瑛式思考生成器**，有什麼不順的事？",
	Examples:    []string{"今天忘記帶傘", "沒趕上公車"},
}

// fakeModel is a scripted Model: it records every request and answers with the deltas of
// reply (paced by pace), then ends, fails with err, or blocks until cancelled.
type fakeModel struct {
	mu    sync.Mutex
	calls [][]llm.Message

	reply func(n int, msgs []llm.Message) []string // n counts calls from 1
	pace  time.Duration
	err   error
	block bool
	panic bool

	started chan struct{} // receives when a stream starts, if not nil
}

func (m *fakeModel) Stream(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error] {
	m.mu.Lock()
	m.calls = append(m.calls, append([]llm.Message(nil), msgs...))
	n := len(m.calls)
	c := fakeModel{reply: m.reply, pace: m.pace, err: m.err, block: m.block, panic: m.panic, started: m.started}
	m.mu.Unlock()
	return func(yield func(string, error) bool) {
		if c.started != nil {
			select {
			case c.started <- struct{}{}:
			default:
			}
		}
		if c.panic {
			panic("model exploded: goroutine 1 [running]: main.main()")
		}
		var deltas []string
		if c.reply != nil {
			deltas = c.reply(n, msgs)
		}
		for _, d := range deltas {
			if c.pace > 0 {
				select {
				case <-time.After(c.pace):
				case <-ctx.Done():
					yield("", ctx.Err())
					return
				}
			}
			if !yield(d, nil) {
				return
			}
		}
		if c.block {
			<-ctx.Done()
			yield("", ctx.Err())
			return
		}
		if c.err != nil {
			yield("", c.err)
		}
	}
}

// set changes the model's script (for the next requests).
func (m *fakeModel) set(f func(m *fakeModel)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *fakeModel) nCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

func (m *fakeModel) lastCall() []llm.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.calls) == 0 {
		return nil
	}
	return m.calls[len(m.calls)-1]
}

// says returns a reply function that always says the same, in pieces of n characters.
func says(text string, n int) func(int, []llm.Message) []string {
	return func(int, []llm.Message) []string { return pieces(text, n) }
}

func pieces(text string, n int) []string {
	var out []string
	r := []rune(text)
	for i := 0; i < len(r); i += n {
		out = append(out, string(r[i:min(i+n, len(r))]))
	}
	return out
}

// contents returns the roles and contents of msgs, "role:content" each.
func contents(msgs []llm.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Role)+":"+m.Content)
	}
	return out
}

// newTestServer serves a Server for m on an httptest server.
func newTestServer(t testing.TB, m Model, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := New(testPersona, m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.flushInterval = 5 * time.Millisecond
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// visitor is one browser: a cookie jar and the page's CSRF token.
type visitor struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func newVisitor(t testing.TB, base string) *visitor {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	v := &visitor{t: t, base: base, c: &http.Client{Jar: jar}}
	return v
}

var csrfMeta = regexp.MustCompile(`<meta name="gonbchat-csrf" content="([^"]+)">`)

// page loads the page (starting a session) and returns its HTML.
func (v *visitor) page() string {
	v.t.Helper()
	res, err := v.c.Get(v.base + "/")
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		v.t.Fatalf("GET /: %s: %s", res.Status, b)
	}
	if m := csrfMeta.FindSubmatch(b); m != nil {
		v.csrf = string(m[1])
	}
	return string(b)
}

func (v *visitor) post(path string, body any) *http.Response {
	v.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", v.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gonbchat-Csrf", v.csrf)
	res, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	return res
}

// result is a reply as the page receives it.
type result struct {
	status   int
	errLine  string // a refusal's line
	progress []progressEvent
	done     doneEvent
	raw      string
}

// ask posts to /api/send (or /api/retry with text "") and reads the whole answer.
func (v *visitor) ask(path string, body any) result {
	v.t.Helper()
	res := v.post(path, body)
	defer res.Body.Close()
	return readResult(v.t, res)
}

func (v *visitor) send(text string) result {
	v.t.Helper()
	return v.ask("/api/send", map[string]string{"text": text})
}

func readResult(t testing.TB, res *http.Response) result {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseResult(t, res, b)
}

// parseResult parses a reply's body b.
func parseResult(t testing.TB, res *http.Response, b []byte) result {
	t.Helper()
	r := result{status: res.StatusCode}
	r.raw = string(b)
	if res.StatusCode != 200 {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		r.errLine = e.Error
		return r
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"done":true`)) {
			if err := json.Unmarshal(line, &r.done); err != nil {
				t.Fatalf("bad final event %s: %v", line, err)
			}
			continue
		}
		var p progressEvent
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatalf("bad event %s: %v", line, err)
		}
		r.progress = append(r.progress, p)
	}
	if !r.done.Done {
		t.Fatalf("no final event in %q", b)
	}
	return r
}

// logHTML returns the conversation as GET /api/log renders it.
func (v *visitor) logHTML() string {
	v.t.Helper()
	res, err := v.c.Get(v.base + "/api/log")
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	var j struct{ Log string }
	if err := json.NewDecoder(res.Body).Decode(&j); err != nil {
		v.t.Fatal(err)
	}
	return j.Log
}

// jsonLog decodes the {"log": …} answer of Undo and Clear.
func jsonLog(t *testing.T, res *http.Response) (string, int) {
	t.Helper()
	defer res.Body.Close()
	var j struct{ Log, Error string }
	json.NewDecoder(res.Body).Decode(&j)
	if res.StatusCode != 200 {
		return j.Error, res.StatusCode
	}
	return j.Log, res.StatusCode
}

func count(s, sub string) int { return strings.Count(s, sub) }
