//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/llm"
)

// Loading from a named pipe must not hang: Load, ImportJSON and Chat.Load refuse anything that
// is not a regular file before opening it.
func TestLoadRefusesFIFOsAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs:", err)
	}
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	hist := NewHistList(histOpts(srv, t.TempDir())...)
	for name, load := range map[string]func(string) error{
		"Chat.Load": chat.Load, "ChatWithHistList.Load": hist.Load, "ImportJSON": hist.ImportJSON,
	} {
		done := make(chan error, 1)
		go func() { done <- load(fifo) }()
		select {
		case err := <-done:
			if !errors.Is(err, fsutil.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") || !strings.Contains(err.Error(), fifo) {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s hangs on a FIFO", name)
		}
	}
	// A large file is refused by its size, before it is read.
	big := filepath.Join(dir, "big")
	f, _ := os.Create(big)
	f.Truncate(200 << 20)
	f.Close()
	if err := chat.Load(big); err == nil || !strings.Contains(err.Error(), "200.0 MiB") {
		t.Errorf("Chat.Load of a 200 MiB file: %v", err)
	}
}

// Error lines name the file the student asked for, on one line, never a temporary file.
func TestSaveErrorsNameTheFile(t *testing.T) {
	srv := newServer(t)
	hist := NewHistList(histOpts(srv, t.TempDir())...)
	hist.Reply(context.Background(), "第一題")
	name := filepath.Join(t.TempDir(), "no\nsuch", "x.json")
	err := hist.ExportJSON(name)
	if err == nil || strings.Contains(err.Error(), ".tmp-") || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `no\nsuch`) {
		t.Errorf("error line: %q", err)
	}
}

// Chinese lessons use Chinese names: chat names and participant names in any script work; a bad
// name is an error at New, and the chat never falls back to another chat's state.
func TestNames(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	a := NewHistList(histOpts(srv, dir, WithName("async甲"))...)
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	a.Reply(context.Background(), "你好")
	if again := NewHistList(histOpts(srv, dir, WithName("async甲"))...); len(again.Messages()) != 2 {
		t.Errorf("the chat named async甲 was not found again: %d messages", len(again.Messages()))
	}
	if other := NewHistList(histOpts(srv, dir, WithName("async乙"))...); len(other.Messages()) != 0 {
		t.Error("async乙 shares async甲's state")
	}
	// Case-insensitive file systems cannot mix up Chat and chat.
	if stateName("Chat") == stateName("chat") || stateName("小明") == stateName("小朋") {
		t.Error("state names collide")
	}
	def := New(chatOpts(srv, dir)...)
	def.Reply(context.Background(), "default chat")
	defID := def.LastID()
	bad := New(chatOpts(srv, dir, WithName("bad name/../x"))...)
	if err := bad.Err(); err == nil || !strings.Contains(err.Error(), "bad name/../x") {
		t.Fatalf("bad name: %v", err)
	}
	if err := bad.Reset(); err == nil {
		t.Error("a chat with a bad name works")
	}
	if New(chatOpts(srv, dir)...).LastID() != defID {
		t.Error("the bad chat's Reset erased the default chat's thread")
	}
	// Participant names: any script, sent to Chat Completions in the API's alphabet, shown as given.
	h := NewHistList(histOpts(srv, dir, WithName("poets"))...)
	if err := h.AddDialogs(llm.UserMsg("明月几时有？").WithName("苏轼"), llm.AssistantMsg("把酒问青天。")); err != nil {
		t.Fatal(err)
	}
	if m := h.Messages(); m[0].Name != "苏轼" {
		t.Errorf("display name lost: %+v", m[0])
	}
}

// The running totals are part of the kernel state: the next cell reads them.
func TestTotalsSurviveCells(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	h := NewHistList(histOpts(srv, dir, WithName("u"))...)
	h.Reply(context.Background(), "第一題")
	h.Reply(context.Background(), "第二題")
	next := NewHistList(histOpts(srv, dir, WithName("u"))...)
	if next.LastUsage() != h.LastUsage() || next.LastUsage().TotalTokens == 0 || next.Turns() != 2 || next.Requests() != 2 || next.Usage() != h.Usage() {
		t.Errorf("next cell: last %+v turns %d requests %d; want %+v 2 2", next.LastUsage(), next.Turns(), next.Requests(), h.LastUsage())
	}
	next.Reset()
	if next.Usage().TotalTokens != 0 || next.Turns() != 0 {
		t.Errorf("Reset kept the totals: %+v", next.Usage())
	}
	c := New(chatOpts(srv, dir, WithName("u"))...)
	c.Reply(context.Background(), "第一題")
	if again := New(chatOpts(srv, dir, WithName("u"))...); again.LastUsage() != c.LastUsage() || again.Turns() != 1 {
		t.Errorf("Chat totals lost across cells")
	}
}

