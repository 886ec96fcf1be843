//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/openaitest"
)

// A key pasted into a prompt is never sent: not to the provider, not to the offline model
// (which would echo it into the display and every save file). The chat says so in one line
// and keeps nothing of the turn; text that only looks like a key goes through.
func TestKeyInAPromptIsNeverSent(t *testing.T) {
	const key = "abc123XYZsecretvalue0987" // no well-known shape: only its value can tell
	srv := openaitest.NewServer(openaitest.WithPace(0))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	conn := []chatcell.ConnOption{chatcell.WithBaseURL(srv.URL), chatcell.WithAPIKey(key)}
	prompts := map[string]string{
		"whole":   "my key is " + key + ", is it valid?",
		"piece":   "does it start with " + key[:14] + "?",
		"escaped": `{"api_key":"` + key + `"}`,
	}
	for name, prompt := range prompts {
		for _, kind := range []string{"chat", "hist", "hist-completions", "create", "stream", "offline"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				before := len(srv.Handler().Requests())
				var err error
				var turns int
				var saved string
				out := captureStdout(t, func() {
					switch kind {
					case "chat":
						c := chatcell.New(chatcell.WithName("k-"+name), chatcell.WithStateDir(dir), conn[0], conn[1])
						c.Ask(prompt)
						err, turns = c.Err(), c.Turns()
					case "hist", "hist-completions", "offline":
						opts := []chatcell.HistOption{chatcell.WithName("k-" + name + kind), chatcell.WithStateDir(dir), conn[0], conn[1]}
						if kind == "hist-completions" {
							opts = append(opts, chatcell.WithBackend(completions.Backend{}))
						}
						if kind == "offline" {
							opts = []chatcell.HistOption{chatcell.WithName("k-" + name + kind), chatcell.WithStateDir(dir), chatcell.WithAPIKey(key), chatcell.WithOffline()}
						}
						c := chatcell.NewHistList(opts...)
						c.Ask(prompt)
						err, turns = c.Err(), c.History().Len()
						saved = filepath.Join(dir, name+kind+".gob")
						c.Save(saved)
					case "create":
						_, err = chatcell.CreateContext(context.Background(), prompt, conn[0], conn[1])
					case "stream":
						c := chatcell.NewHistList(chatcell.WithName("k-"+name+kind), chatcell.WithStateDir(dir), conn[0], conn[1])
						for _, e := range c.Stream(context.Background(), prompt) {
							if e != nil {
								err = e
							}
						}
						turns = c.History().Len()
					}
				})
				if got := len(srv.Handler().Requests()) - before; got != 0 {
					t.Errorf("%d requests reached the server, want none", got)
				}
				if err == nil || !strings.Contains(err.Error(), "nothing was sent") || !strings.Contains(err.Error(), "in the message") {
					t.Errorf("err = %v, want the one line saying the key in the message was not sent", err)
				}
				if turns != 0 {
					t.Errorf("the chat kept %d turns/messages, want 0", turns)
				}
				if kind != "create" && kind != "stream" && strings.Count(out, "nothing was sent") != 1 {
					t.Errorf("the cell showed %q, want the line once", out)
				}
				if strings.Contains(out, key[:12]) || (err != nil && strings.Contains(err.Error(), key[:12])) {
					t.Errorf("the key reached the output or the error: %q / %v", out, err)
				}
				if saved != "" {
					b, _ := os.ReadFile(saved)
					if strings.Contains(string(b), key[:12]) {
						t.Error("the key reached the save file")
					}
				}
			})
		}
	}

	t.Run("looks like a key but is not one of yours", func(t *testing.T) {
		before := len(srv.Handler().Requests())
		c := chatcell.NewHistList(chatcell.WithName("lookalike"), chatcell.WithStateDir(dir), conn[0], conn[1], chatcell.WithQuiet())
		c.Ask("what kind of key is sk-proj-" + strings.Repeat("x", 24) + "?")
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		if got := len(srv.Handler().Requests()) - before; got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})

	t.Run("earlier message and system message", func(t *testing.T) {
		for _, tc := range []struct {
			msgs  []llm.Message
			where string
		}{
			{[]llm.Message{llm.UserMsg("remember " + key), llm.AssistantMsg("ok")}, "earlier message"},
			{[]llm.Message{llm.SystemMsg("the key is " + key)}, "system message"},
		} {
			c := chatcell.NewHistList(chatcell.WithName("imported"), chatcell.WithStateDir(dir), conn[0], conn[1], chatcell.WithQuiet())
			c.Reset()
			if err := c.Append(tc.msgs...); err != nil {
				t.Fatal(err)
			}
			before := len(srv.Handler().Requests())
			c.Ask("hello")
			if err := c.Err(); err == nil || !strings.Contains(err.Error(), tc.where) {
				t.Errorf("err = %v, want it to say %q", err, tc.where)
			}
			if got := len(srv.Handler().Requests()) - before; got != 0 {
				t.Errorf("%d requests reached the server, want none", got)
			}
		}
	})
}

// The user's configuration: only OPENAI_API_KEY, no base URL (requests go to api.openai.com,
// here through a proxy that counts them). A key set later in the same process, as %env does in
// a later cell served by the one kernel-mode helper, is guarded as well as the first.
func TestKeyFromTheEnvironmentInAPrompt(t *testing.T) {
	var connects atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connects.Add(1)
		http.Error(w, "refused by the test proxy", http.StatusForbidden)
	}))
	t.Cleanup(proxy.Close)
	for _, k := range []string{"HTTPS_PROXY", "https_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy", "OPENAI_BASE_URL"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	var c *chatcell.ChatWithHistList
	for i, key := range []string{"firstEnvKey0123456789abc", "laterEnvKey9876543210xyz"} {
		t.Setenv("OPENAI_API_KEY", key)
		c = chatcell.NewHistList(chatcell.WithName(fmt.Sprint("envkey", i)), chatcell.WithStateDir(dir), chatcell.WithQuiet())
		_, err := c.Reply(context.Background(), "is this right: "+key)
		if err == nil || !strings.Contains(err.Error(), "nothing was sent") {
			t.Errorf("key %d: err = %v, want the request refused", i, err)
		}
		if n := connects.Load(); n != 0 {
			t.Fatalf("key %d: %d connections to the API, want none", i, n)
		}
	}
	// Without the key in it, the same chat does go out: the guard is what stopped the others.
	if _, err := c.Reply(context.Background(), "hello"); err == nil || connects.Load() == 0 {
		t.Errorf("a plain question did not reach the (refusing) proxy: %v, %d connections", err, connects.Load())
	}
}
