package openaitest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/internal/recorded"
	"github.com/gonbchat/gonbchat/openaitest"
)

// outcome is what a client saw of a stream.
type outcome struct {
	types []string // the Responses event types, or "chunk" for each Chat Completions chunk
	text  string   // the text deltas
	last  string   // the raw JSON of the last event
	err   error
}

// responsesStream reads a streaming Responses request to its end; cancel, if set, is called
// after the event number cancelAfter.
func responsesStream(ctx context.Context, c openai.Client, cancelAfter int, cancel func(), opts ...option.RequestOption) outcome {
	s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}, opts...)
	var o outcome
	for s.Next() {
		ev := s.Current()
		o.types = append(o.types, ev.Type)
		o.last = ev.RawJSON()
		if ev.Type == "response.output_text.delta" {
			o.text += ev.Delta
		}
		if cancel != nil && len(o.types) == cancelAfter {
			cancel()
		}
	}
	o.err = s.Err()
	return o
}

// chatStream reads a streaming Chat Completions request to its end, like responsesStream.
func chatStream(ctx context.Context, c openai.Client, cancelAfter int, cancel func(), opts ...option.RequestOption) outcome {
	s := c.Chat.Completions.NewStreaming(ctx, chatParams(), opts...)
	var o outcome
	for s.Next() {
		ch := s.Current()
		o.types = append(o.types, "chunk")
		o.last = ch.RawJSON()
		if len(ch.Choices) > 0 {
			o.text += ch.Choices[0].Delta.Content
		}
		if cancel != nil && len(o.types) == cancelAfter {
			cancel()
		}
	}
	o.err = s.Err()
	return o
}

// rawStream posts a streaming request through h's in-process transport and returns the events
// as sent.
func rawStream(t *testing.T, h *openaitest.Handler, path, body string) []recorded.Event {
	t.Helper()
	res, err := (&http.Client{Transport: h.Transport()}).Post(openaitest.InProcessBaseURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return recorded.ParseSSE(t, b)
}

const responsesBody = `{"model":"gpt-4.1-nano","input":"hi","stream":true}`

// After the reply started (some deltas arrived), the connection is reset: the client reads
// ECONNRESET, where a dropped stream reads an unexpected EOF.
func TestResetAfterTheReplyStarted(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		h.InjectFault(openaitest.Fault{Path: "/v1/responses", ResetAfterEvents: 6})
		o := responsesStream(ctx, c, 0, nil)
		if len(o.types) != 6 || o.types[5] != "response.output_text.delta" || o.text == "" {
			t.Errorf("events before the reset: %v", o.types)
		}
		if !errors.Is(o.err, syscall.ECONNRESET) || errors.Is(o.err, io.ErrUnexpectedEOF) {
			t.Errorf("err %v, want a connection reset", o.err)
		}

		h.InjectFault(openaitest.Fault{Path: "/v1/chat/completions", ResetAfterEvents: 3})
		o = chatStream(ctx, c, 0, nil)
		if len(o.types) != 3 || o.text == "" || !errors.Is(o.err, syscall.ECONNRESET) {
			t.Errorf("chat: %d chunks, text %q, err %v", len(o.types), o.text, o.err)
		}

		// A drop is a clean end of the connection mid-stream.
		h.InjectFault(openaitest.Fault{DropAfterEvents: 6})
		o = responsesStream(ctx, c, 0, nil)
		if len(o.types) != 6 || !errors.Is(o.err, io.ErrUnexpectedEOF) || errors.Is(o.err, syscall.ECONNRESET) {
			t.Errorf("drop: %d events, err %v", len(o.types), o.err)
		}

		// The faults were used up: the next streams complete.
		if o := responsesStream(ctx, c, 0, nil); o.err != nil || o.types[len(o.types)-1] != "response.completed" {
			t.Errorf("next stream: %v %v", o.types, o.err)
		}
		if o := chatStream(ctx, c, 0, nil); o.err != nil {
			t.Errorf("next chat stream: %v", o.err)
		}
	})
}

