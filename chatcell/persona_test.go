//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

// Lesson 004's messages = [system, assistant]: the greeting is sent as the first assistant
// message, once, however many cells declare the chat.
func TestPersonaStartsTheConversationOnce(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	bot := NewHistList(histOpts(srv, dir, WithName("vicky"), WithPersona(testPersona{}))...)
	bot.Reply(context.Background(), "今天忘記帶傘")
	again := NewHistList(histOpts(srv, dir, WithName("vicky"), WithPersona(testPersona{}))...)
	msgs := again.Messages()
	var roles []string
	for _, m := range msgs {
		roles = append(roles, string(m.Role))
	}
	if strings.Join(roles, ",") != "system,assistant,user,assistant" || !msgs[1].Pinned || msgs[1].Content != "嗨！有什麼不順的事？" {
		t.Fatalf("history: %v %+v", roles, msgs)
	}
	again.Reply(context.Background(), "沒趕上公車")
	input := lastRequest(t, srv, "/v1/responses")["input"].([]any)
	if first := input[0].(map[string]any); first["role"] != "system" || input[1].(map[string]any)["role"] != "assistant" {
		t.Errorf("sent %v", input)
	}
	again.Reset()
	if got := again.Messages(); len(got) != 2 || got[1].Content != "嗨！有什麼不順的事？" {
		t.Errorf("after Reset: %+v", got)
	}
}

func TestPopRemovesOneMessage(t *testing.T) {
	srv := newServer(t)
	h := NewHistList(histOpts(srv, t.TempDir())...)
	h.Reply(context.Background(), "Hello!")
	m, err := h.Pop()
	if err != nil || m.Role != llm.Assistant || len(h.Messages()) != 1 {
		t.Fatalf("Pop = %+v, %v; %d left", m, err, len(h.Messages()))
	}
	h.Pop()
	if _, err := h.Pop(); err == nil {
		t.Error("Pop of an empty history succeeded")
	}
}

// An Endpoint sends the message list it is given, nothing more.
func TestEndpointSendsTheList(t *testing.T) {
	srv := newServer(t)
	ep := NewEndpoint(WithBaseURL(srv.URL), WithAPIKey(testKey), WithQuiet())
	msgs := append(testPersona{}.Start(), llm.UserMsg("今天忘記帶傘"))
	var b strings.Builder
	for d, err := range ep.Stream(context.Background(), msgs) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(d)
	}
	req := lastRequest(t, srv, "/v1/responses")
	if _, sent := req["instructions"]; sent || len(req["input"].([]any)) != 3 || b.Len() == 0 {
		t.Errorf("request %v, reply %q", req, b.String())
	}
	if !slices.Equal(msgs, append(testPersona{}.Start(), llm.UserMsg("今天忘記帶傘"))) {
		t.Error("Stream changed its input")
	}
	bad := NewEndpoint(WithProvider("nope"))
	if bad.Err() == nil {
		t.Error("no error for a bad option")
	}
	for _, err := range bad.Stream(context.Background(), msgs) {
		if err == nil {
			t.Error("a bad endpoint streamed")
		}
	}
}
