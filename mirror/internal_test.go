package mirror

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSplitDeltas(t *testing.T) {
	for _, s := range []string{
		markdownAnswer(prompt{Model: "gpt-4.1-nano", Instructions: "用中文回答", Turns: []turn{{"user", "你好，世界 🌏 hello"}}}),
		"a", "", "🌏🌏🌏", "éééééééé", "ab", "abc", "a你", "abcdefgh你", "abcdefghi", "1234567你好a", "🌏a", "a🌏🌏b",
	} {
		ds := splitDeltas(s)
		if strings.Join(ds, "") != s {
			t.Errorf("deltas of %q do not rejoin", s)
		}
		for _, d := range ds {
			if !utf8.ValidString(d) {
				t.Errorf("delta %q splits a rune", d)
			}
			if len(d) > 8 || (len(d) < 2 && len(s) >= 2) {
				t.Errorf("delta %q has %d bytes", d, len(d))
			}
		}
	}
}

func TestMirrorReply(t *testing.T) {
	in := prompt{Model: "gpt-4.1-nano", Instructions: "Be brief.", Chained: true}
	for i := range 9 {
		in.Turns = append(in.Turns, turn{"user", strings.Repeat("question ", 20) + string(rune('A'+i))}, turn{"assistant", "answer"})
	}
	in.Turns = append(in.Turns, turn{"user", "最后的问题?"})
	r := markdownAnswer(in)
	if r != markdownAnswer(in) {
		t.Error("not deterministic")
	}
	if len(r) < 300 || len(r) > 800 {
		t.Errorf("reply of %d bytes:\n%s", len(r), r)
	}
	for _, want := range []string{"`gpt-4.1-nano`", "Be brief.", "9 earlier turns", "previous_response_id", "the last 4", "  - #9 “question", "最后的问题?"} {
		if !strings.Contains(r, want) {
			t.Errorf("reply lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "question A") {
		t.Errorf("oldest turns should be elided:\n%s", r)
	}
}

// streamUntilDelta starts a streaming request through the in-process
// transport and reads until the first text delta.
func streamUntilDelta(t *testing.T, h *Handler, ctx context.Context) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", BaseURL+"/responses",
		strings.NewReader(`{"model":"m","input":"hi","stream":true}`))
	res, err := (&http.Client{Transport: h.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if sc.Text() == "event: response.output_text.delta" {
			return res
		}
	}
	t.Fatalf("no delta: %v", sc.Err())
	return nil
}

func hookStreamEnd(t *testing.T) chan error {
	ended := make(chan error, 1)
	hook := func(err error) {
		select {
		case ended <- err:
		default:
		}
	}
	testHookStreamEnd.Store(&hook)
	t.Cleanup(func() { testHookStreamEnd.Store(nil) })
	return ended
}

// With an hour between deltas, the first delta arrives only if the
// transport streams incrementally; closing the body stops the producer.
func TestTransportStreamsAndCloseStops(t *testing.T) {
	ended := hookStreamEnd(t)
	h := NewHandler(WithPace(time.Hour))
	res := streamUntilDelta(t, h, context.Background())
	res.Body.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("producer ended with %v", err)
	}
}

func TestTransportContextCancelStops(t *testing.T) {
	ended := hookStreamEnd(t)
	h := NewHandler(WithPace(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	res := streamUntilDelta(t, h, ctx)
	cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("producer ended with %v", err)
	}
	if _, err := io.ReadAll(res.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("reader got %v", err)
	}
}

func TestDirStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store") // created on first write
	s := &dirStore{dir: dir}
	r := &storedResponse{Response: responseObject{ID: "resp_1", Output: []item{newMessage("assistant", "hi")}},
		InputItems: []item{newMessage("user", "q"), {Type: "function_call_output", Raw: []byte(`{"type":"function_call_output","call_id":"c","output":"x"}`)}}}
	if err := s.put(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.get("resp_1")
	if err != nil || got == nil {
		t.Fatal(err)
	}
	if got.Response.Output[0].text() != "hi" || got.InputItems[0].text() != "q" || got.InputItems[1].Type != "function_call_output" {
		t.Errorf("round trip %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "resp_1.json" {
		t.Errorf("files %v (a temporary file left?)", entries)
	}
	for _, id := range []string{"../resp_1", "resp_1/../x", "", "a.json"} {
		if g, err := s.get(id); g != nil || err != nil {
			t.Errorf("get(%q) = %v, %v", id, g, err)
		}
	}
	if err := s.put(&storedResponse{Response: responseObject{ID: "../evil"}}); err == nil {
		t.Error("put accepted a path")
	}
	if ok, err := s.delete("resp_1"); !ok || err != nil {
		t.Errorf("delete: %v %v", ok, err)
	}
	if g, _ := s.get("resp_1"); g != nil {
		t.Error("still there after delete")
	}
}

func BenchmarkMirrorStream(b *testing.B) {
	h := NewHandler(WithPace(0))
	c := &http.Client{Transport: h.Transport()}
	for b.Loop() {
		res, err := c.Post(BaseURL+"/responses", "application/json",
			strings.NewReader(`{"model":"m","input":"hello","stream":true,"store":false}`))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

func FuzzSplitDeltas(f *testing.F) {
	for _, s := range []string{"hello, world", "你好，世界", "a🌏b", "é", "ab🌏🌏🌏cd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		ds := splitDeltas(s)
		if strings.Join(ds, "") != s {
			t.Fatalf("deltas of %q do not rejoin", s)
		}
		for _, d := range ds {
			if !utf8.ValidString(d) || len(d) > 8 || (len(d) < 2 && len(s) >= 2) {
				t.Fatalf("bad delta %q of %q", d, s)
			}
		}
	})
}

func TestMirrorEscapesQuotedMarkdown(t *testing.T) {
	r := markdownAnswer(prompt{Model: "m", Turns: []turn{{"user", "**bold** `code` <b>x</b> [a](b)"}}})
	if !strings.Contains(r, "“\\*\\*bold\\*\\* \\`code\\` \\<b\\>x\\</b\\> \\[a\\](b)”") {
		t.Errorf("reply:\n%s", r)
	}
}
