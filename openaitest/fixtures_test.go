package openaitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

// The fixtures are real recorded OpenAI traffic (see testdata/openai-recorded/README.txt).
const fixtureDir = "testdata/openai-recorded"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sseEvent is one server-sent event: its "event:" name (may be empty) and data.
type sseEvent struct {
	Name string
	Data string
}

// parseSSE splits a raw SSE body into events, failing on lines that are
// neither "event:" nor "data:" (the real API sends no other field).
func parseSSE(t *testing.T, b []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	for block := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n\n") {
		var ev sseEvent
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data += strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected SSE line %q", line)
			}
		}
		out = append(out, ev)
	}
	return out
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return m
}

// keyPaths lists every key path of a JSON value, ignoring values: objects
// give "a.b", arrays "a[]" (the union over their elements).
func keyPaths(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out[p] = true
				walk(p, c)
			}
		case []any:
			for _, c := range x {
				walk(prefix+"[]", c)
			}
		}
	}
	walk("", v)
	return out
}

// keyDiff compares key paths: missing are in want only, extra in got only.
// Extra paths listed in allowExtra (newer API fields, see newestResponseKeys)
// are not reported.
func keyDiff(got, want, allowExtra map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] && !allowExtra[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func assertSameKeys(t *testing.T, what string, got, want any, allowExtra map[string]bool) {
	t.Helper()
	missing, extra := keyDiff(keyPaths(got), keyPaths(want), allowExtra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: keys missing %v, extra %v", what, missing, extra)
	}
}

// withPrefix prefixes every path of keys.
func withPrefix(prefix string, keys map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range keys {
		out[prefix+k] = true
	}
	return out
}

// newestResponseKeys are the key paths of the response object in the newest
// recording (gpt-4.1, 2026-06). Older recordings lack some of them
// (moderation, reasoning.context, ...); the server may send those extra keys.
func newestResponseKeys(t *testing.T) map[string]bool {
	evs := parseSSE(t, readFixture(t, "pydantic-ai__responses_stream_markdown_hr_bold_list.0.status200.sse"))
	resp := decode(t, evs[0].Data)["response"].(map[string]any)
	delete(resp, "tools") // MCP tools of that recording
	return keyPaths(resp)
}

// collapse merges runs of the same event type (the deltas).
func collapse(types []string) []string {
	return slices.Compact(slices.Clone(types))
}

func eventTypes(t *testing.T, evs []sseEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, decode(t, ev.Data)["type"].(string))
	}
	return out
}

// firstOfType returns the first event's data with the given type (and, for
// item events, whose item or part belongs to a message).
func firstOfType(t *testing.T, evs []sseEvent, typ string) map[string]any {
	for _, ev := range evs {
		m := decode(t, ev.Data)
		if m["type"] != typ {
			continue
		}
		if it, ok := m["item"].(map[string]any); ok && it["type"] != "message" {
			continue
		}
		return m
	}
	t.Fatalf("no %s event", typ)
	return nil
}

// post sends body to the server and returns the status and raw response.
func post(t *testing.T, url string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}

// replayServer serves one recorded body for every request.
func replayServer(t *testing.T, status int, contentType string, body []byte) openai.Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return openai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
}

// TestFixturesParseWithSDK replays every recording through openai-go: the
// ground truth the server is compared with is what the SDK really parses.
func TestFixturesParseWithSDK(t *testing.T) {
	ctx := context.Background()
	names, err := filepath.Glob(filepath.Join(fixtureDir, "*"))
	if err != nil || len(names) < 20 {
		t.Fatalf("fixtures: %v %d", err, len(names))
	}
	for _, path := range names {
		name := filepath.Base(path)
		switch {
		case strings.HasPrefix(name, "pydantic-ai__responses_stream") && strings.HasSuffix(name, ".sse"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "text/event-stream; charset=utf-8", readFixture(t, name))
				s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-4o"})
				var completed *responses.Response
				var deltas strings.Builder
				n := 0
				for s.Next() {
					ev := s.Current()
					n++
					if ev.Type == "response.output_text.delta" {
						deltas.WriteString(ev.AsResponseOutputTextDelta().Delta)
					}
					if ev.Type == "response.completed" {
						r := ev.AsResponseCompleted().Response
						completed = &r
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if completed == nil || completed.Usage.TotalTokens == 0 {
					t.Fatalf("no completed event with usage after %d events", n)
				}
				if completed.OutputText() != deltas.String() {
					t.Errorf("deltas %q != output %q", deltas.String(), completed.OutputText())
				}
			})
		case name == "vercel-ai__responses_stream_error_insufficient_quota.sse":
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "text/event-stream", readFixture(t, name))
				s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-5-nano"})
				for s.Next() {
				}
				var se *ssestream.StreamError
				if !errors.As(s.Err(), &se) || se.Event.Type != "error" {
					t.Fatalf("err %v", s.Err())
				}
			})
		case strings.HasSuffix(name, ".status200.json"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "application/json", readFixture(t, name))
				r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-5"})
				if err != nil {
					t.Fatal(err)
				}
				if r.OutputText() == "" || r.Usage.TotalTokens == 0 || r.Status != "completed" {
					t.Errorf("parsed %+v", r)
				}
			})
		case strings.HasSuffix(name, ".status400.json"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 400, "application/json", readFixture(t, name))
				_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o"})
				var apiErr *responses.Error
				if !errors.As(err, &apiErr) || apiErr.Code != "decimal_below_min_value" || apiErr.Param != "temperature" {
					t.Fatalf("err %v", err)
				}
			})
		case strings.Contains(name, "__chat_stream"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "text/event-stream", readFixture(t, name))
				s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4.1-nano"})
				var acc openai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if acc.Usage.TotalTokens == 0 || acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "stop" {
					t.Errorf("accumulated %+v", acc.ChatCompletion)
				}
			})
		}
	}
}