// A malformed event (a data: line that is not JSON, or JSON cut in the middle) is a JSON
// syntax error for the client, after the events before it.
func TestMalformedEvents(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		for _, m := range []openaitest.Malformation{openaitest.NotJSON, openaitest.TruncatedJSON} {
			h.InjectFault(openaitest.Fault{Path: "/v1/responses", Malformed: m, AfterEvents: 4})
			o := responsesStream(ctx, c, 0, nil)
			var se *json.SyntaxError
			if len(o.types) != 4 || !errors.As(o.err, &se) {
				t.Errorf("malformation %d: events %v, err %T %v", m, o.types, o.err, o.err)
			}
			h.InjectFault(openaitest.Fault{Path: "/v1/chat/completions", Malformed: m, AfterEvents: 2})
			o = chatStream(ctx, c, 0, nil)
			if len(o.types) != 2 || !errors.As(o.err, &se) {
				t.Errorf("chat malformation %d: %d chunks, err %T %v", m, len(o.types), o.err, o.err)
			}
		}

		// What is sent: the events before, the malformed one, and nothing after it.
		h.InjectFault(openaitest.Fault{Malformed: openaitest.NotJSON, AfterEvents: 4})
		evs := rawStream(t, h, "/responses", responsesBody)
		if len(evs) != 5 || json.Valid([]byte(evs[4].Data)) || !strings.HasPrefix(evs[4].Data, "upstream connect error") {
			t.Errorf("events %+v", evs)
		}
		h.InjectFault(openaitest.Fault{Malformed: openaitest.TruncatedJSON, AfterEvents: 4})
		evs = rawStream(t, h, "/responses", responsesBody)
		last := evs[len(evs)-1]
		if len(evs) != 5 || json.Valid([]byte(last.Data)) || !strings.HasPrefix(last.Data, `{"type":"response.output_text.delta"`) ||
			last.Name != "response.output_text.delta" {
			t.Errorf("events %+v", evs)
		}
	})
}

// A captive portal answers 200 with an HTML page. openai-go reads it as a stream without
// events and without error (the client must notice), and as an error for a non-streaming call.
func TestCaptivePortal(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		h.InjectFault(openaitest.CaptivePortalFault())
		var res *http.Response
		o := responsesStream(ctx, c, 0, nil, option.WithResponseInto(&res))
		if res == nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("response %+v", res)
		}
		if len(o.types) != 0 || o.err != nil {
			t.Errorf("events %v, err %v", o.types, o.err)
		}

		h.InjectFault(openaitest.CaptivePortalFault())
		if o := chatStream(ctx, c, 0, nil); len(o.types) != 0 || o.err != nil {
			t.Errorf("chat: %d chunks, err %v", len(o.types), o.err)
		}

		h.InjectFault(openaitest.CaptivePortalFault())
		_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
		if err == nil || !strings.Contains(err.Error(), "text/html") {
			t.Errorf("non-streaming: %v", err)
		}

		h.InjectFault(openaitest.CaptivePortalFault())
		raw, err := (&http.Client{Transport: h.Transport()}).Get(openaitest.InProcessBaseURL + "/models")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(raw.Body)
		raw.Body.Close()
		if string(b) != openaitest.CaptivePortalPage || raw.StatusCode != 200 {
			t.Errorf("%d %s", raw.StatusCode, b)
		}
	})
}

// The API reference's flat error event: event "error" with code and message at the top
// level, then the end of the stream. openai-go does not see an error: it is an event of type
// "error", and the stream ends cleanly.
func TestFlatErrorEvent(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		f := openaitest.Fault{Path: "/v1/responses", StreamError: true, ErrorShape: openaitest.FlatError,
			Error: openaitest.FaultError{Code: "server_error", Message: "The model is overloaded."}}
		h.InjectFault(f)
		h.Script("scripted")
		o := responsesStream(ctx, c, 0, nil)
		if !slices.Equal(o.types, []string{"response.created", "response.in_progress", "error"}) || o.err != nil {
			t.Fatalf("events %v, err %v", o.types, o.err)
		}
		if want := `{"type":"error","code":"server_error","message":"The model is overloaded.","param":null,"sequence_number":2}`; o.last != want {
			t.Errorf("error event\n got %s\nwant %s", o.last, want)
		}
		var ev responses.ResponseStreamEventUnion
		if err := json.Unmarshal([]byte(o.last), &ev); err != nil {
			t.Fatal(err)
		}
		if e := ev.AsError(); e.Code != "server_error" || e.Message != "The model is overloaded." || e.SequenceNumber != 2 {
			t.Errorf("as error: %+v", e)
		}

		// After some deltas, and nothing after the error event.
		f.AfterEvents = 5
		h.InjectFault(f)
		evs := rawStream(t, h, "/responses", responsesBody)
		if len(evs) != 6 || evs[5].Name != "error" || recorded.Decode(t, evs[5].Data)["sequence_number"] != 5.0 {
			t.Errorf("events %+v", evs)
		}
		// The failed requests did not use up the scripted reply.
		if o := responsesStream(ctx, c, 0, nil); o.text != "scripted" {
			t.Errorf("after the faults: %q %v", o.text, o.err)
		}
	})
}

