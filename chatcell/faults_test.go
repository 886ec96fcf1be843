//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/openai/openai-go/v3/option"
)

// A server that misbehaves the way real ones do: it drops, stalls, rate-limits and sends
// garbage. Every fault must end in one line a student understands (the server's own message
// when there is one) and leave the chat's history intact: the turn before it kept, a reply cut
// short kept and marked in a ChatWithHistList, nothing chained onto an unfinished response in
// a Chat.

type fault func(w http.ResponseWriter, r *http.Request, api string)

type badServer struct {
	*httptest.Server
	mu       sync.Mutex
	queue    []fault // the next requests' behaviours; then good replies
	requests int
}

func newBadServer(t *testing.T) *badServer {
	b := &badServer{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := "responses"
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			api = "completions"
		}
		b.mu.Lock()
		b.requests++
		var f fault = good
		if len(b.queue) > 0 {
			f, b.queue = b.queue[0], b.queue[1:]
		}
		b.mu.Unlock()
		f(w, r, api)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *badServer) script(fs ...fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue, b.requests = fs, 0
}

func (b *badServer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

var respSeq int

func sse(w http.ResponseWriter, event string, v any) {
	data, _ := json.Marshal(v)
	if event != "" {
		fmt.Fprintf(w, "event: %s\n", event)
	}
	fmt.Fprintf(w, "data: %s\n\n", data)
	w.(http.Flusher).Flush()
}

func startStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
}

// deltas starts a stream and sends two pieces of text.
func deltas(w http.ResponseWriter, api string) {
	startStream(w)
	for _, d := range []string{"流冰", "是海上的冰。"} {
		if api == "responses" {
			sse(w, "response.output_text.delta", map[string]any{"type": "response.output_text.delta", "sequence_number": 1,
				"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": d})
		} else {
			sse(w, "", map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
				"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": d}, "finish_reason": nil}}})
		}
	}
}