// TestStreamStructureMatchesRecording compares a mirror stream with the
// plain-text recordings: event order, SSE framing and key sets.
func TestStreamStructureMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	newest := newestResponseKeys(t)

	// The recorded request body, sent as is.
	status, body, hdr := post(t, srv.URL+"/responses", readFixture(t, "pydantic-ai__responses_stream_bold_links_annotations.2.request.json"))
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %s", status, hdr.Get("Content-Type"))
	}
	got := parseSSE(t, body)
	want := parseSSE(t, readFixture(t, "pydantic-ai__responses_stream_bold_links_annotations.2.status200.sse"))

	gotTypes, wantTypes := eventTypes(t, got), eventTypes(t, want)
	if !slices.Equal(collapse(gotTypes), collapse(wantTypes)) {
		t.Errorf("event types\n got %v\nwant %v", collapse(gotTypes), collapse(wantTypes))
	}
	for i, ev := range got {
		m := decode(t, ev.Data)
		if ev.Name != m["type"] {
			t.Errorf("event %d: event: %q but type %q", i, ev.Name, m["type"])
		}
		if m["sequence_number"] != float64(i) {
			t.Errorf("event %d: sequence_number %v", i, m["sequence_number"])
		}
	}
	allow := withPrefix("response.", newest)
	for _, typ := range collapse(wantTypes) {
		assertSameKeys(t, typ, firstOfType(t, got, typ), firstOfType(t, want, typ), allow)
	}

	// Against the newest recording (gpt-4.1, 2026-06) the keys match exactly,
	// without allowances, for the response object and the message's events.
	want = parseSSE(t, readFixture(t, "pydantic-ai__responses_stream_markdown_hr_bold_list.0.status200.sse"))
	for _, typ := range []string{"response.created", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done"} {
		g, w := firstOfType(t, got, typ), firstOfType(t, want, typ)
		if r, ok := w["response"].(map[string]any); ok { // that recording has MCP tools
			delete(r, "tools")
			delete(g["response"].(map[string]any), "tools")
		}
		assertSameKeys(t, typ+" (gpt-4.1)", g, w, nil)
	}
	final := decode(t, got[len(got)-1].Data)["response"].(map[string]any)
	usage := final["usage"].(map[string]any)
	assertSameKeys(t, "usage", usage, firstOfType(t, want, "response.completed")["response"].(map[string]any)["usage"], nil)
}

// TestNonStreamingChainStructureMatchesRecording sends the recorded chain's
// two requests and compares the response objects' keys.
func TestNonStreamingChainStructureMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	newest := newestResponseKeys(t)
	messagesOnly := func(r map[string]any) map[string]any {
		var out []any
		for _, it := range r["output"].([]any) {
			if it.(map[string]any)["type"] == "message" {
				out = append(out, it)
			}
		}
		r["output"] = out
		return r
	}

	status, b1, _ := post(t, srv.URL+"/responses", readFixture(t, "pydantic-ai__responses_previous_response_id_chain.0.request.json"))
	if status != 200 {
		t.Fatalf("status %d: %s", status, b1)
	}
	first := decode(t, string(b1))
	want := messagesOnly(decode(t, string(readFixture(t, "pydantic-ai__responses_previous_response_id_chain.0.status200.json"))))
	assertSameKeys(t, "first response", first, want, newest)

	// The second recorded request, pointed at our first response.
	var req2 map[string]any
	if err := json.Unmarshal(readFixture(t, "pydantic-ai__responses_previous_response_id_chain.1.request.json"), &req2); err != nil {
		t.Fatal(err)
	}
	req2["previous_response_id"] = first["id"]
	body, _ := json.Marshal(req2)
	status, b2, _ := post(t, srv.URL+"/responses", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b2)
	}
	second := decode(t, string(b2))
	want = messagesOnly(decode(t, string(readFixture(t, "pydantic-ai__responses_previous_response_id_chain.1.status200.json"))))
	assertSameKeys(t, "chained response", second, want, newest)
	if second["previous_response_id"] != first["id"] {
		t.Errorf("previous_response_id %v", second["previous_response_id"])
	}
	text := second["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
	if !strings.Contains(text, "The secret key is sesame") || !strings.Contains(text, "What is the secret code?") {
		t.Errorf("chained mirror reply:\n%s", text)
	}
}

