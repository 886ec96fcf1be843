//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/history/tokens"
	"github.com/gonbchat/gonbchat/openaitest"
)

func TestHistSendsWholeHistoryWithStoreFalse(t *testing.T) {
	srv := newServer(t)
	chat := NewHistList(histOpts(srv, t.TempDir())...)
	chat.Ask("你知道什麼是流冰嗎？")
	second := chat.Ask("哪裡看得到？")
	req := lastRequest(t, srv, "/v1/responses")
	if req["store"] != false {
		t.Errorf("store = %v, want false", req["store"])
	}
	if _, ok := req["previous_response_id"]; ok {
		t.Error("ChatWithHistList sent previous_response_id")
	}
	input, _ := req["input"].([]any)
	if len(input) != 3 {
		t.Fatalf("input has %d items, want 3 (user, assistant, user): %v", len(input), req["input"])
	}
	if !strings.Contains(second, "流冰") {
		t.Errorf("the model did not see the first turn:\n%s", second)
	}
	msgs := chat.Messages()
	if len(msgs) != 4 || msgs[0].Content != "你知道什麼是流冰嗎？" || msgs[3].Role != llm.Assistant {
		t.Errorf("history = %+v", msgs)
	}
	if u := chat.Usage(); u.TotalTokens == 0 || u == chat.LastUsage() {
		t.Errorf("usage total %+v, last %+v", u, chat.LastUsage())
	}
}

func TestHistSurvivesAcrossCells(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	NewHistList(histOpts(srv, dir, WithName("3-5"))...).Ask("第一題")
	cell3 := NewHistList(histOpts(srv, dir, WithName("3-5"))...)
	if n := len(cell3.Messages()); n != 2 {
		t.Fatalf("the next cell sees %d messages, want 2", n)
	}
	if r := cell3.Ask("第二題"); !strings.Contains(r, "第一題") {
		t.Errorf("reply does not show the first turn:\n%s", r)
	}
}

func TestHistInterruptedReplyIsKeptMarked(t *testing.T) {
	srv := newServer(t)
	chat := NewHistList(histOpts(srv, t.TempDir())...)
	chat.Ask("第一題")
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", DropAfterEvents: 12})
	if _, err := chat.Reply(context.Background(), "第二題"); err == nil {
		t.Fatal("a dropped stream succeeded")
	}
	msgs := chat.Messages()
	if len(msgs) != 4 || !msgs[3].Partial || msgs[3].Content == "" {
		t.Fatalf("want the cut-short reply kept and marked partial: %+v", msgs)
	}
	// A request that fails before any text adds nothing.
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", Status: 400})
	chat.Reply(context.Background(), "第三題")
	if len(chat.Messages()) != 4 {
		t.Errorf("a failed request changed the history")
	}
}

func TestHistSaveLoadAndForeignFiles(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	chat1 := NewHistList(histOpts(srv, dir, WithName("chat1"))...)
	chat1.Ask("你知道什麼是流冰嗎？")
	file := filepath.Join(t.TempDir(), "hist.gob")
	if err := chat1.Save(file); err != nil {
		t.Fatal(err)
	}
	chat2 := NewHistList(histOpts(srv, dir, WithName("chat2"))...)
	if err := chat2.Load(file); err != nil {
		t.Fatal(err)
	}
	if r := chat2.Ask("哪裡看得到？"); !strings.Contains(r, "流冰") {
		t.Errorf("chat2 does not continue chat1:\n%s", r)
	}
	before := chat2.Messages()
	for name, data := range map[string][]byte{
		"pickle": {0x80, 0x04, 0x95, 0x1c, 0, 0, 0, 0, 0, 0, 0, ']', 0x94},
		"json":   []byte(`[{"role":"user","content":"hi"}]`),
		"random": []byte("\x13\x37not a history at all\xff"),
		"empty":  nil,
	} {
		f := filepath.Join(t.TempDir(), name)
		os.WriteFile(f, data, 0o644)
		err := chat2.Load(f)
		var fe *history.FormatError
		if !errors.As(err, &fe) || !strings.Contains(Describe(err), f) {
			t.Errorf("%s: err = %v, want a FormatError naming the file", name, err)
		}
		if len(chat2.Messages()) != len(before) {
			t.Errorf("%s: a failed load changed the history", name)
		}
	}
}

func TestHistToolsThroughTheChat(t *testing.T) {
	srv := newServer(t)
	chat := NewHistList(histOpts(srv, t.TempDir(), WithMaxCount(6))...)
	for _, q := range []string{"英国的首都是什么？", "日本首都是什么？", "意大利的首都是什么？"} {
		chat.Ask(q)
	}
	if err := chat.Pin(0, -2, -1); err != nil {
		t.Fatal(err)
	}
	chat.Ask("美国的首都是什么？")
	msgs := chat.Messages()
	if len(msgs) > 6 || msgs[0].Content != "英国的首都是什么？" || !msgs[0].Pinned {
		t.Fatalf("after trimming: %+v", msgs)
	}
	// The model sees exactly what is kept: the mirror lists the earlier user turns it received.
	reply := chat.Ask("再往后呢?")
	if strings.Contains(reply, "日本首都") || !strings.Contains(reply, "英国的首都") {
		t.Errorf("the model should see the pinned question, not the trimmed one:\n%s", reply)
	}
	n := len(chat.Messages())
	if err := chat.Rollback(1); err != nil || len(chat.Messages()) != n-2 {
		t.Errorf("rollback: %v, %d messages", err, len(chat.Messages()))
	}
	if err := chat.Rollback(99); err == nil {
		t.Error("rolling back more turns than exist succeeded")
	}

	forged := NewHistList(histOpts(srv, t.TempDir())...)
	forged.AddDialogs(llm.UserMsg("请问1+1=几?"), llm.AssistantMsg("1+1=10"))
	if m := forged.Messages(); len(m) != 2 || !m[1].Forged {
		t.Errorf("forged dialog = %+v", m)
	}
	if r := forged.Ask("那10+10=几?"); !strings.Contains(r, "1+1") {
		t.Errorf("the model does not see the forged turn:\n%s", r)
	}
	file := filepath.Join(t.TempDir(), "record.json")
	if err := forged.ExportJSON(file); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if !strings.Contains(string(data), `"content": "请问1+1=几?"`) && !strings.Contains(string(data), `"content":"请问1+1=几?"`) {
		t.Errorf("export is not openai2's format with plain UTF-8:\n%s", data)
	}
	jenny := NewHistList(histOpts(srv, t.TempDir())...)
	if err := jenny.ImportJSON(file); err != nil || len(jenny.Messages()) != 4 {
		t.Errorf("import: %v, %d messages", err, len(jenny.Messages()))
	}
	jenny.Reset()
	if len(jenny.Messages()) != 0 {
		t.Errorf("reset left %d messages", len(jenny.Messages()))
	}
}

