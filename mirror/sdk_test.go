package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/internal/inprocess"
	"github.com/gonbchat/gonbchat/mirror"
)

// counted counts the requests a handler serves.
type counted struct {
	h http.Handler
	n atomic.Int64
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// newServerClient serves a mirror Handler on a port and returns an SDK client for it, and the
// count of requests served.
func newServerClient(t *testing.T, opts ...mirror.Option) (openai.Client, *atomic.Int64) {
	t.Helper()
	c := &counted{h: mirror.NewHandler(append([]mirror.Option{mirror.WithPace(0)}, opts...)...)}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("sk-test-0123456789abcdef"),
		option.WithMaxRetries(0)), &c.n
}

// newInProcessClient returns an SDK client served by h through h.Transport().
func newInProcessClient(h *mirror.Handler, extra ...option.RequestOption) openai.Client {
	opts := append([]option.RequestOption{
		option.WithBaseURL(mirror.BaseURL),
		option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
		option.WithAPIKey("offline"),
		option.WithMaxRetries(0),
	}, extra...)
	return openai.NewClient(opts...)
}

// backends runs f against a real listener and against the in-process transport; n counts the
// requests served.
func backends(t *testing.T, f func(t *testing.T, c openai.Client, n *atomic.Int64)) {
	t.Run("server", func(t *testing.T) {
		c, n := newServerClient(t)
		f(t, c, n)
	})
	t.Run("transport", func(t *testing.T) {
		c := &counted{h: mirror.NewHandler(mirror.WithPace(0))}
		client := openai.NewClient(option.WithBaseURL(mirror.BaseURL),
			option.WithHTTPClient(&http.Client{Transport: inprocess.Transport(c)}),
			option.WithAPIKey("offline"), option.WithMaxRetries(0))
		f(t, client, &c.n)
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

func TestResponsesNonStreaming(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		ctx := context.Background()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model:        "gpt-4.1-nano",
			Input:        userInput("你好, how are you?"),
			Instructions: openai.String("Answer briefly."),
			Temperature:  openai.Float(0.5),
			Metadata:     map[string]string{"lesson": "3-2"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.ID, "resp_") || len(r.ID) != len("resp_")+50 {
			t.Errorf("id = %q", r.ID)
		}
		if r.Status != responses.ResponseStatusCompleted || r.Model != "gpt-4.1-nano" || r.Temperature != 0.5 {
			t.Errorf("status %q model %q temperature %v", r.Status, r.Model, r.Temperature)
		}
		if r.Metadata["lesson"] != "3-2" || r.Instructions.OfString != "Answer briefly." {
			t.Errorf("metadata %v instructions %+v", r.Metadata, r.Instructions)
		}
		out := r.OutputText()
		for _, want := range []string{"gpt-4.1-nano", "Answer briefly.", "你好, how are you?", "0 earlier turns"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		u := r.Usage
		if u.InputTokens <= 0 || u.OutputTokens <= 0 || u.TotalTokens != u.InputTokens+u.OutputTokens {
			t.Errorf("usage %+v", u)
		}
	})
}

func TestResponsesStreaming(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
			Model: "gpt-4.1-nano",
			Input: userInput("Stream this, 请。"),
		})
		text, types, final := streamText(t, s)
		want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}
		if len(types) < 9 || !equal(types[:4], want) {
			t.Fatalf("event types %v", types)
		}
		tail := []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
		if !equal(types[len(types)-4:], tail) {
			t.Fatalf("event types end %v", types[len(types)-4:])
		}
		if text == "" || text != final.OutputText() {
			t.Errorf("deltas %q != final %q", text, final.OutputText())
		}
		if !strings.Contains(text, "Stream this, 请。") {
			t.Errorf("mirror text lacks the message: %s", text)
		}
		if final.Usage.OutputTokens <= 0 || final.Status != "completed" {
			t.Errorf("final %+v", final.Usage)
		}
		// The streamed response is stored: it can be fetched.
		got, err := c.Responses.Get(context.Background(), final.ID, responses.ResponseGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		if got.OutputText() != text {
			t.Errorf("stored text %q", got.OutputText())
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResponsesChain(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		ctx := context.Background()
		r1, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("My name is Ada.")})
		if err != nil {
			t.Fatal(err)
		}
		s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
			Model: "gpt-4.1-nano", Input: userInput("I like Go."), PreviousResponseID: openai.String(r1.ID),
		})
		_, _, r2 := streamText(t, s)
		if r2.PreviousResponseID != r1.ID {
			t.Errorf("previous_response_id echoed as %q", r2.PreviousResponseID)
		}
		r3, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "gpt-4.1-nano", Input: userInput("What is my name?"), PreviousResponseID: openai.String(r2.ID),
		})
		if err != nil {
			t.Fatal(err)
		}
		out := r3.OutputText()
		for _, want := range []string{"2 earlier turns", "My name is Ada.", "I like Go.", "What is my name?", "previous_response_id"} {
			if !strings.Contains(out, want) {
				t.Errorf("chained reply lacks %q:\n%s", want, out)
			}
		}
		if r3.Usage.InputTokens <= r1.Usage.InputTokens {
			t.Errorf("chained input tokens %d not above first %d", r3.Usage.InputTokens, r1.Usage.InputTokens)
		}
		// The input items of a chained response are its whole context.
		var roles, texts []string
		pager := c.Responses.InputItems.ListAutoPaging(ctx, r3.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc})
		for pager.Next() {
			m := pager.Current().AsMessage()
			roles = append(roles, string(m.Role))
			texts = append(texts, m.Content[0].Text)
		}
		if err := pager.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(roles, ",") != "user,assistant,user,assistant,user" || texts[0] != "My name is Ada." ||
			texts[1] != r1.OutputText() || texts[3] != r2.OutputText() || texts[4] != "What is my name?" {
			t.Errorf("input items of the chain: %v %q", roles, texts)
		}
		// Without previous_response_id the model remembers nothing.
		r4, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("What is my name?")})
		if err != nil {
			t.Fatal(err)
		}
		if out := r4.OutputText(); !strings.Contains(out, "0 earlier turns") || strings.Contains(out, "Ada") {
			t.Errorf("unchained reply:\n%s", out)
		}
	})
}

