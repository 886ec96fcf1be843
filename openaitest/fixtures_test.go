package openaitest_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gonbchat/gonbchat/internal/recorded"
	"github.com/gonbchat/gonbchat/openaitest"
)

// TestInStreamErrorStructureMatchesRecording compares the insufficient_quota
// fault with the recorded in-stream failure.
func TestInStreamErrorStructureMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	srv.Handler().InjectFault(openaitest.InsufficientQuotaFault())
	_, body, _ := recorded.Post(t, srv.URL+"/responses", []byte(`{"model":"gpt-5-nano","input":"hi","stream":true}`))
	got := recorded.ParseSSE(t, body)
	want := recorded.ParseSSE(t, recorded.Read(t, "vercel-ai__responses_stream_error_insufficient_quota.sse"))
	if g, w := recorded.EventTypes(t, got), recorded.EventTypes(t, want); !slices.Equal(g, w) {
		t.Fatalf("types %v, want %v", g, w)
	}
	allow := recorded.WithPrefix("response.", recorded.NewestResponseKeys(t))
	for i := range want {
		g, w := recorded.Decode(t, got[i].Data), recorded.Decode(t, want[i].Data)
		recorded.AssertSameKeys(t, w["type"].(string), g, w, allow)
	}
	if g, w := recorded.Decode(t, got[2].Data)["error"], recorded.Decode(t, want[2].Data)["error"]; fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("error event %v, want %v", g, w)
	}
	if s := recorded.Decode(t, got[3].Data)["response"].(map[string]any)["status"]; s != "failed" {
		t.Errorf("final status %v", s)
	}
}
