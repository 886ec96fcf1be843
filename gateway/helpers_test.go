package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/gateway"
	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/gateway/policy"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/openaitest"
)

// teacherKey is the provider key the tests' upstream requires. It has a provider key's shape,
// so that both of secret's rules would catch it.
const teacherKey = "sk-teacher-0123456789abcdefghijABCDEFGHIJ"

func init() { secret.Register(teacherKey) }

// keyTransport sets the teacher's key on every upstream request (keypool's job in production).
type keyTransport struct {
	key  string
	base http.RoundTripper
}

func (t keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.key)
	return t.base.RoundTrip(r)
}

// env is a gateway in front of an upstream, with two students holding issued tokens.
type env struct {
	gw       *gateway.Server
	srv      *httptest.Server
	url      string // the gateway's base URL, ending in /v1
	ledger   *ledger.Ledger
	watcher  *policy.Watcher
	policy   string // path of the policy file
	upstream *openaitest.Server
	alice    string // tokens
	bob      string
}

type envOpt struct {
	policy   string
	upstream string // URL of a custom upstream (default: an openaitest server)
	hubAPI   string
	now      func() time.Time
	pace     time.Duration
	admin    string
	prefix   string
}

func newEnv(t testing.TB, o envOpt) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{policy: filepath.Join(dir, "policy.yaml")}
	if err := os.WriteFile(e.policy, []byte(o.policy), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := policy.NewWatcher(e.policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.watcher = w
	l, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.ledger = l
	up := o.upstream
	if up == "" {
		e.upstream = openaitest.NewServer(openaitest.WithPace(o.pace), openaitest.WithAPIKey(teacherKey))
		up = e.upstream.URL
	}
	gw, err := gateway.New(gateway.Config{
		Upstream:    keyTransport{teacherKey, http.DefaultTransport},
		UpstreamURL: up,
		Ledger:      l,
		Policy:      w,
		HubAPI:      o.hubAPI,
		Now:         o.now,
		AdminToken:  o.admin,
		Prefix:      o.prefix,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	e.srv = httptest.NewServer(gw)
	e.url = e.srv.URL + "/v1"
	ctx := context.Background()
	if e.alice, err = l.AddToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = l.AddToken(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		e.srv.Close()
		if e.upstream != nil {
			e.upstream.Close()
		}
		l.Close()
	})
	return e
}

// client is an SDK client for a student's token.
func (e *env) client(tok string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(e.url), option.WithAPIKey(tok), option.WithMaxRetries(0))
	return &c
}

// setPolicy rewrites the policy file and reloads it.
func (e *env) setPolicy(t testing.TB, yaml string) {
	t.Helper()
	if err := os.WriteFile(e.policy, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.watcher.Reload(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) rows(t testing.TB) []ledger.Row {
	t.Helper()
	rows, err := e.ledger.Rows(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func input(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// waitRows returns the ledger once it has n rows: a handler writes its row just after the
// last byte of its reply, so a client can finish a moment before the row is there.
func (e *env) waitRows(t testing.TB, n int) []ledger.Row {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows := e.rows(t)
		if len(rows) >= n || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(5 * time.Millisecond)
	}
}