func TestResponsesInputItemList(t *testing.T) {
	c, _ := newServerClient(t)
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4.1-nano",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Be terse.", responses.EasyInputMessageRoleDeveloper),
			responses.ResponseInputItemParamOfMessage("first question", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfMessage("first answer", responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("second question", responses.EasyInputMessageRoleUser),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := r.OutputText()
	if !strings.Contains(out, "1 earlier turn ") || !strings.Contains(out, "first question") || !strings.Contains(out, "second question") ||
		!strings.Contains(out, "instructions: “Be terse.”") {
		t.Errorf("reply:\n%s", out)
	}
}

func TestStoreFalseThenChainFails(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		ctx := context.Background()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi"), Store: openai.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		var echoed struct{ Store *bool }
		if json.Unmarshal([]byte(r.RawJSON()), &echoed) != nil || echoed.Store == nil || *echoed.Store {
			t.Error("store not echoed false")
		}
		_, err = c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "gpt-4.1-nano", Input: userInput("again"), PreviousResponseID: openai.String(r.ID),
		})
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("err = %v, want *responses.Error", err)
		}
		if apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "previous_response_not_found" ||
			apiErr.Param != "previous_response_id" || apiErr.Type != "invalid_request_error" ||
			apiErr.Message != fmt.Sprintf("Previous response with id '%s' not found.", r.ID) {
			t.Errorf("error %d %q %q %q %q", apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Type, apiErr.Message)
		}
		_, err = c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound ||
			apiErr.Message != fmt.Sprintf("Response with id '%s' not found.", r.ID) {
			t.Errorf("get unstored: %v", err)
		}
	})
}