// An in-stream error whose nested code is null (a server_error), after some deltas: openai-go
// reports a *ssestream.StreamError; the Responses stream ends with response.failed.
func TestNestedErrorWithNullCode(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		f := openaitest.Fault{StreamError: true, Error: openaitest.ServerError, AfterEvents: 5}
		check := func(what string, o outcome, n int) {
			t.Helper()
			var se *ssestream.StreamError
			if len(o.types) != n || !errors.As(o.err, &se) {
				t.Fatalf("%s: %d events, err %v", what, len(o.types), o.err)
			}
			var data struct {
				Error map[string]any `json:"error"`
			}
			if err := json.Unmarshal(se.Event.Data, &data); err != nil {
				t.Fatal(err)
			}
			code, ok := data.Error["code"]
			if !ok || code != nil || data.Error["type"] != "server_error" || data.Error["message"] != openaitest.ServerError.Message {
				t.Errorf("%s: error %s", what, se.Event.Data)
			}
		}
		h.InjectFault(f)
		check("responses", responsesStream(ctx, c, 0, nil), 5)
		h.InjectFault(f)
		check("chat", chatStream(ctx, c, 0, nil), 5)

		h.InjectFault(f)
		evs := rawStream(t, h, "/responses", responsesBody)
		if len(evs) != 7 || evs[5].Name != "error" || evs[6].Name != "response.failed" {
			t.Fatalf("events %+v", evs)
		}
		failed := recorded.Decode(t, evs[6].Data)
		resp := failed["response"].(map[string]any)
		e := resp["error"].(map[string]any)
		if failed["sequence_number"] != 6.0 || resp["status"] != "failed" || e["code"] != "server_error" || e["message"] != openaitest.ServerError.Message {
			t.Errorf("response.failed %s", evs[6].Data)
		}
		if created := recorded.Decode(t, evs[0].Data)["response"].(map[string]any); resp["id"] != created["id"] {
			t.Errorf("failed %v, created %v", resp["id"], created["id"])
		}
		evs = rawStream(t, h, "/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if evs[len(evs)-1].Data != "[DONE]" {
			t.Errorf("the fault was not used up: %+v", evs[len(evs)-1])
		}
	})
}

