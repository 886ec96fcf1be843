//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"fmt"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/llm"
)

// The offline mirror model answers with what it received, so these examples run anywhere, with
// no key, and show exactly what a notebook cell shows outside a notebook.

func ExampleChat_Ask() {
	chat := chatcell.New(chatcell.WithName("example-ask"), chatcell.WithOffline(), chatcell.WithOfflinePace(0), chatcell.WithStateDir(""))
	chat.Ask("你知道什麼是流冰嗎？")
	// Output:
	// **鏡像模型 Mirror** · 模型 model: `gpt-4.1-nano`
	//
	// - 上下文 context: 0 earlier turns 之前沒有對話 — I remember nothing before this message.
	// - 指示 instructions: “使用繁體中文”
	// - 你說 you said: “你知道什麼是流冰嗎？”
	//
	// _離線鏡像模型：我只轉述收到的內容。Offline mirror model: I only reflect what I receive._
	// tokens: input 25 · output 102 · total 127  ·  chat so far: 1 turn in 1 request, input 25 · output 102 · total 127
}

func ExampleChat_Reply() {
	chat := chatcell.New(chatcell.WithName("example-reply"), chatcell.WithOffline(), chatcell.WithOfflinePace(0), chatcell.WithStateDir(""))
	chat.Reply(context.Background(), "你知道什麼是流冰嗎？")
	reply, err := chat.Reply(context.Background(), "哪裡看得到？")
	fmt.Println(err == nil, chat.Turns(), chat.LastID() != "")
	fmt.Println(len(reply) > 0)
	// Output:
	// true 2 true
	// true
}

func ExampleChatWithHistList_Rollback() {
	hist := chatcell.NewHistList(chatcell.WithName("example-rollback"), chatcell.WithOffline(), chatcell.WithOfflinePace(0),
		chatcell.WithStateDir(""), chatcell.WithQuiet())
	for _, q := range []string{"自然數1的後面是幾?", "再往後是幾?", "再往後呢?"} {
		hist.Reply(context.Background(), q)
	}
	hist.Rollback(2)
	for _, m := range hist.Messages() {
		fmt.Printf("%s: %.24s\n", m.Role, m.Content)
	}
	// Output:
	// user: 自然數1的後面是幾?
	// assistant: **鏡像模型 Mirror** · 模型 mod
}

func ExampleChatWithHistList_AddDialogs() {
	hist := chatcell.NewHistList(chatcell.WithName("example-forged"), chatcell.WithOffline(), chatcell.WithOfflinePace(0),
		chatcell.WithStateDir(""), chatcell.WithQuiet())
	hist.AddDialogs(llm.UserMsg("请问1+1=几?"), llm.AssistantMsg("1+1=10"))
	reply, _ := hist.Reply(context.Background(), "那10+10=几?")
	fmt.Println(hist.Messages()[1].Forged, len(hist.Messages()))
	fmt.Println(len(reply) > 0)
	// Output:
	// true 4
	// true
}

func ExampleDescribe() {
	_, err := chatcell.CreateContext(context.Background(), "hi", chatcell.WithProvider("no-such-provider"))
	fmt.Println(chatcell.Describe(err))
	// Output:
	// unknown provider "no-such-provider": use one of fireworks, gemini, groq, mistral, openai, together
}
