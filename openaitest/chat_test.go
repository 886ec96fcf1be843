package openaitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/gonbchat/gonbchat/internal/recorded"
	"github.com/gonbchat/gonbchat/openaitest"
)

func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-4.1-nano",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a tutor."),
			openai.UserMessage("What is a goroutine?"),
			openai.AssistantMessage("A lightweight thread."),
			{OfUser: &openai.ChatCompletionUserMessageParam{
				Content: openai.ChatCompletionUserMessageParamContentUnion{OfString: openai.String("And a channel?")},
				Name:    openai.String("Lin"),
			}},
		},
		Temperature: openai.Float(0.2),
		TopP:        openai.Float(0.9),
	}
}

// Faults on a Chat Completions stream: an in-stream error after the role chunk, a drop.
func TestChatStreamFaults(t *testing.T) {
	c, h := newServerClient(t)
	ctx := context.Background()
	h.InjectFault(openaitest.Fault{Path: "/v1/chat/completions", StreamError: true})
	s := c.Chat.Completions.NewStreaming(ctx, chatParams())
	n := 0
	for s.Next() {
		n++
	}
	var se *ssestream.StreamError
	if !errors.As(s.Err(), &se) || n != 1 || !strings.Contains(string(se.Event.Data), "insufficient_quota") {
		t.Errorf("in-stream error after %d chunks: %v", n, s.Err())
	}

	h.InjectFault(openaitest.Fault{Path: "/v1/chat/completions", DropAfterEvents: 4})
	s = c.Chat.Completions.NewStreaming(ctx, chatParams())
	n = 0
	for s.Next() {
		n++
	}
	if s.Err() == nil || n != 4 {
		t.Errorf("dropped chat stream: %d chunks, err %v", n, s.Err())
	}
}

// Every parameter the SDK can send is accepted; a typo is the real API's
// unknown_parameter error.
func TestUnknownParameters(t *testing.T) {
	ty := reflect.TypeFor[openai.ChatCompletionNewParams]()
	for i := range ty.NumField() {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && !openaitest.ChatParams[name] {
			t.Errorf("chat parameter %q of openai-go is not accepted", name)
		}
	}
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	for path, body := range map[string]string{
		"/responses":        `{"model":"m","input":"hi","temprature":0.5}`,
		"/chat/completions": `{"model":"m","messages":[{"role":"user","content":"hi"}],"temprature":0.5}`,
	} {
		status, got, _ := recorded.Post(t, srv.URL+path, []byte(body))
		var e struct {
			Error struct{ Message, Param, Code string }
		}
		if err := json.Unmarshal(got, &e); err != nil || status != 400 || e.Error.Code != "unknown_parameter" ||
			e.Error.Param != "temprature" || e.Error.Message != "Unknown parameter: 'temprature'." {
			t.Errorf("%s: %d %s", path, status, got)
		}
	}
}