// A silent server: no response headers for a while (Latency), or headers and then no event
// (Stall). The client's context ends both waits.
func TestSilentServer(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		// No headers: the request itself waits.
		h.InjectFault(openaitest.Fault{Latency: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // cancel once the server holds the request
			for len(h.Requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		var res *http.Response
		o := responsesStream(ctx, c, 0, nil, option.WithResponseInto(&res))
		if res != nil || len(o.types) != 0 || !errors.Is(o.err, context.Canceled) {
			t.Errorf("no headers: response %v, events %v, err %v", res, o.types, o.err)
		}

		// Headers, then nothing: NewStreaming returns (else this test would hang for an hour).
		h.InjectFault(openaitest.Fault{Stall: time.Hour})
		ctx, cancel = context.WithCancel(context.Background())
		s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")},
			option.WithResponseInto(&res))
		if res == nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("headers %+v", res)
		}
		cancel()
		if s.Next() || !errors.Is(s.Err(), context.Canceled) {
			t.Errorf("stalled stream: %v", s.Err())
		}

		// A stall after some events, on both APIs.
		for name, read := range map[string]func(context.Context, openai.Client, int, func(), ...option.RequestOption) outcome{
			"responses": responsesStream, "chat": chatStream,
		} {
			h.InjectFault(openaitest.Fault{Stall: time.Hour, AfterEvents: 3})
			ctx, cancel := context.WithCancel(context.Background())
			if o := read(ctx, c, 3, cancel); len(o.types) != 3 || !errors.Is(o.err, context.Canceled) {
				t.Errorf("%s: %d events, err %v", name, len(o.types), o.err)
			}
			// A short stall is only a pause.
			h.InjectFault(openaitest.Fault{Stall: time.Millisecond, AfterEvents: 3})
			if o := read(context.Background(), c, 0, nil); o.err != nil || len(o.types) < 5 {
				t.Errorf("%s after a short stall: %d events, err %v", name, len(o.types), o.err)
			}
		}

		// A non-streaming reply stalls between its headers and its body.
		h.InjectFault(openaitest.Fault{Stall: time.Hour})
		h.ResetRequests()
		ctx, cancel = context.WithCancel(context.Background())
		go func() {
			for len(h.Requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}); !errors.Is(err, context.Canceled) {
			t.Errorf("non-streaming stall: %v", err)
		}
	})
}

// HTTP errors with the real API's bodies and headers, on streaming and non-streaming calls.
func TestStatusFaults(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		for _, tc := range []struct {
			f                   openaitest.Fault
			status              int
			typ, code           string
			retryAfter, retryMS string
			messagePrefix       string
		}{
			{openaitest.RateLimitFault(2 * time.Second), 429, "requests", "rate_limit_exceeded", "2", "2000", "Rate limit reached"},
			{openaitest.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond}, 429, "requests", "rate_limit_exceeded", "2", "1500", "Rate limit reached"},
			{openaitest.Fault{Status: 429, Error: openaitest.InsufficientQuota}, 429, "insufficient_quota", "insufficient_quota", "", "", "You exceeded your current quota"},
			{openaitest.Fault{Status: 401}, 401, "invalid_request_error", "invalid_api_key", "", "", "Incorrect API key provided: sk-tes*"},
			{openaitest.Fault{Status: 403}, 403, "request_forbidden", "unsupported_country_region_territory", "", "", "Country, region, or territory not supported"},
		} {
			check := func(what string, err error) {
				t.Helper()
				var apiErr *responses.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("%d %s: err %v", tc.status, what, err)
				}
				if apiErr.StatusCode != tc.status || apiErr.Type != tc.typ || apiErr.Code != tc.code ||
					!strings.HasPrefix(apiErr.Message, tc.messagePrefix) || strings.Contains(apiErr.RawJSON(), testKey) {
					t.Errorf("%d %s: %s", tc.status, what, apiErr.RawJSON())
				}
				if got := apiErr.Response.Header.Get("retry-after"); got != tc.retryAfter {
					t.Errorf("%d %s: retry-after %q", tc.status, what, got)
				}
				if got := apiErr.Response.Header.Get("retry-after-ms"); got != tc.retryMS {
					t.Errorf("%d %s: retry-after-ms %q", tc.status, what, got)
				}
			}
			h.InjectFault(tc.f)
			_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
			check("Responses", err)
			h.InjectFault(tc.f)
			check("Responses stream", responsesStream(ctx, c, 0, nil).err)
			h.InjectFault(tc.f)
			check("Chat stream", chatStream(ctx, c, 0, nil).err)
		}
	})
}

// The in-process transport streams the fault's events as they come: with an hour between
// deltas, the reset still arrives after the first one (the transport does not buffer).
func TestFaultsStreamIncrementally(t *testing.T) {
	h := openaitest.NewHandler(openaitest.WithPace(time.Hour))
	h.InjectFault(openaitest.Fault{ResetAfterEvents: 5})
	res, err := (&http.Client{Transport: h.Transport()}).Post(openaitest.InProcessBaseURL+"/responses", "application/json", strings.NewReader(responsesBody))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	n := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			n++
		}
	}
	if n != 5 || !errors.Is(sc.Err(), syscall.ECONNRESET) {
		t.Errorf("%d events, err %v", n, sc.Err())
	}
}
