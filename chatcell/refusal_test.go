//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// A request the class gateway's policy refused (its error carries apiwire.RefusalHeader) shows
// as the gateway's message alone: the one line written for the student. The same error without
// the header (any other server) keeps its status and code around the message.
func TestGatewayRefusalIsTheWholeLine(t *testing.T) {
	const msg = "The class budget for today is used up; it resets at 00:00."
	for _, marked := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Should-Retry", "false")
			if marked {
				w.Header().Set(apiwire.RefusalHeader, "policy")
			}
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"message":"` + msg + `","type":"insufficient_quota","param":null,"code":"budget_exceeded"}}`))
		}))
		c := chatcell.New(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(),
			chatcell.WithBaseURL(srv.URL+"/v1"), chatcell.WithAPIKey("gnbt_student-token-0123456789"))
		_, err := c.Reply(context.Background(), "hi")
		srv.Close()
		if err == nil {
			t.Fatal("no error")
		}
		line := err.Error()
		if marked && line != msg {
			t.Errorf("refused by the gateway's policy: %q, want %q", line, msg)
		}
		if !marked && (line == msg || chatcell.Describe(err) != line) {
			t.Errorf("an ordinary 429: %q", line)
		}
	}
}