func TestGetDeleteInputItemsPaging(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		ctx := context.Background()
		var in responses.ResponseInputParam
		for i := range 7 {
			role := responses.EasyInputMessageRoleUser
			if i%2 == 1 {
				role = responses.EasyInputMessageRoleAssistant
			}
			in = append(in, responses.ResponseInputItemParamOfMessage(fmt.Sprintf("m%d", i), role))
		}
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano",
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: in}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		if err != nil || got.ID != r.ID || got.OutputText() != r.OutputText() {
			t.Fatalf("get: %v %+v", err, got)
		}

		before := n.Load()
		pager := c.Responses.InputItems.ListAutoPaging(ctx, r.ID, responses.InputItemListParams{
			Limit: openai.Int(3), Order: responses.InputItemListParamsOrderAsc,
		})
		var texts []string
		for pager.Next() {
			it := pager.Current()
			if it.Type != "message" || !strings.HasPrefix(it.ID, "msg_") {
				t.Errorf("item %+v", it)
			}
			msg := it.AsMessage()
			if len(msg.Content) != 1 {
				t.Fatalf("content %+v", msg.Content)
			}
			wantType := "input_text"
			if msg.Role == "assistant" {
				wantType = "output_text"
			}
			if msg.Content[0].Type != wantType {
				t.Errorf("%s part type %q", msg.Role, msg.Content[0].Type)
			}
			texts = append(texts, msg.Content[0].Text)
		}
		if err := pager.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(texts, ",") != "m0,m1,m2,m3,m4,m5,m6" {
			t.Errorf("paged texts %v", texts)
		}
		if pages := n.Load() - before; pages != 3 {
			t.Errorf("%d page requests, want 3", pages)
		}
		// Default order is desc.
		page, err := c.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{Limit: openai.Int(2)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 2 || page.Data[0].AsMessage().Content[0].Text != "m6" || !page.HasMore {
			t.Errorf("desc page %+v", page.RawJSON())
		}

		if err := c.Responses.Delete(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		var apiErr *responses.Error
		if err := c.Responses.Delete(ctx, r.ID); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Errorf("second delete: %v", err)
		}
		if _, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Errorf("get after delete: %v", err)
		}
	})
}

func TestMaxOutputTokensIncomplete(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, n *atomic.Int64) {
		ctx := context.Background()
		p := responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi"), MaxOutputTokens: openai.Int(16)}
		r, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" || r.Usage.OutputTokens != 16 {
			t.Errorf("status %q details %+v usage %d", r.Status, r.IncompleteDetails, r.Usage.OutputTokens)
		}
		text, types, final := streamText(t, c.Responses.NewStreaming(ctx, p))
		if types[len(types)-1] != "response.incomplete" || final.Status != "incomplete" || text != final.OutputText() {
			t.Errorf("stream end %v status %q", types[len(types)-1], final.Status)
		}
		p.MaxOutputTokens = openai.Int(5)
		_, err = c.Responses.New(ctx, p)
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "integer_below_min_value" || apiErr.Param != "max_output_tokens" {
			t.Errorf("err %v", err)
		}
	})
}

func TestValidationErrors(t *testing.T) {
	c, _ := newServerClient(t)
	ctx := context.Background()
	_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o", Input: userInput("hi"), Temperature: openai.Float(-1)})
	var apiErr *responses.Error
	if !errors.As(err, &apiErr) {
		t.Fatal(err)
	}
	want := "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead."
	if apiErr.StatusCode != 400 || apiErr.Message != want || apiErr.Code != "decimal_below_min_value" || apiErr.Param != "temperature" {
		t.Errorf("%d %+v", apiErr.StatusCode, apiErr.RawJSON())
	}
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Input: userInput("hi")})
	if !errors.As(err, &apiErr) || apiErr.Code != "missing_required_parameter" || apiErr.Param != "model" {
		t.Errorf("missing model: %v", err)
	}
}

