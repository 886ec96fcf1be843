//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gonbchat/gonbchat/chatcell"
)

func ExampleGroupChat_Ask() {
	group := chatcell.NewGroupChat(chatcell.WithName("example-poets"), chatcell.WithOffline(), chatcell.WithOfflinePace(0),
		chatcell.WithStateDir(""), chatcell.WithLanguage("zh-CN"))
	group.SetRole("苏轼", "宋朝诗人")
	group.SetRole("李清照", "宋代著名的女词人")
	group.SetRole("杜甫", "唐朝著名诗人")
	group.AddDialog("杜甫", []string{"苏轼"}, "上次托你帮我写的那首诗写好了吗?")
	remarks := group.Ask(chatcell.Says("苏轼", "杜甫"), chatcell.Says("李清照"))
	for _, r := range remarks {
		fmt.Println(r.Speaker, "→", strings.Join(r.Audiences, "、"))
	}
	// Output:
	// **苏轼** → 杜甫：mirror: 按顺序写出接下来的发言： 1. 苏轼 → 杜甫 2. 李清照 → 苏轼、杜甫 到目前为止的对话（JSON，从早到晚）：…
	//
	// **李清照** → 苏轼、杜甫：mirror: 按顺序写出接下来的发言： 1. 苏轼 → 杜甫 2. 李清照 → 苏轼、杜甫 到目前为止的对话（JSON，从早到晚）：…
	// 令牌：输入 243 · 输出 139 · 合计 382  ·  到目前为止：1 轮对话、1 次请求，输入 243 · 输出 139 · 合计 382
	// 苏轼 → 杜甫
	// 李清照 → 苏轼、杜甫
}

// AskAll shows each reply in its own display (in a notebook; outside one they share standard
// output), so this example has no fixed output.
func ExampleAskAll() {
	opts := func(name string) []chatcell.HistOption {
		return []chatcell.HistOption{chatcell.WithName(name), chatcell.WithOffline(), chatcell.WithOfflinePace(0),
			chatcell.WithStateDir(""), chatcell.WithQuiet()}
	}
	tony, lucy := chatcell.NewHistList(opts("Tony")...), chatcell.NewHistList(opts("Lucy")...)
	replies := chatcell.AskAll(chatcell.Ask(tony, "自然数50的后面是几?"), chatcell.Ask(lucy, "自然数100的后面是几?"))
	fmt.Println(len(replies), tony.Turns(), lucy.Turns())
	fmt.Println(strings.Contains(replies[0], "自然数50"), strings.Contains(replies[1], "自然数100"))
}

func ExampleChatWithHistList_Go() {
	chat := chatcell.NewHistList(chatcell.WithName("example-go"), chatcell.WithOffline(), chatcell.WithOfflinePace(0), chatcell.WithStateDir(""))
	first := chat.Go(context.Background(), "自然数1的后面是几?")
	second := chat.Go(context.Background(), "再往后是几?") // runs once the first has ended, on its history
	first.Wait()
	reply, err := second.Wait()
	fmt.Println(err, chat.Turns(), strings.Contains(reply, "1 earlier turn"))
	// Output:
	// <nil> 2 true
}
