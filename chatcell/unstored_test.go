//go:build !gonbchat_kernel

package chatcell

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/openaitest"
)

// A server that stores nothing although the chat did not ask for store=false (a class gateway
// whose policy forces it) must not cost a refused request and a notice on every turn: the chat
// sends its own copy of the thread instead of an id the server does not have.
func TestServerThatStoresNothing(t *testing.T) {
	h := openaitest.NewHandler(openaitest.WithPace(0))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/responses") {
			var body map[string]any
			b, _ := io.ReadAll(r.Body)
			if json.Unmarshal(b, &body) == nil {
				body["store"] = false // the policy
				b, _ = json.Marshal(body)
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// As a student's notebook finds the class gateway: from the Hub's environment, no key, no URL.
	for k, v := range map[string]string{EnvGateway: srv.URL + "/v1", "JUPYTERHUB_API_TOKEN": "hub-token-0123456789", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", EnvGatewayToken: ""} {
		t.Setenv(k, v)
	}
	c := New(WithStateDir(t.TempDir()), WithQuiet())
	for _, q := range []string{"one", "two", "three"} {
		if c.Ask(q) == "" {
			t.Fatalf("Ask(%q): %v", q, c.Err())
		}
	}
	reqs := h.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (no refused chaining, no second try)", len(reqs))
	}
	last := reqs[2].JSON()
	if id, ok := last["previous_response_id"]; ok && id != nil && id != "" {
		t.Errorf("the third turn chained onto %v, which the server never stored", id)
	}
	input, _ := last["input"].([]any)
	if len(input) != 5 {
		t.Errorf("the third turn sent %d input items, want the thread of 2 turns and the question (5)", len(input))
	}
	if c.Turns() != 3 {
		t.Errorf("Turns = %d, want 3", c.Turns())
	}
}
