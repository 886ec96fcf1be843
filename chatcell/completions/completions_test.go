//go:build !gonbchat_kernel

package completions_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/openaitest"
)

func setup(t *testing.T, more ...chatcell.HistOption) (*openaitest.Server, *chatcell.ChatWithHistList) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	t.Cleanup(srv.Close)
	opts := append([]chatcell.HistOption{chatcell.WithBaseURL(srv.URL), chatcell.WithAPIKey("sk-test-1234567890"),
		chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithBackend(completions.Backend{})}, more...)
	return srv, chatcell.NewHistList(opts...)
}

func lastChatRequest(t *testing.T, srv *openaitest.Server) map[string]any {
	reqs := srv.Handler().Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == "/v1/chat/completions" {
			return reqs[i].JSON()
		}
	}
	t.Fatal("no chat completions request")
	return nil
}

func TestHistOnChatCompletions(t *testing.T) {
	srv, chat := setup(t, chatcell.WithSystem("你是一个乐于助人的体育界专家。"))
	if _, err := chat.Reply(context.Background(), "2008年奥运会是在哪里举行的？"); err != nil {
		t.Fatal(err)
	}
	reply, err := chat.Reply(context.Background(), "金牌最多的是哪个国家？", chatcell.WithTemperature(0.2), chatcell.WithMaxOutputTokens(50), chatcell.WithParam("top_p", 0.9))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reply, "1 earlier turn") { // max_tokens=50 truncates the rest
		t.Errorf("the model did not see the first turn:\n%s\n%v", reply, lastChatRequest(t, srv))
	}
	req := lastChatRequest(t, srv)
	msgs, _ := req["messages"].([]any)
	if len(msgs) != 4 {
		t.Fatalf("sent %d messages, want system, user, assistant, user: %v", len(msgs), msgs)
	}
	if first, _ := msgs[0].(map[string]any); first["role"] != "system" || first["content"] != "你是一个乐于助人的体育界专家。" {
		t.Errorf("first message = %v (WithSystem replaces the default instructions)", first)
	}
	if req["temperature"] != 0.2 || req["max_tokens"] != 50.0 || req["top_p"] != 0.9 || req["stream"] != true {
		t.Errorf("request = %v", req)
	}
	if so, _ := req["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("stream_options = %v", req["stream_options"])
	}
	if u := chat.LastUsage(); u.TotalTokens == 0 || u.TotalTokens != u.InputTokens+u.OutputTokens {
		t.Errorf("usage = %+v", u)
	}
}

func TestNamesAndRolesReachTheServer(t *testing.T) {
	srv, chat := setup(t, chatcell.WithInstructions(""))
	chat.AddDialogs(
		llm.SystemMsg("你是一个只会用海盗黑话说话的海盗。"),
		llm.UserMsg("你好，今天过得怎么样？").WithName("Tony"),
		llm.AssistantMsg("啊哈！我今天感觉棒极了，我的好伙计！"),
	)
	if _, err := chat.Reply(context.Background(), "跟我说说天气怎么样。"); err != nil {
		t.Fatal(err)
	}
	msgs, _ := lastChatRequest(t, srv)["messages"].([]any)
	var roles []string
	for _, m := range msgs {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if strings.Join(roles, ",") != "system,user,assistant,user" {
		t.Errorf("roles = %v", roles)
	}
	if name := msgs[1].(map[string]any)["name"]; name != "Tony" {
		t.Errorf("name = %v", name)
	}
}

func TestCompletionsErrorsAndDroppedStreams(t *testing.T) {
	srv, chat := setup(t)
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/chat/completions", Status: 400, Error: openaitest.FaultError{Message: "bad temperature", Param: "temperature"}})
	_, err := chat.Reply(context.Background(), "hi")
	var apiErr *chatcell.APIError
	if err == nil || !strings.Contains(chatcell.Describe(err), "bad temperature") || !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("err = %v", err)
	}
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/chat/completions", DropAfterEvents: 4})
	if _, err := chat.Reply(context.Background(), "hi"); err == nil {
		t.Fatal("a dropped stream succeeded")
	}
	msgs := chat.Messages()
	if len(msgs) != 2 || !msgs[1].Partial || msgs[1].Role != llm.Assistant {
		t.Errorf("want the cut-short reply kept and marked: %+v", msgs)
	}
}

func TestCreateOnChatCompletions(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	r := chatcell.Create("写一个关于独角兽的单句睡前故事。", chatcell.WithBaseURL(srv.URL), chatcell.WithAPIKey("sk-test-1234567890"),
		chatcell.WithQuiet(), chatcell.WithBackend(completions.Backend{}), chatcell.WithSystem("你是一个乐于助人的助手。"), chatcell.WithModel("gpt-4o"))
	if !strings.HasPrefix(r.ID, "chatcmpl-") || r.Usage.TotalTokens == 0 || !strings.HasPrefix(r.Model, "gpt-4o") {
		t.Fatalf("reply = %+v", r)
	}
	// Raw is the chat.completion object as the API returns it without streaming, put back
	// together from the chunks: the finish_reason of the choice, not of the usage-only last chunk.
	var raw struct {
		Object  string
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct{ Role, Content string }
		}
		Usage struct {
			TotalTokens int64 `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(r.Raw), &raw); err != nil {
		t.Fatalf("Raw: %v\n%s", err, r.Raw)
	}
	if raw.Object != "chat.completion" || len(raw.Choices) != 1 || raw.Choices[0].FinishReason != "stop" ||
		raw.Choices[0].Message.Role != "assistant" || raw.Choices[0].Message.Content != r.Text || raw.Usage.TotalTokens != r.Usage.TotalTokens {
		t.Errorf("Raw = %s", r.Raw)
	}
	msgs, _ := lastChatRequest(t, srv)["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" || msgs[1].(map[string]any)["content"] != "写一个关于独角兽的单句睡前故事。" {
		t.Errorf("messages = %v", msgs)
	}
}