// TestErrorBodyMatchesRecording sends the recorded invalid request: the
// status and the whole body match the recording, values included.
func TestErrorBodyMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	status, got, hdr := post(t, srv.URL+"/responses", readFixture(t, "pydantic-ai__responses_http_400_error.0.request.json"))
	if status != 400 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s", status, hdr.Get("Content-Type"))
	}
	want := readFixture(t, "pydantic-ai__responses_http_400_error.0.status400.json")
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("error body\n got %s\nwant %s", got, want)
	}

	// Other errors have the same shape.
	for _, body := range []string{`{"model":`, `{"input":"hi"}`, `{"model":"m","input":5}`, `[1]`} {
		status, got, _ := post(t, srv.URL+"/responses", []byte(body))
		if status != 400 {
			t.Errorf("%s: status %d", body, status)
		}
		var g any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %s", body, got)
		}
		assertSameKeys(t, body, g, w, nil)
	}
}

// TestInStreamErrorStructureMatchesRecording compares the insufficient_quota
// fault with the recorded in-stream failure.
func TestInStreamErrorStructureMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	srv.Handler().InjectFault(openaitest.InsufficientQuotaFault())
	_, body, _ := post(t, srv.URL+"/responses", []byte(`{"model":"gpt-5-nano","input":"hi","stream":true}`))
	got := parseSSE(t, body)
	want := parseSSE(t, readFixture(t, "vercel-ai__responses_stream_error_insufficient_quota.sse"))
	if g, w := eventTypes(t, got), eventTypes(t, want); !slices.Equal(g, w) {
		t.Fatalf("types %v, want %v", g, w)
	}
	allow := withPrefix("response.", newestResponseKeys(t))
	for i := range want {
		g, w := decode(t, got[i].Data), decode(t, want[i].Data)
		assertSameKeys(t, w["type"].(string), g, w, allow)
	}
	if g, w := decode(t, got[2].Data)["error"], decode(t, want[2].Data)["error"]; fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("error event %v, want %v", g, w)
	}
	if s := decode(t, got[3].Data)["response"].(map[string]any)["status"]; s != "failed" {
		t.Errorf("final status %v", s)
	}
}

// TestChatStreamStructureMatchesRecording compares a chat stream with usage
// with the recordings: chunk kinds, key sets, usage chunk and [DONE].
func TestChatStreamStructureMatchesRecording(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	_, body, _ := post(t, srv.URL+"/chat/completions", []byte(`{"model":"gpt-4.1-nano","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"developer","content":"Use Markdown."},{"role":"user","content":"List three holidays."}]}`))
	for _, fixture := range []string{"vercel-ai__chat_stream_markdown_bold_numbered_usage.sse", "openai-python__chat_stream_usage_done.sse"} {
		t.Run(fixture, func(t *testing.T) {
			got, want := parseSSE(t, body), parseSSE(t, readFixture(t, fixture))
			for _, evs := range [][]sseEvent{got, want} {
				if evs[len(evs)-1].Data != "[DONE]" {
					t.Fatalf("last data %q", evs[len(evs)-1].Data)
				}
				for _, ev := range evs {
					if ev.Name != "" {
						t.Fatalf("chat streams have no event: lines, got %q", ev.Name)
					}
				}
			}
			// Chunk kinds: role, content..., finish, usage.
			kinds := func(evs []sseEvent) (out []string) {
				for _, ev := range evs[:len(evs)-1] {
					m := decode(t, ev.Data)
					ch := m["choices"].([]any)
					switch {
					case len(ch) == 0:
						out = append(out, "usage")
					case ch[0].(map[string]any)["finish_reason"] != nil:
						out = append(out, "finish")
					case ch[0].(map[string]any)["delta"].(map[string]any)["role"] != nil:
						out = append(out, "role")
					default:
						out = append(out, "content")
					}
				}
				return slices.Compact(out)
			}
			if g, w := kinds(got), kinds(want); !slices.Equal(g, w) {
				t.Errorf("chunk kinds %v, want %v", g, w)
			}
			// Key sets per kind. The 2024 openai-python recording predates
			// service_tier, obfuscation, usage:null and the token details, all
			// present in the 2026 vercel recording.
			var allow map[string]bool
			if strings.HasPrefix(fixture, "openai-python") {
				v := parseSSE(t, readFixture(t, "vercel-ai__chat_stream_markdown_bold_numbered_usage.sse"))
				allow = map[string]bool{}
				for _, ev := range v[:len(v)-1] {
					for k := range keyPaths(decode(t, ev.Data)) {
						allow[k] = true
					}
				}
			}
			pick := func(evs []sseEvent, i int) map[string]any { return decode(t, evs[i].Data) }
			n, m := len(got), len(want)
			assertSameKeys(t, "role chunk", pick(got, 0), pick(want, 0), allow)
			assertSameKeys(t, "content chunk", pick(got, 1), pick(want, 1), allow)
			assertSameKeys(t, "finish chunk", pick(got, n-3), pick(want, m-3), allow)
			assertSameKeys(t, "usage chunk", pick(got, n-2), pick(want, m-2), allow)
		})
	}
}