func TestFileStoreSharedAcrossHandlers(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// Two handlers on one directory stand for two notebook cells (processes).
	cell2 := newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir)))
	r1, err := cell2.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("Remember 42.")})
	if err != nil {
		t.Fatal(err)
	}
	cell3 := newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir)))
	_, _, r2 := streamText(t, cell3.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1-nano", Input: userInput("What number?"), PreviousResponseID: openai.String(r1.ID),
	}))
	if out := r2.OutputText(); !strings.Contains(out, "1 earlier turn ") || !strings.Contains(out, "Remember 42.") {
		t.Errorf("chained across handlers:\n%s", out)
	}
	cell4 := newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir)))
	if _, err := cell4.Responses.Get(ctx, r2.ID, responses.ResponseGetParams{}); err != nil {
		t.Errorf("get from a third handler: %v", err)
	}
}

func TestFileStoreConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var clients []openai.Client
	for range 4 {
		clients = append(clients, newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir))))
	}
	first, err := clients[0].Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: userInput("root")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := clients[i%len(clients)]
			p := responses.ResponseNewParams{Model: "m", Input: userInput(fmt.Sprintf("branch %d", i)), PreviousResponseID: openai.String(first.ID)}
			if i%2 == 0 {
				_, _, r := streamText(t, c.Responses.NewStreaming(ctx, p))
				ids[i] = r.ID
				return
			}
			r, err := c.Responses.New(ctx, p)
			if err == nil {
				ids[i] = r.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		r, err := clients[(i+1)%len(clients)].Responses.Get(ctx, ids[i], responses.ResponseGetParams{})
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if !strings.Contains(r.OutputText(), fmt.Sprintf("branch %d", i)) || !strings.Contains(r.OutputText(), "root") {
			t.Errorf("response %d:\n%s", i, r.OutputText())
		}
	}
}

func TestStructuredOutputs(t *testing.T) {
	c, _ := newServerClient(t)
	ctx := context.Background()
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city":  map[string]any{"type": "string"},
			"month": map[string]any{"type": "integer", "minimum": 1},
			"kind":  map[string]any{"type": "string", "enum": []any{"drift_ice", "snow"}},
			"spots": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/spot"}},
		},
		"required":             []any{"city", "month", "kind", "spots"},
		"additionalProperties": false,
		"$defs": map[string]any{"spot": map[string]any{"type": "object",
			"properties": map[string]any{"name": map[string]any{"type": "string"}, "free": map[string]any{"type": "boolean"}}}},
	}
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1-nano", Input: userInput("Where can I see drift ice?"),
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
			OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "place", Schema: schema, Strict: openai.Bool(true)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		City  string
		Month int
		Kind  string
		Spots []struct {
			Name string
			Free *bool
		}
	}
	if err := json.Unmarshal([]byte(r.OutputText()), &got); err != nil {
		t.Fatalf("%v: %s", err, r.OutputText())
	}
	if !strings.Contains(got.City, "Where can I see drift ice?") || got.Month != 1 || got.Kind != "drift_ice" ||
		len(got.Spots) != 1 || got.Spots[0].Free == nil {
		t.Errorf("instance %s", r.OutputText())
	}

	cc, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:          "gpt-4.1-nano",
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("first"), openai.AssistantMessage("a"), openai.UserMessage("second")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		EarlierTurns int    `json:"earlier_turns"`
		YouSaid      string `json:"you_said"`
	}
	if err := json.Unmarshal([]byte(cc.Choices[0].Message.Content), &sum); err != nil || sum.EarlierTurns != 1 || sum.YouSaid != "second" {
		t.Errorf("json_object reply %v: %s", err, cc.Choices[0].Message.Content)
	}
}
