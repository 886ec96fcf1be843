package keypool

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
)

// testKeys returns n distinct keys shaped like OpenAI project keys.
func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "sk-proj-" + rand.Text() + rand.Text()
	}
	return keys
}

// reply is one scripted answer of the upstream server.
type reply struct {
	status int
	header map[string]string
	body   string
}

func rateLimited(header map[string]string) reply {
	return reply{status: 429, header: header, body: `{"error":{"message":"Rate limit reached for requests. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`}
}

// invalidKey echoes the whole key in its message, as a careless server might.
func invalidKey(key string) reply {
	return reply{status: 401, body: `{"error":{"message":"Incorrect API key provided: ` + key + `.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`}
}

var (
	forbidden = reply{status: 403, body: `{"error":{"message":"Project does not have access to this model.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`}
	noQuota   = reply{status: 429, body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`}
	badReq    = reply{status: 400, body: `{"error":{"message":"Unsupported parameter: 'temperature'.","type":"invalid_request_error","param":"temperature","code":"unsupported_parameter"}}`}
	notFound  = reply{status: 404, body: `{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`}
	unproc    = reply{status: 422, body: `{"error":{"message":"Unprocessable.","type":"invalid_request_error","param":null,"code":null}}`}
	srvErr    = reply{status: 500, body: `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`}
)

// upstream is an API server that knows the pool's keys, counts what each key is sent, and
// answers each key from its script (the last reply of a script repeats; no script: 200).
type upstream struct {
	*httptest.Server
	keys map[string]bool

	mu     sync.Mutex
	script map[string][]reply
	sent   map[string]int // requests per key
	order  []string       // keys in the order requests arrived
	bodies []string
	auths  []string // raw Authorization headers
}

func newUpstream(t *testing.T, keys []string) *upstream {
	u := &upstream{keys: map[string]bool{}, script: map[string][]reply{}, sent: map[string]int{}}
	for _, k := range keys {
		u.keys[k] = true
	}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) set(key string, replies ...reply) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.script[key] = replies
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	key, _ := strings.CutPrefix(auth, "Bearer ")
	u.mu.Lock()
	u.auths = append(u.auths, auth)
	u.bodies = append(u.bodies, string(body))
	if !u.keys[key] {
		u.mu.Unlock()
		writeReply(w, invalidKey(key))
		return
	}
	u.sent[key]++
	u.order = append(u.order, key)
	rep := reply{status: 200, body: fmt.Sprintf(`{"ok":true,"n":%d}`, len(u.order))}
	if s := u.script[key]; len(s) > 0 {
		rep = s[0]
		if len(s) > 1 {
			u.script[key] = s[1:]
		}
	}
	u.mu.Unlock()
	writeReply(w, rep)
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (u *upstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sent[key]
}

func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.order)
}

// fakeClock is a settable clock whose Sleep advances it and records the wait.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// events collects a pool's events.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.list...)
}

func (e *events) strings() []string {
	var out []string
	for _, ev := range e.all() {
		out = append(out, ev.String())
	}
	return out
}

// mustPool returns a pool with a fake clock and sleep.
func mustPool(t *testing.T, keys []string, clk *fakeClock, opts ...Option) *Pool {
	t.Helper()
	opts = append([]Option{WithClock(clk.Now), WithSleep(clk.Sleep)}, opts...)
	p, err := New(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// get sends a POST with a body through the pool (the caller sets its own Authorization, as the
// SDK does) and returns the status and body, or the error.
func get(t *testing.T, p *Pool, url string) (int, string, error) {
	t.Helper()
	client := &http.Client{Transport: p.Transport(nil)}
	req, err := http.NewRequest("POST", url+"/v1/responses", strings.NewReader(`{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer caller-own-key")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func mustGet(t *testing.T, p *Pool, url string) string {
	t.Helper()
	status, body, err := get(t, p, url)
	if err != nil {
		t.Fatal(err)
	}
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	return body
}

func statusOf(t *testing.T, p *Pool, key string) KeyStatus {
	t.Helper()
	fp := fingerprintOf(key)
	for _, s := range p.Status() {
		if s.Fingerprint == fp {
			return s
		}
	}
	t.Fatalf("no status for %s", fp)
	return KeyStatus{}
}

func fingerprintOf(key string) string { return secret.Fingerprint(key) }

func decodeJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}
