package openaitest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

// testKey is the key of the test clients.
const testKey = "sk-test-0123456789abcdef"

// newServerClient starts a Server and returns an SDK client for it.
func newServerClient(t *testing.T, opts ...openaitest.Option) (openai.Client, *openaitest.Handler) {
	t.Helper()
	srv := openaitest.NewServer(append([]openaitest.Option{openaitest.WithPace(0)}, opts...)...)
	t.Cleanup(srv.Close)
	c := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(testKey),
		option.WithMaxRetries(0))
	return c, srv.Handler()
}

// newInProcessClient returns an SDK client served by h through h.Transport().
func newInProcessClient(h *openaitest.Handler, extra ...option.RequestOption) openai.Client {
	opts := append([]option.RequestOption{
		option.WithBaseURL(openaitest.InProcessBaseURL),
		option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
	}, extra...)
	return openai.NewClient(opts...)
}

// backends runs f against both a real listener and the in-process transport.
func backends(t *testing.T, f func(t *testing.T, c openai.Client, h *openaitest.Handler)) {
	t.Run("server", func(t *testing.T) {
		c, h := newServerClient(t)
		f(t, c, h)
	})
	t.Run("transport", func(t *testing.T) {
		h := openaitest.NewHandler(openaitest.WithPace(0))
		f(t, newInProcessClient(h), h)
	})
}

func userInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

// streamText consumes a Responses stream: the concatenated deltas, the event
// types, and the final response (zero if none arrived).
func streamText(t *testing.T, s *ssestream.Stream[responses.ResponseStreamEventUnion]) (text string, types []string, final responses.Response) {
	t.Helper()
	var b strings.Builder
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			b.WriteString(ev.Delta)
		case "response.completed", "response.incomplete", "response.failed":
			final = ev.Response
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream error: %v", err)
	}
	return b.String(), types, final
}

// The handler records what each request carried: method, path, body, the key, and the
// headers with the key masked.
func TestRecordsRequests(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		ctx := context.Background()
		r1, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model:        "gpt-4.1-nano",
			Input:        userInput("你好, how are you?"),
			Instructions: openai.String("Answer briefly."),
		})
		if err != nil {
			t.Fatal(err)
		}
		reqs := h.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests recorded", len(reqs))
		}
		body := reqs[0].JSON()
		if body["instructions"] != "Answer briefly." || body["model"] != "gpt-4.1-nano" {
			t.Errorf("recorded body %v", body)
		}
		if reqs[0].Method != "POST" || reqs[0].Path != "/v1/responses" {
			t.Errorf("recorded %s %s", reqs[0].Method, reqs[0].Path)
		}
		if a := reqs[0].Header.Get("Authorization"); strings.Contains(a, "0123456789abcdef") || !strings.HasPrefix(a, "Bearer sk-t") {
			t.Errorf("recorded Authorization not masked: %q", a)
		}
		if reqs[0].Key != testKey {
			t.Errorf("recorded key %q", reqs[0].Key)
		}

		_, _, r2 := streamText(t, c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
			Model: "gpt-4.1-nano", Input: userInput("again"), PreviousResponseID: openai.String(r1.ID),
		}))
		if got := h.Requests()[1].JSON()["previous_response_id"]; got != r1.ID || r2.PreviousResponseID != r1.ID {
			t.Errorf("recorded previous_response_id %v", got)
		}

		p := chatParams()
		if _, err := c.Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		body = h.Requests()[2].JSON()
		if body["temperature"] != 0.2 || body["top_p"] != 0.9 {
			t.Errorf("recorded %v", body)
		}
		h.ResetRequests()
		if n := len(h.Requests()); n != 0 {
			t.Errorf("%d requests after ResetRequests", n)
		}
	})
}

