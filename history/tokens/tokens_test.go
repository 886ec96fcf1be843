package tokens

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/history"
)

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o":                   O200kBase,
		"gpt-4o-mini-2024-07-18":   O200kBase,
		"gpt-4.1-nano-2025-04-14":  O200kBase,
		"gpt-5-mini":               O200kBase,
		"o3-mini":                  O200kBase,
		"o1":                       O200kBase,
		"some-unknown-model":       O200kBase,
		"gpt-4":                    Cl100kBase,
		"gpt-4-0613":               Cl100kBase,
		"gpt-4-turbo":              Cl100kBase,
		"gpt-3.5-turbo":            Cl100kBase,
		"gpt-3.5-turbo-0125":       Cl100kBase,
		"ft:gpt-3.5-turbo:acme::x": Cl100kBase,
	} {
		if got := EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%q) = %s, want %s", model, got, want)
		}
		c, err := ForModel(model)
		if err != nil || c.Encoding() != want {
			t.Errorf("ForModel(%q) = %v, %v", model, c, err)
		}
	}
	if _, err := ForEncoding("nope"); err == nil {
		t.Error("ForEncoding(nope) succeeded")
	}
}

// The cookbook's accounting: 3 tokens per message, 1 per name, 3 to prime the reply.
func TestCountOverheads(t *testing.T) {
	for _, enc := range []string{O200kBase, Cl100kBase} {
		c, err := ForEncoding(enc)
		if err != nil {
			t.Fatal(err)
		}
		hello := c.Text("hello world")
		if hello != 2 {
			t.Fatalf("%s: %q is %d tokens, want 2", enc, "hello world", hello)
		}
		msgs := []llm.Message{llm.UserMsg("hello world")}
		if got, want := c.Count(msgs), 3+c.Text("user")+hello+3; got != want {
			t.Errorf("%s: Count = %d, want %d", enc, got, want)
		}
		named := llm.UserMsg("hello world").WithName("Tony")
		if got, want := c.MessageTokens(named), 3+c.Text("user")+hello+c.Text("Tony")+1; got != want {
			t.Errorf("%s: MessageTokens(named) = %d, want %d", enc, got, want)
		}
	}
	// The two encodings differ on Chinese: o200k_base is the newer, denser one.
	o, _ := ForEncoding(O200kBase)
	cl, _ := ForEncoding(Cl100kBase)
	zh := strings.Repeat("世界上最大的海洋是太平洋。", 10)
	if o.Text(zh) >= cl.Text(zh) {
		t.Errorf("o200k_base %d tokens, cl100k_base %d: want fewer with o200k_base", o.Text(zh), cl.Text(zh))
	}
}

// TokenBudget with the real tokenizer keeps the request within the budget, as the tokenizer
// counts it, and keeps the newest turn.
func TestTokenBudgetWithTokenizer(t *testing.T) {
	c, err := ForModel("gpt-4.1-nano")
	if err != nil {
		t.Fatal(err)
	}
	const budget = 300
	l := history.New(history.WithStrategy(history.TokenBudget(budget, c)))
	l.SetSystem("你是一个乐于助人的助手。")
	trimmed := false
	for i := range 30 {
		q := fmt.Sprintf("这是测试消息 %d。告诉我一些关于太空的有趣事实。", i)
		a := fmt.Sprintf("Fact %d: %s", i, strings.Repeat("space is big and mostly empty. ", i%4+1))
		if err := l.AppendTurn(llm.UserMsg(q), llm.AssistantMsg(a)); err != nil {
			t.Fatal(err)
		}
		msgs := l.Messages()
		if n := c.Count(msgs); n > budget {
			t.Fatalf("turn %d: %d tokens, over the budget of %d", i, n, budget)
		}
		if msgs[0].Role != llm.System {
			t.Fatalf("turn %d: the system prompt was trimmed", i)
		}
		if last := msgs[len(msgs)-2:]; last[0].Content != q || last[1].Content != a {
			t.Fatalf("turn %d: the newest turn was trimmed", i)
		}
		trimmed = trimmed || l.Turns() < i+1
	}
	if !trimmed {
		t.Fatal("nothing was ever trimmed: the test proves nothing")
	}
	if l.Warning() != nil {
		t.Fatal(l.Warning())
	}
}
