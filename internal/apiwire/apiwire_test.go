package apiwire

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMaskKey(t *testing.T) {
	for _, k := range []string{"sk-proj-abcdefghijklmnopqrstuvwxyz0123", "short", "sk-1234567890", "sk-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"} {
		m := MaskKey(k)
		if len(m) != len(k) || m == k || strings.Contains(m, k[len(k)/4:len(k)-len(k)/4]) {
			t.Errorf("MaskKey(%q) = %q", k, m)
		}
	}
	// The real API's format for a 51-character key: 8 characters, 39 stars, 4 characters.
	if m := MaskKey("sk-XG6GWabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMwlmi"); m != "sk-XG6GW***************************************wlmi" {
		t.Errorf("MaskKey = %q", m)
	}
}

func TestErrorBodyNullsEmptyFields(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, 429, Error{Message: "m", Type: "requests", Code: "rate_limit_exceeded"})
	var got map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	e := got["error"]
	if w.Code != 429 || e["message"] != "m" || e["code"] != "rate_limit_exceeded" || e["param"] != nil || len(e) != 4 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") == "" {
		t.Errorf("headers %v", w.Header())
	}
}

func TestEventFraming(t *testing.T) {
	if got := string(Event("response.created", WithSequence([]byte(`{"type":"response.created"}`), 0))); got != "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n" {
		t.Errorf("framed %q", got)
	}
	if got := string(Event("", []byte(`{"a":1}`))); got != "data: {\"a\":1}\n\n" {
		t.Errorf("framed %q", got)
	}
	obj := []byte(`{"a":1}`)
	_ = WithSequence(obj[:len(obj):len(obj)], 3)
	if string(obj) != `{"a":1}` {
		t.Errorf("WithSequence changed its argument: %s", obj)
	}
}

func TestReply(t *testing.T) {
	if Reply(context.Background()) != nil {
		t.Error("a reply without WithReply")
	}
	ctx := WithReply(context.Background(), func() (string, bool) { return "scripted", true })
	if s, ok := Reply(ctx)(); !ok || s != "scripted" {
		t.Errorf("reply %q %v", s, ok)
	}
}