func TestAPIKey(t *testing.T) {
	const key = "sk-proj-right-key-abcdefghijklmnop"
	srv := openaitest.NewServer(openaitest.WithPace(0), openaitest.WithAPIKey(key))
	defer srv.Close()
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}

	wrong := "sk-proj-wrong-key-zyxwvutsrqponmlk"
	c := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(wrong), option.WithMaxRetries(0))
	_, err := c.Responses.New(ctx, params)
	var apiErr *responses.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err %v", err)
	}
	if apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || apiErr.Type != "invalid_request_error" {
		t.Errorf("401 error %+v", apiErr.RawJSON())
	}
	// The real API shows a wrong key's first 8 and last 4 characters, never the rest.
	if want := "Incorrect API key provided: sk-proj-**********************nmlk. You can find your API key at https://platform.openai.com/account/api-keys."; apiErr.Message != want {
		t.Errorf("message %q, want %q", apiErr.Message, want)
	}
	if !strings.HasPrefix(apiErr.Message, "Incorrect API key provided: sk-proj-*") || strings.Contains(apiErr.Message, wrong) ||
		strings.Contains(apiErr.RawJSON(), "wrong-key") {
		t.Errorf("message %q", apiErr.Message)
	}

	c = openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(key), option.WithMaxRetries(0))
	if _, err := c.Responses.New(ctx, params); err != nil {
		t.Errorf("right key: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	backends(t, func(t *testing.T, _ openai.Client, h *openaitest.Handler) {
		// The SDK's default: 2 retries.
		c := newInProcessClient(h, option.WithMaxRetries(2))
		h.InjectFault(openaitest.Fault{Path: "/v1/responses", Status: 429, RetryAfter: 1e6, Times: 2})
		h.ResetRequests()
		r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "completed" || len(h.Requests()) != 3 {
			t.Errorf("status %q after %d requests", r.Status, len(h.Requests()))
		}

		// Three 503s exhaust the retries: the error surfaces.
		h.InjectFault(openaitest.Fault{Status: 503, RetryAfter: 1e6, Times: 3})
		_, err = c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Type != "server_error" {
			t.Fatalf("err %v", err)
		}
		if apiErr.Response.Header.Get("retry-after") != "1" || apiErr.Response.Header.Get("retry-after-ms") != "1" {
			t.Errorf("headers %v", apiErr.Response.Header)
		}
	})
}

func TestDroppedStream(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		h.InjectFault(openaitest.Fault{DropAfterEvents: 6})
		s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
		var types []string
		for s.Next() {
			types = append(types, s.Current().Type)
		}
		if s.Err() == nil {
			t.Fatalf("no error after a dropped stream; events %v", types)
		}
		if len(types) != 6 || types[5] != "response.output_text.delta" {
			t.Errorf("events before the drop: %v", types)
		}
		// The fault was used once: the next request works.
		_, _, final := streamText(t, c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}))
		if final.Status != "completed" {
			t.Errorf("next stream status %q", final.Status)
		}
	})
}

func TestInStreamError(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		h.InjectFault(openaitest.InsufficientQuotaFault())
		s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gpt-5-nano", Input: userInput("hi")})
		var types []string
		for s.Next() {
			types = append(types, s.Current().Type)
		}
		var se *ssestream.StreamError
		if !errors.As(s.Err(), &se) {
			t.Fatalf("err %v, want *ssestream.StreamError", s.Err())
		}
		if se.Event.Type != "error" || !strings.Contains(string(se.Event.Data), `"code":"insufficient_quota"`) {
			t.Errorf("event %s %s", se.Event.Type, se.Event.Data)
		}
		if !slices.Equal(types, []string{"response.created", "response.in_progress"}) {
			t.Errorf("types %v", types)
		}
		// The failed request did not use up the scripted reply.
		h.InjectFault(openaitest.InsufficientQuotaFault())
		h.Script("scripted")
		_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-5-nano", Input: userInput("hi")})
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "insufficient_quota" {
			t.Errorf("non-streaming request with the fault: %v", err)
		}
		r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-5-nano", Input: userInput("hi")})
		if err != nil || r.OutputText() != "scripted" {
			t.Errorf("after the fault: %v %q", err, r.OutputText())
		}
	})
}

func TestLatencyHonoursContext(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		h.InjectFault(openaitest.Fault{Latency: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // cancel once the server holds the request
			for len(h.Requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v", err)
		}
		// The fault was used up: the next request is served at once.
		if _, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}); err != nil {
			t.Error(err)
		}
	})
}

func TestScript(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, h *openaitest.Handler) {
		h.Script("first **reply**", "第二个回答 second")
		ctx := context.Background()
		p := responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")}
		r1, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		text, _, _ := streamText(t, c.Responses.NewStreaming(ctx, p))
		r3, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r1.OutputText() != "first **reply**" || text != "第二个回答 second" || !strings.Contains(r3.OutputText(), "Mirror") {
			t.Errorf("got %q, %q, %q", r1.OutputText(), text, r3.OutputText())
		}
	})
}