// The default instructions belong to the Responses API's instructions field: never a second
// system message, never sent to Chat Completions, never sent with a history that has its own
// system message.
func TestDefaultInstructionsOnlyWhereTheyBelong(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	src := NewHistList(histOpts(srv, dir, WithName("src"), WithSystem("你是一个乐于助人的助手。"))...)
	src.Reply(context.Background(), "第一題")
	file := filepath.Join(t.TempDir(), "h.gob")
	if err := src.Save(file); err != nil {
		t.Fatal(err)
	}
	dst := NewHistList(histOpts(srv, dir, WithName("dst"))...)
	if err := dst.Load(file); err != nil {
		t.Fatal(err)
	}
	dst.Reply(context.Background(), "第二題")
	req := lastRequest(t, srv, "/v1/responses")
	if _, sent := req["instructions"]; sent {
		t.Errorf("a history with its own system message also got instructions: %v", req["instructions"])
	}
	systems := 0
	for _, it := range req["input"].([]any) {
		if it.(map[string]any)["role"] == "system" {
			systems++
		}
	}
	if systems != 1 {
		t.Errorf("%d system messages sent, want 1", systems)
	}
	// Without a system message, a ChatWithHistList on the Responses API gets the default
	// instructions in their field, as the textbook's ChatWithHistList does.
	plain := NewHistList(histOpts(srv, dir, WithName("plain"))...)
	plain.Reply(context.Background(), "第一題")
	if got := lastRequest(t, srv, "/v1/responses")["instructions"]; got != DefaultInstructions {
		t.Errorf("instructions = %v", got)
	}
	// An explicit WithInstructions("") sends none.
	none := NewHistList(histOpts(srv, dir, WithName("none"), WithInstructions(""))...)
	none.Reply(context.Background(), "第一題")
	if _, sent := lastRequest(t, srv, "/v1/responses")["instructions"]; sent {
		t.Error("WithInstructions(\"\") still sends instructions")
	}
}

// The thread comes out oldest first even from a server that ignores "order".
func TestThreadOrderFromAServerThatIgnoresOrder(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	for _, q := range []string{"一", "二", "三"} {
		chat.Reply(context.Background(), q)
	}
	msgs, err := chat.Thread(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, m := range msgs {
		if m.Role == llm.User {
			users = append(users, m.Content)
		}
	}
	if strings.Join(users, "") != "一二三" {
		t.Errorf("thread order: %v", users)
	}
	for _, r := range srv.Handler().Requests() {
		if strings.Contains(r.Path, "input_items") && !strings.Contains(r.Query, "order=desc") {
			t.Errorf("input_items asked with %q: the API's default order (desc) must be asked for explicitly", r.Query)
		}
	}
}

// Each message of a conversation is rendered on its own: an open fence in one reply cannot
// swallow the next, and a link reference in one cannot link another.
func TestConversationMessagesRenderApart(t *testing.T) {
	msgs := []llm.Message{
		llm.AssistantMsg("```go\nfunc main() {"),
		llm.UserMsg("下一個問題 [r]"),
		llm.AssistantMsg("[r]: https://evil.example/"),
	}
	var htmls []string
	for i, m := range msgs {
		htmls = append(htmls, markdown.New().Render(messageMarkdown("zh-CN", m, i)))
	}
	if !strings.Contains(htmls[1], "<strong>[1] 用户</strong>") || strings.Contains(htmls[1], "<pre") || !strings.Contains(htmls[1], "下一個問題 [r]") {
		t.Errorf("the open fence swallowed the next message: %q", htmls[1])
	}
	if strings.Contains(strings.Join(htmls, ""), "evil.example\"") {
		t.Errorf("a reference in one message linked another: %q", htmls)
	}
	// Rendered as one document, the same messages go wrong: the reason for rendering apart.
	var one []string
	for i, m := range msgs {
		one = append(one, messageMarkdown("zh-CN", m, i))
	}
	if whole := markdown.New().Render(strings.Join(one, "\n\n")); !strings.Contains(whole, "<pre") || strings.Contains(whole, "<strong>[1] 用户</strong>") {
		t.Logf("note: one document renders as %q", whole)
	}
}

// The marks of a message, in the lesson's language.
func TestMessageMarks(t *testing.T) {
	pinned := llm.UserMsg("自然数1的后面是几?")
	pinned.Pinned = true
	cut := llm.AssistantMsg("3, and then")
	cut.Partial = true
	forged := llm.AssistantMsg("1+1=10")
	forged.Forged, forged.Pinned = true, true
	summary := llm.SystemMsg("先前对话的摘要: counting")
	summary.Summary = true
	for _, tc := range []struct {
		lang string
		m    llm.Message
		pos  int
		want string
	}{
		{"en", pinned, 1, "**[1] User** 📌 pinned\n\n自然数1的后面是几?"},
		{"zh-CN", pinned, 1, "**[1] 用户** 📌 已固定\n\n自然数1的后面是几?"},
		{"en", cut, 4, "**[4] Assistant** (cut short)\n\n3, and then"},
		{"zh-TW", forged, 6, "**[6] 助理** 📌 已釘選 (偽造)\n\n1+1=10"},
		{"zh-CN", summary, 7, "> **[7] 系统** (摘要)\n>\n> 先前对话的摘要: counting\n"},
		{"en", llm.UserMsg("明月几时有？").WithName("苏轼"), -1, "**User (苏轼)**\n\n明月几时有？"},
	} {
		if got := messageMarkdown(tc.lang, tc.m, tc.pos); got != tc.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", tc.lang, tc.m, got, tc.want)
		}
	}
}
