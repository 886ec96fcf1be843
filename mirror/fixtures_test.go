package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/internal/recorded"
	"github.com/gonbchat/gonbchat/mirror"
)

// server is a mirror Handler on a port.
type server struct {
	URL string // ends in /v1
}

func newServer(t *testing.T) server {
	ts := httptest.NewServer(mirror.NewHandler(mirror.WithPace(0)))
	t.Cleanup(ts.Close)
	return server{URL: ts.URL + "/v1"}
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
	names, err := filepath.Glob(filepath.Join(recorded.Dir, "*"))
	if err != nil || len(names) < 20 {
		t.Fatalf("fixtures: %v %d", err, len(names))
	}
	for _, path := range names {
		name := filepath.Base(path)
		switch {
		case strings.HasPrefix(name, "pydantic-ai__responses_stream") && strings.HasSuffix(name, ".sse"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "text/event-stream; charset=utf-8", recorded.Read(t, name))
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
				c := replayServer(t, 200, "text/event-stream", recorded.Read(t, name))
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
				c := replayServer(t, 200, "application/json", recorded.Read(t, name))
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
				c := replayServer(t, 400, "application/json", recorded.Read(t, name))
				_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o"})
				var apiErr *responses.Error
				if !errors.As(err, &apiErr) || apiErr.Code != "decimal_below_min_value" || apiErr.Param != "temperature" {
					t.Fatalf("err %v", err)
				}
			})
		case strings.Contains(name, "__chat_stream"):
			t.Run(name, func(t *testing.T) {
				c := replayServer(t, 200, "text/event-stream", recorded.Read(t, name))
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
	srv := newServer(t)
	newest := recorded.NewestResponseKeys(t)

	// The recorded request body, sent as is.
	status, body, hdr := recorded.Post(t, srv.URL+"/responses", recorded.Read(t, "pydantic-ai__responses_stream_bold_links_annotations.2.request.json"))
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %s", status, hdr.Get("Content-Type"))
	}
	got := recorded.ParseSSE(t, body)
	want := recorded.ParseSSE(t, recorded.Read(t, "pydantic-ai__responses_stream_bold_links_annotations.2.status200.sse"))

	gotTypes, wantTypes := recorded.EventTypes(t, got), recorded.EventTypes(t, want)
	if !slices.Equal(recorded.Collapse(gotTypes), recorded.Collapse(wantTypes)) {
		t.Errorf("event types\n got %v\nwant %v", recorded.Collapse(gotTypes), recorded.Collapse(wantTypes))
	}
	for i, ev := range got {
		m := recorded.Decode(t, ev.Data)
		if ev.Name != m["type"] {
			t.Errorf("event %d: event: %q but type %q", i, ev.Name, m["type"])
		}
		if m["sequence_number"] != float64(i) {
			t.Errorf("event %d: sequence_number %v", i, m["sequence_number"])
		}
	}
	allow := recorded.WithPrefix("response.", newest)
	for _, typ := range recorded.Collapse(wantTypes) {
		recorded.AssertSameKeys(t, typ, recorded.FirstOfType(t, got, typ), recorded.FirstOfType(t, want, typ), allow)
	}

	// Against the newest recording (gpt-4.1, 2026-06) the keys match exactly,
	// without allowances, for the response object and the message's events.
	want = recorded.ParseSSE(t, recorded.Read(t, "pydantic-ai__responses_stream_markdown_hr_bold_list.0.status200.sse"))
	for _, typ := range []string{"response.created", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done"} {
		g, w := recorded.FirstOfType(t, got, typ), recorded.FirstOfType(t, want, typ)
		if r, ok := w["response"].(map[string]any); ok { // that recording has MCP tools
			delete(r, "tools")
			delete(g["response"].(map[string]any), "tools")
		}
		recorded.AssertSameKeys(t, typ+" (gpt-4.1)", g, w, nil)
	}
	final := recorded.Decode(t, got[len(got)-1].Data)["response"].(map[string]any)
	usage := final["usage"].(map[string]any)
	recorded.AssertSameKeys(t, "usage", usage, recorded.FirstOfType(t, want, "response.completed")["response"].(map[string]any)["usage"], nil)
}

// TestNonStreamingChainStructureMatchesRecording sends the recorded chain's
// two requests and compares the response objects' keys.
func TestNonStreamingChainStructureMatchesRecording(t *testing.T) {
	srv := newServer(t)
	newest := recorded.NewestResponseKeys(t)
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

	status, b1, _ := recorded.Post(t, srv.URL+"/responses", recorded.Read(t, "pydantic-ai__responses_previous_response_id_chain.0.request.json"))
	if status != 200 {
		t.Fatalf("status %d: %s", status, b1)
	}
	first := recorded.Decode(t, string(b1))
	want := messagesOnly(recorded.Decode(t, string(recorded.Read(t, "pydantic-ai__responses_previous_response_id_chain.0.status200.json"))))
	recorded.AssertSameKeys(t, "first response", first, want, newest)

	// The second recorded request, pointed at our first response.
	var req2 map[string]any
	if err := json.Unmarshal(recorded.Read(t, "pydantic-ai__responses_previous_response_id_chain.1.request.json"), &req2); err != nil {
		t.Fatal(err)
	}
	req2["previous_response_id"] = first["id"]
	body, _ := json.Marshal(req2)
	status, b2, _ := recorded.Post(t, srv.URL+"/responses", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b2)
	}
	second := recorded.Decode(t, string(b2))
	want = messagesOnly(recorded.Decode(t, string(recorded.Read(t, "pydantic-ai__responses_previous_response_id_chain.1.status200.json"))))
	recorded.AssertSameKeys(t, "chained response", second, want, newest)
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
	srv := newServer(t)
	status, got, hdr := recorded.Post(t, srv.URL+"/responses", recorded.Read(t, "pydantic-ai__responses_http_400_error.0.request.json"))
	if status != 400 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s", status, hdr.Get("Content-Type"))
	}
	want := recorded.Read(t, "pydantic-ai__responses_http_400_error.0.status400.json")
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("error body\n got %s\nwant %s", got, want)
	}

	// Other errors have the same shape.
	for _, body := range []string{`{"model":`, `{"input":"hi"}`, `{"model":"m","input":5}`, `[1]`} {
		status, got, _ := recorded.Post(t, srv.URL+"/responses", []byte(body))
		if status != 400 {
			t.Errorf("%s: status %d", body, status)
		}
		var g any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %s", body, got)
		}
		recorded.AssertSameKeys(t, body, g, w, nil)
	}
}