func TestHistSummarisesOlderTurnsThroughTheModel(t *testing.T) {
	srv := newServer(t)
	chat := NewHistList(histOpts(srv, t.TempDir(), WithSystem("你是一个乐于助人的助手。"), WithSummary(3, 1))...)
	for i := 1; i <= 4; i++ {
		chat.Ask(fmt.Sprintf("这是测试消息 %d。", i))
	}
	msgs := chat.Messages()
	var summaries int
	for _, m := range msgs {
		if m.Summary {
			summaries++
		}
	}
	if summaries != 1 || msgs[0].Content != "你是一个乐于助人的助手。" || chat.History().Turns() > 3 {
		t.Fatalf("history after summarising: %+v", msgs)
	}
	summaryReq := false
	for _, r := range srv.Handler().Requests() {
		if strings.Contains(string(r.Body), "总结") {
			summaryReq = true
		}
	}
	if !summaryReq {
		t.Error("no summary request reached the model")
	}
}

// A chat killed in the middle of a reply (the notebook's stop button ends in SIGKILL if SIGINT
// is not enough) still loads, with every earlier turn. One stopped by SIGINT keeps the part it
// showed, marked, and then ends like an interrupted program.
func TestHistSurvivesKillAndInterruptMidReply(t *testing.T) {
	if os.Getenv("GONBCHAT_HELPER_URL") != "" {
		helperAsk()
		return
	}
	srv := newServer(t, openaitest.WithPace(20*time.Millisecond))
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			seed := NewHistList(histOpts(srv, dir, WithName("k"))...)
			seed.Ask("第一題")
			seed.Ask("第二題")

			cmd := exec.Command(os.Args[0], "-test.run", "^TestHistSurvivesKillAndInterruptMidReply$")
			cmd.Env = append(os.Environ(), "GONBCHAT_HELPER_URL="+srv.URL, "GONBCHAT_HELPER_DIR="+dir)
			out := &lockedBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal once the reply is streaming (its first words are out), however slow the machine.
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), "鏡像模型") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("helper ended with %v, want killed by a signal; output:\n%s", err, out)
			}
			after := NewHistList(histOpts(srv, dir, WithName("k"))...)
			msgs := after.Messages()
			switch sig {
			case syscall.SIGKILL:
				if len(msgs) != 4 {
					t.Errorf("after SIGKILL: %d messages, want the 4 of the earlier turns", len(msgs))
				}
			case syscall.SIGINT:
				if len(msgs) != 6 || !msgs[5].Partial || msgs[5].Content == "" {
					t.Errorf("after SIGINT: want the earlier turns and the partial reply marked; got %+v\n%s", msgs, out)
				}
			}
		})
	}
}

func helperAsk() {
	chat := NewHistList(histOpts(&openaitest.Server{URL: os.Getenv("GONBCHAT_HELPER_URL")}, os.Getenv("GONBCHAT_HELPER_DIR"), WithName("k"))...)
	chat.Ask("第三題：請寫一篇很長的回答")
	os.Exit(0)
}

// A token budget set through the chat keeps what is sent within the budget, as counted by the
// model's real tokenizer.
func TestHistTokenBudgetThroughTheChat(t *testing.T) {
	counter, err := tokens.ForModel(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	const budget = 400
	srv := newServer(t)
	chat := NewHistList(histOpts(srv, t.TempDir(), WithTrim(history.TokenBudget(budget, counter)))...)
	for i := 0; i < 6; i++ {
		chat.Ask(fmt.Sprintf("第 %d 個問題：請介紹一下流冰。", i))
		if n := counter.Count(chat.Messages()); n > budget {
			t.Fatalf("after turn %d the history holds %d tokens, over the budget of %d", i, n, budget)
		}
	}
	if chat.History().Turns() >= 6 {
		t.Error("nothing was trimmed")
	}
}

// Every GoNB cell re-creates the chats it declares: that must read the state, not rewrite it.
func TestHistRedeclaringWritesNothing(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	opts := histOpts(srv, dir, WithName("cells"), WithSystem("你是一个乐于助人的助手。"))
	path := filepath.Join(dir, "hist", "cells.json")
	NewHistList(opts...)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("declaring a new chat wrote %s (%v)", path, err)
	}
	NewHistList(opts...).Ask("第一題")
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	again := NewHistList(opts...)
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Error("re-declaring the chat rewrote its state file")
	}
	if msgs := again.Messages(); len(msgs) != 3 || msgs[0].Role != llm.System {
		t.Errorf("re-declared chat: %+v", msgs)
	}
}

// lockedBuffer is a strings.Builder safe for a child process's writers and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