func good(w http.ResponseWriter, r *http.Request, api string) {
	deltas(w, api)
	respSeq++
	if api == "responses" {
		sse(w, "response.completed", map[string]any{"type": "response.completed", "sequence_number": 9, "response": map[string]any{
			"id": fmt.Sprintf("resp_%d", respSeq), "object": "response", "status": "completed", "model": "m",
			"output": []any{map[string]any{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
				"content": []any{map[string]any{"type": "output_text", "text": "流冰是海上的冰。", "annotations": []any{}}}}},
			"usage": map[string]any{"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}}})
		return
	}
	sse(w, "", map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
		"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}})
	sse(w, "", map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
		"choices": []any{}, "usage": map[string]any{"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func status(code int, body string, headers ...string) fault {
	return func(w http.ResponseWriter, r *http.Request, api string) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if strings.HasPrefix(body, "<") {
			w.Header().Set("Content-Type", "text/html")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func apiError(code int, typ, errCode, msg string, headers ...string) fault {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": errCode}})
	return status(code, string(body), headers...)
}

// reset drops the TCP connection with a RST.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func sleepUntilGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

var (
	resetAfterText  fault = func(w http.ResponseWriter, r *http.Request, api string) { deltas(w, api); reset(w) }
	eofAfterText    fault = func(w http.ResponseWriter, r *http.Request, api string) { deltas(w, api) }
	resetFirst      fault = func(w http.ResponseWriter, r *http.Request, api string) { reset(w) }
	silentHeaders   fault = func(w http.ResponseWriter, r *http.Request, api string) { sleepUntilGone(r) }
	silentAfterHead fault = func(w http.ResponseWriter, r *http.Request, api string) { startStream(w); sleepUntilGone(r) }
	stallMidReply   fault = func(w http.ResponseWriter, r *http.Request, api string) { deltas(w, api); sleepUntilGone(r) }
	emptyStream     fault = func(w http.ResponseWriter, r *http.Request, api string) { startStream(w) }
	badLine         fault = func(w http.ResponseWriter, r *http.Request, api string) {
		deltas(w, api)
		fmt.Fprint(w, "data: hello, I am not JSON\n\n")
	}
	truncatedJSON fault = func(w http.ResponseWriter, r *http.Request, api string) {
		deltas(w, api)
		fmt.Fprint(w, "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\n\n")
	}
	htmlPortal fault = func(w http.ResponseWriter, r *http.Request, api string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Campus Wi-Fi Login</title></head><body>Please sign in</body></html>")
	}
	jsonDocument fault = func(w http.ResponseWriter, r *http.Request, api string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"resp_1","object":"response","status":"completed","output":[]}`)
	}
	flatErrorAfterText fault = func(w http.ResponseWriter, r *http.Request, api string) {
		deltas(w, api)
		if api == "responses" {
			sse(w, "error", map[string]any{"type": "error", "code": "server_error", "message": "The model overloaded mid-answer.", "param": nil, "sequence_number": 3})
		} else {
			sse(w, "", map[string]any{"error": map[string]any{"code": "server_error", "message": "The model overloaded mid-answer.", "type": "server_error"}})
		}
	}
	flatErrorFirst fault = func(w http.ResponseWriter, r *http.Request, api string) {
		startStream(w)
		if api == "responses" {
			sse(w, "error", map[string]any{"type": "error", "code": "context_length_exceeded", "message": "Your input exceeds the context window of this model.", "param": "input", "sequence_number": 0})
		} else {
			sse(w, "", map[string]any{"error": map[string]any{"code": "context_length_exceeded", "message": "Your input exceeds the context window of this model.", "type": "invalid_request_error"}})
		}
	}
	// A 200 whose body is neither an event stream nor HTML (a proxy's "OK", a JSON document
	// without its content type): without a look at the first bytes an SSE parser skips it as
	// unknown fields, and the reply reads as an empty stream.
	plainText200 fault = func(w http.ResponseWriter, r *http.Request, api string) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "OK")
	}
	untypedJSON200 fault = func(w http.ResponseWriter, r *http.Request, api string) {
		w.Header()["Content-Type"] = nil
		fmt.Fprint(w, `{"id":"resp_1","object":"response","status":"completed","output":[]}`)
	}
	nestedNullCode fault = func(w http.ResponseWriter, r *http.Request, api string) {
		startStream(w)
		sse(w, "error", map[string]any{"type": "error", "error": map[string]any{"type": "server_error", "code": nil,
			"message": "The server had an error while processing your request. Sorry about that!"}})
	}
)

type faultCase struct {
	name   string
	raw    bool     // the line quotes what the server sent (so it may show JSON)
	not    []string // must not be in the line
	faults []fault
	want   []string // in the line
	text   bool     // text arrived before the fault (a ChatWithHistList keeps it, marked)
	ok     bool     // the turn succeeds in the end (a retry)
	slow   bool
	tries  int // requests the turn should make (0: don't check)
}

func faultCases() []faultCase {
	rateLimit := apiError(429, "requests", "rate_limit_exceeded", "Rate limit reached for gpt-4.1-nano on requests per min (RPM): Limit 3, Used 3.", "Retry-After", "1")
	return []faultCase{
		{name: "400", faults: []fault{apiError(400, "invalid_request_error", "invalid_value", "Invalid value for 'temperature': must be at most 2.")}, want: []string{"400 Bad Request", "Invalid value for 'temperature'"}, tries: 1},
		{name: "401", faults: []fault{apiError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-proj-********abcd.")}, want: []string{"401 Unauthorized", "Incorrect API key", "check the key"}, tries: 1},
		{name: "403", faults: []fault{apiError(403, "invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported")}, want: []string{"403 Forbidden", "not supported"}, not: []string{"check the key"}, tries: 1},
		{name: "404-model", faults: []fault{apiError(404, "invalid_request_error", "model_not_found", "The model `gpt-9` does not exist or you do not have access to it.")}, want: []string{"404 Not Found", "gpt-9"}, tries: 1},
		{name: "429-quota", faults: []fault{apiError(429, "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details.")}, want: []string{"429", "exceeded your current quota"}, tries: 1},
		{name: "429-then-ok", faults: []fault{rateLimit}, ok: true, tries: 2, slow: true},
		{name: "429-always", faults: []fault{rateLimit, rateLimit, rateLimit}, want: []string{"429 Too Many Requests", "Rate limit reached"}, tries: 3, slow: true},
		{name: "429-wait-too-long", faults: []fault{apiError(429, "requests", "rate_limit_exceeded", "Rate limit reached for requests per day (RPD).", "Retry-After", "3600")}, want: []string{"429", "requests per day"}, tries: 1},
		{name: "500-then-ok", faults: []fault{apiError(500, "server_error", "", "The server had an error while processing your request.")}, ok: true, tries: 2},
		{name: "502-html", faults: []fault{status(502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"), status(502, "<html><head><title>502 Bad Gateway</title></head></html>"), status(502, "<html><head><title>502 Bad Gateway</title></head></html>")}, want: []string{"502 Bad Gateway"}, tries: 3, slow: true},
		{name: "html-200", faults: []fault{htmlPortal}, want: []string{"not an OpenAI stream", "HTML", "Campus Wi-Fi Login"}, tries: 1},
		{name: "text-200", faults: []fault{plainText200}, want: []string{"not an OpenAI stream", "text instead of an event stream", "«OK»"}, not: []string{"empty stream"}, tries: 1},
		{name: "untyped-json-200", raw: true, faults: []fault{untypedJSON200}, want: []string{"not an OpenAI stream", "stream=true"}, tries: 1},
		{name: "json-200", raw: true, faults: []fault{jsonDocument}, want: []string{"not an OpenAI stream", "stream=true"}, tries: 1},
		{name: "bad-line", faults: []fault{badLine}, want: []string{"cut off", "not an OpenAI stream", "hello, I am not JSON"}, text: true},
		{name: "truncated-json", raw: true, faults: []fault{truncatedJSON}, want: []string{"cut off", "not an OpenAI stream"}, text: true},
		{name: "flat-error-after-text", faults: []fault{flatErrorAfterText}, want: []string{"cut off", "server_error", "The model overloaded mid-answer."}, text: true},
		{name: "flat-error-first", faults: []fault{flatErrorFirst}, want: []string{"context_length_exceeded", "exceeds the context window"}, tries: 1},
		{name: "nested-null-code", faults: []fault{nestedNullCode}, want: []string{"stopped the reply", "The server had an error while processing your request."}},
		{name: "reset-after-text", faults: []fault{resetAfterText}, want: []string{"cut off after", "characters"}, text: true},
		{name: "eof-after-text", faults: []fault{eofAfterText}, want: []string{"cut off after", "closed early"}, text: true},
		{name: "reset-before-headers", faults: []fault{resetFirst, resetFirst, resetFirst}, want: []string{"connection was lost before the reply started"}, tries: 3, slow: true},
		{name: "reset-once", faults: []fault{resetFirst}, ok: true, tries: 2},
		{name: "empty-stream-once", faults: []fault{emptyStream}, ok: true, tries: 2},
		{name: "empty-stream", faults: []fault{emptyStream, emptyStream, emptyStream}, want: []string{"before the reply started", "empty stream"}, tries: 3, slow: true},
		{name: "silent-before-headers", faults: []fault{silentHeaders}, want: []string{"no response", "did not answer within 1 s"}, slow: true, tries: 1},
		{name: "silent-after-headers", faults: []fault{silentAfterHead}, want: []string{"no response", "accepted the request but sent nothing for 1 s"}, slow: true, tries: 1},
		{name: "stall-mid-reply", faults: []fault{stallMidReply}, want: []string{"cut off after", "silent for 1 s", "WithStallTimeout"}, text: true, slow: true},
	}
}

// junk is what no error line may show: parser and transport internals, raw JSON, the SDK's
// empty summary.
var junk = []string{"unexpected EOF", "invalid character", "requestconfig", "OpenAI API error", `{"`, "connection ended before", "%!", "127.0.0.1", "tcp ", "Bad Gateway: 502"}

func TestFaultSuite(t *testing.T) {
	srv := newBadServer(t)
	kinds := []string{"chat", "hist", "hist-completions"}
	timeouts := []chatcell.CallOption{chatcell.WithStartTimeout(time.Second), chatcell.WithStallTimeout(time.Second)}
	for _, fc := range faultCases() {
		for _, kind := range kinds {
			t.Run(fc.name+"/"+kind, func(t *testing.T) {
				if fc.slow && testing.Short() {
					t.Skip("waits for retries or timeouts")
				}
				srv.script()
				conn := []chatcell.ConnOption{chatcell.WithBaseURL(srv.URL + "/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789")}
				var ask func() (string, error)
				var check func(t *testing.T)
				switch kind {
				case "chat":
					c := chatcell.New(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), conn[0], conn[1])
					if _, err := c.Reply(context.Background(), "第一題"); err != nil {
						t.Fatal(err)
					}
					before := c.LastID()
					ask = func() (string, error) { return c.Reply(context.Background(), "流冰是什麼？", timeouts...) }
					check = func(t *testing.T) {
						if fc.ok {
							if c.Turns() != 2 || c.LastID() == before {
								t.Errorf("a retried turn was not recorded: %d turns", c.Turns())
							}
						} else if c.LastID() != before || c.Turns() != 1 {
							t.Errorf("the fault changed the chat: last %q (was %q), %d turns", c.LastID(), before, c.Turns())
						}
						if got := c.Err(); (got == nil) != fc.ok {
							t.Errorf("Err() = %v", got)
						}
					}
				default:
					opts := []chatcell.HistOption{chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), conn[0], conn[1]}
					if kind == "hist-completions" {
						opts = append(opts, chatcell.WithBackend(completions.Backend{}))
					}
					c := chatcell.NewHistList(opts...)
					if _, err := c.Reply(context.Background(), "第一題"); err != nil {
						t.Fatal(err)
					}
					ask = func() (string, error) { return c.Reply(context.Background(), "流冰是什麼？", timeouts...) }
					check = func(t *testing.T) {
						msgs := c.Messages()
						switch {
						case fc.ok:
							if len(msgs) != 4 || msgs[3].Partial {
								t.Errorf("a retried turn: %+v", msgs)
							}
						case fc.text:
							if len(msgs) != 4 || !msgs[3].Partial || msgs[3].Content != "流冰是海上的冰。" || msgs[2].Content != "流冰是什麼？" {
								t.Errorf("the part that arrived is not kept, marked: %+v", msgs)
							}
						default:
							if len(msgs) != 2 || msgs[0].Content != "第一題" {
								t.Errorf("a refused request changed the history: %+v", msgs)
							}
						}
					}
				}
				srv.script(fc.faults...)
				_, err := ask()
				check(t)
				if fc.tries > 0 && srv.count() != fc.tries {
					t.Errorf("%d requests, want %d", srv.count(), fc.tries)
				}
				if fc.ok {
					if err != nil {
						t.Errorf("the retried turn failed: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatal("no error")
				}
				line := err.Error()
				t.Log(line)
				if line != chatcell.Describe(err) {
					t.Errorf("Error() %q differs from Describe %q", line, chatcell.Describe(err))
				}
				if strings.Contains(line, "\n") {
					t.Errorf("more than one line: %q", line)
				}
				for _, w := range fc.want {
					if !strings.Contains(line, w) {
						t.Errorf("line %q lacks %q", line, w)
					}
				}
				for _, j := range append(fc.not, junk...) {
					if strings.Contains(line, j) && !(fc.raw && j == `{"`) {
						t.Errorf("line %q shows %q", line, j)
					}
				}
				if kind != "chat" && fc.text && !strings.Contains(line, "kept in the history") {
					t.Errorf("line %q does not say the part that arrived is kept", line)
				}
				if kind == "chat" && fc.text && !strings.Contains(line, "not in the thread") {
					t.Errorf("line %q does not say the part shown is not in the thread", line)
				}
			})
		}
	}
}

func optionHeader(k, v string) option.RequestOption { return option.WithHeader(k, v) }

// ShowEvents prints the raw events, but a server that misbehaves gets the same guards and the
// same lines as a chat's reply: an HTML page or a broken line quoted, a silent server bounded.
func TestShowEventsFaults(t *testing.T) {
	srv := newBadServer(t)
	cases := []struct {
		name string
		f    []fault
		is   error
		want []string
	}{
		// Refused in the headers, an HTML page is retried by the SDK like a lost connection.
		{"html-200", []fault{htmlPortal, htmlPortal, htmlPortal}, chatcell.ErrNotAStream, []string{"HTML", "Campus Wi-Fi Login"}},
		{"text-200", []fault{plainText200}, chatcell.ErrNotAStream, []string{"«OK»"}},
		{"bad-line", []fault{badLine}, chatcell.ErrNotAStream, []string{"hello, I am not JSON"}},
		{"silent-before-headers", []fault{silentHeaders}, chatcell.ErrNoResponse, []string{"did not answer within 1 s"}},
		{"silent-after-headers", []fault{silentAfterHead}, chatcell.ErrNoResponse, []string{"sent nothing for 1 s"}},
		{"stall-mid-reply", []fault{stallMidReply}, chatcell.ErrStalled, []string{"sent nothing for 1 s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.script(c.f...)
			start := time.Now()
			err := chatcell.ShowEvents("hi", chatcell.WithBaseURL(srv.URL+"/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789"),
				chatcell.WithQuiet(), chatcell.WithStartTimeout(time.Second), chatcell.WithStallTimeout(time.Second))
			if err == nil {
				t.Fatal("no error")
			}
			line := err.Error()
			t.Logf("%s (after %v)", line, time.Since(start).Round(100*time.Millisecond))
			if !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v) is false", c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
			for _, j := range junk {
				if strings.Contains(line, j) && !(c.name == "bad-line" && j == `{"`) {
					t.Errorf("line %q shows %q", line, j)
				}
			}
		})
	}
}

// A base URL with https:// for a server that speaks plain HTTP (a local vLLM or Ollama) says
// so, instead of Go's `Post "https://…": http: server gave HTTP response to HTTPS client`.
func TestPlainHTTPServerLine(t *testing.T) {
	srv := newBadServer(t)
	host := srv.Listener.Addr().String()
	h := chatcell.NewHistList(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithLanguage("en"),
		chatcell.WithBaseURL("https://"+host+"/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789"))
	_, err := h.Reply(context.Background(), "hi")
	want := "cannot talk to " + host + " over HTTPS: it answers in plain HTTP (use http:// in the base URL)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// A refused key gets the same line from the one-shot calls as from a chat: which key to check.
func TestOneShotsSayWhichKeyToCheck(t *testing.T) {
	srv := newBadServer(t)
	refused := apiError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-proj-********abcd.")
	opts := []chatcell.CreateOption{chatcell.WithBaseURL(srv.URL + "/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789"),
		chatcell.WithQuiet(), chatcell.WithLanguage("en")}
	calls := map[string]func() error{
		"CreateContext": func() error { _, err := chatcell.CreateContext(context.Background(), "hi", opts...); return err },
		"ShowEvents":    func() error { return chatcell.ShowEvents("hi", opts...) },
	}
	for name, call := range calls {
		srv.script(refused)
		err := call()
		if err == nil || !strings.Contains(err.Error(), "Incorrect API key") || !strings.HasSuffix(err.Error(), "(check the key given with WithAPIKey)") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A refusal says what to check where it can tell: a class gateway's token is not a key to fix
// in OPENAI_API_KEY, and a server of one's own that answers the Responses API with 404 most
// likely has only Chat Completions.
func TestRefusalHints(t *testing.T) {
	srv := newBadServer(t)
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", chatcell.EnvGatewayToken} {
		t.Setenv(k, "")
	}
	hist := func(more ...chatcell.HistOption) error {
		h := chatcell.NewHistList(append([]chatcell.HistOption{chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithLanguage("en")}, more...)...)
		_, err := h.Reply(context.Background(), "hi")
		return err
	}
	t.Run("gateway token", func(t *testing.T) {
		t.Setenv(chatcell.EnvGateway, srv.URL+"/v1")
		t.Setenv("JUPYTERHUB_API_TOKEN", "hub-token-0123456789abcdef")
		srv.script(apiError(401, "invalid_request_error", "invalid_api_key", "The class gateway does not know this token."))
		err := hist()
		if err == nil || !strings.HasSuffix(err.Error(), "(the class gateway did not accept this notebook's token (JUPYTERHUB_API_TOKEN): ask your teacher)") {
			t.Errorf("%v", err)
		}
		if err != nil && strings.Contains(err.Error(), "OPENAI_API_KEY") {
			t.Errorf("a student is told to check a key they do not have: %v", err)
		}
	})
	notFound := func() fault { return apiError(404, "invalid_request_error", "", "Invalid URL (POST /v1/responses)") }
	const responsesHint = "(this server may have no Responses API: for Chat Completions use NewHistList(WithBackend(completions.Backend{})))"
	// a server of one's own, as its users name it: OPENAI_BASE_URL and OPENAI_API_KEY
	ownServer := func(t *testing.T) {
		t.Setenv("OPENAI_BASE_URL", srv.URL+"/v1")
		t.Setenv("OPENAI_API_KEY", "sk-test-faults-0123456789")
	}
	t.Run("no Responses API", func(t *testing.T) {
		ownServer(t)
		srv.script(notFound())
		if err := hist(); err == nil || !strings.HasSuffix(err.Error(), responsesHint) {
			t.Errorf("ChatWithHistList: %v", err)
		}
		srv.script(notFound())
		c := chatcell.New(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithLanguage("en"))
		c.Ask("hi")
		if err := c.Err(); err == nil || !strings.HasSuffix(err.Error(), responsesHint) {
			t.Errorf("Chat: %v", err)
		}
		srv.script(notFound())
		if _, err := chatcell.CreateContext(context.Background(), "hi", chatcell.WithQuiet()); err == nil || !strings.HasSuffix(err.Error(), responsesHint) {
			t.Errorf("Create: %v", err)
		}
	})
	t.Run("other 404s", func(t *testing.T) {
		ownServer(t)
		srv.script(apiError(404, "invalid_request_error", "model_not_found", "The model `gpt-9` does not exist or you do not have access to it."))
		if err := hist(); err == nil || strings.Contains(err.Error(), "Responses API") {
			t.Errorf("a missing model: %v", err)
		}
		srv.script(apiError(404, "invalid_request_error", "", "Not found"))
		if err := hist(chatcell.WithBackend(completions.Backend{})); err == nil || strings.Contains(err.Error(), "Responses API") {
			t.Errorf("Chat Completions: %v", err)
		}
	})
}

// A proxy set after the process made its first request counts for the next one: in kernel mode
// one helper process serves every cell of a kernel, and `%env HTTP_PROXY=…` in a later cell must
// work as it does when each cell is a new process.
func TestProxySetLaterCounts(t *testing.T) {
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	proxy := newBadServer(t) // serves the request it is given, as a proxy that reaches the host would
	ask := func() error {
		h := chatcell.NewHistList(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithLanguage("en"),
			chatcell.WithBaseURL("http://llm.lab.invalid/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789"))
		_, err := h.Reply(context.Background(), "hi")
		return err
	}
	if err := ask(); err == nil || !strings.Contains(err.Error(), "llm.lab.invalid") {
		t.Fatalf("without a proxy: %v", err)
	}
	t.Setenv("HTTP_PROXY", proxy.URL)
	if err := ask(); err != nil || proxy.count() != 1 {
		t.Errorf("with the proxy set later: %v, %d requests through the proxy", err, proxy.count())
	}
}

// The lesson's cells pass chat.LastID() on; when the chat has no response yet (its loop ended at
// once, without input boxes) the call says so before any request, instead of the SDK's
// "missing required response_id parameter".
func TestEmptyResponseID(t *testing.T) {
	srv := newBadServer(t)
	opts := []chatcell.CreateOption{chatcell.WithBaseURL(srv.URL + "/v1"), chatcell.WithAPIKey("sk-test-faults-0123456789"),
		chatcell.WithQuiet(), chatcell.WithLanguage("en")}
	calls := map[string]func() error{
		"Retrieve":   func() error { _, err := chatcell.RetrieveContext(context.Background(), "", opts...); return err },
		"InputItems": func() error { _, err := chatcell.InputItemsContext(context.Background(), " ", opts...); return err },
		"Delete":     func() error { return chatcell.DeleteContext(context.Background(), "", opts...) },
	}
	for name, call := range calls {
		err := call()
		if err == nil || !strings.HasPrefix(err.Error(), name+": the response id is empty") {
			t.Errorf("%s(\"\"): %v", name, err)
		}
	}
	if srv.count() != 0 {
		t.Errorf("%d requests for an empty id", srv.count())
	}
}