// TestChatStreamStructureMatchesRecording compares a chat stream with usage
// with the recordings: chunk kinds, key sets, usage chunk and [DONE].
func TestChatStreamStructureMatchesRecording(t *testing.T) {
	srv := newServer(t)
	_, body, _ := recorded.Post(t, srv.URL+"/chat/completions", []byte(`{"model":"gpt-4.1-nano","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"developer","content":"Use Markdown."},{"role":"user","content":"List three holidays."}]}`))
	for _, fixture := range []string{"vercel-ai__chat_stream_markdown_bold_numbered_usage.sse", "openai-python__chat_stream_usage_done.sse"} {
		t.Run(fixture, func(t *testing.T) {
			got, want := recorded.ParseSSE(t, body), recorded.ParseSSE(t, recorded.Read(t, fixture))
			for _, evs := range [][]recorded.Event{got, want} {
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
			kinds := func(evs []recorded.Event) (out []string) {
				for _, ev := range evs[:len(evs)-1] {
					m := recorded.Decode(t, ev.Data)
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
				v := recorded.ParseSSE(t, recorded.Read(t, "vercel-ai__chat_stream_markdown_bold_numbered_usage.sse"))
				allow = map[string]bool{}
				for _, ev := range v[:len(v)-1] {
					for k := range recorded.KeyPaths(recorded.Decode(t, ev.Data)) {
						allow[k] = true
					}
				}
			}
			pick := func(evs []recorded.Event, i int) map[string]any { return recorded.Decode(t, evs[i].Data) }
			n, m := len(got), len(want)
			recorded.AssertSameKeys(t, "role chunk", pick(got, 0), pick(want, 0), allow)
			recorded.AssertSameKeys(t, "content chunk", pick(got, 1), pick(want, 1), allow)
			recorded.AssertSameKeys(t, "finish chunk", pick(got, n-3), pick(want, m-3), allow)
			recorded.AssertSameKeys(t, "usage chunk", pick(got, n-2), pick(want, m-2), allow)
		})
	}
}
