package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

// brief renders messages as "role:content" strings, with a * for pinned ones.
func brief(msgs []llm.Message) []string {
	var out []string
	for _, m := range msgs {
		s := string(m.Role) + ":" + m.Content
		if m.Pinned {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func wantMsgs(t *testing.T, l *List, want ...string) {
	t.Helper()
	if got := brief(l.Messages()); !slices.Equal(got, want) {
		t.Fatalf("history:\n got  %q\n want %q", got, want)
	}
}

// ask appends a completed turn the way ChatWithHistList does.
func ask(t *testing.T, l *List, q, a string) {
	t.Helper()
	if err := l.AppendTurn(llm.UserMsg(q), llm.AssistantMsg(a)); err != nil {
		t.Fatal(err)
	}
}

func TestZeroValueList(t *testing.T) {
	var l List
	if l.Len() != 0 || l.Turns() != 0 || len(l.Messages()) != 0 || l.Warning() != nil {
		t.Fatal("zero List is not empty")
	}
	ask(t, &l, "q1", "a1")
	wantMsgs(t, &l, "user:q1", "assistant:a1")
	if l.Turns() != 1 || l.Len() != 2 {
		t.Fatalf("Turns=%d Len=%d, want 1 and 2", l.Turns(), l.Len())
	}
}

func TestMessagesIsACopy(t *testing.T) {
	var l List
	ask(t, &l, "q", "a")
	ms := l.Messages()
	ms[0].Content = "changed"
	ms[0].Pinned = true
	wantMsgs(t, &l, "user:q", "assistant:a")
}

func TestIDsAreUniqueAndStable(t *testing.T) {
	var l List
	l.SetSystem("sys")
	ask(t, &l, "q1", "a1")
	ask(t, &l, "q2", "a2")
	seen := map[uint64]bool{}
	for _, m := range l.Messages() {
		if m.ID == 0 || seen[m.ID] {
			t.Fatalf("bad or repeated ID %d in %+v", m.ID, l.Messages())
		}
		seen[m.ID] = true
	}
	before := l.Messages()
	if _, err := l.Rollback(1); err != nil {
		t.Fatal(err)
	}
	ask(t, &l, "q3", "a3")
	after := l.Messages()
	for i := range 3 {
		if after[i].ID != before[i].ID {
			t.Fatalf("message %d changed ID from %d to %d", i, before[i].ID, after[i].ID)
		}
	}
	if seen[after[3].ID] || seen[after[4].ID] {
		t.Fatalf("a new message reused the ID of a rolled back one: %+v", after)
	}
}

func TestAppendTurnChecksRoles(t *testing.T) {
	var l List
	if err := l.AppendTurn(llm.AssistantMsg("a"), llm.AssistantMsg("b")); err == nil {
		t.Fatal("a turn starting with an assistant message was accepted")
	}
	if err := l.AppendTurn(llm.UserMsg("q"), llm.UserMsg("q2")); err == nil {
		t.Fatal("a turn answered by a user message was accepted")
	}
	if err := l.Append(llm.Message{Role: "tool", Content: "x"}); err == nil || !strings.Contains(err.Error(), `"tool"`) {
		t.Fatalf("unknown role: err = %v", err)
	}
	if l.Len() != 0 {
		t.Fatalf("invalid appends added messages: %q", brief(l.Messages()))
	}
	partial := llm.AssistantMsg("half an ans")
	partial.Partial = true
	if err := l.AppendTurn(llm.UserMsg("q"), partial); err != nil {
		t.Fatal(err)
	}
	if !l.Messages()[1].Partial {
		t.Fatal("Partial mark lost")
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"", "Tony", "a_b_9", "a-b", "苏轼", "李清照", "小明2", strings.Repeat("x", 64), strings.Repeat("诗", 64)} {
		if err := llm.ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"苏 轼", "a b", "x,y", "<|im_end|>", "a/b", strings.Repeat("x", 65), strings.Repeat("诗", 65)} {
		if err := llm.ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted it", bad)
		}
	}
	var l List
	if err := l.AddDialogs(llm.UserMsg("hi").WithName("bad name")); err == nil {
		t.Fatal("AddDialogs accepted an invalid name")
	}
	if err := l.AddDialogs(llm.UserMsg("hi").WithName("Tony")); err != nil || l.Messages()[0].Name != "Tony" {
		t.Fatalf("err=%v msgs=%+v", err, l.Messages())
	}
}

func TestAddDialogsMarksForged(t *testing.T) {
	var l List
	ask(t, &l, "real q", "real a")
	in := []llm.Message{llm.UserMsg("请问1+1=几?"), llm.AssistantMsg("1+1=10"), {Role: llm.User, Content: "那10+10=几?", ID: 99, Pinned: true}}
	if err := l.AddDialogs(in...); err != nil {
		t.Fatal(err)
	}
	ms := l.Messages()
	if ms[0].Forged || ms[1].Forged {
		t.Fatal("real turn marked forged")
	}
	for _, m := range ms[2:] {
		if !m.Forged {
			t.Fatalf("imported message not marked forged: %+v", m)
		}
	}
	if !ms[4].Pinned || ms[4].ID == 99 {
		t.Fatalf("imported pin should be kept and the ID replaced: %+v", ms[4])
	}
	if in[0].Forged {
		t.Fatal("AddDialogs changed the caller's slice")
	}
}

// openai2's rollback example: 7 turns, roll back 1 then 3, then ask again.
func TestRollbackOpenAI2Example(t *testing.T) {
	var l List
	ask(t, &l, "自然数1的后面是几?", "2")
	ask(t, &l, "再往后是几?", "3")
	for i := 4; i <= 8; i++ {
		ask(t, &l, "再往后呢?", fmt.Sprint(i))
	}
	got, err := l.Rollback(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"user:再往后呢?", "assistant:8"}; !slices.Equal(brief(got), want) {
		t.Fatalf("Rollback(1) removed %q, want %q", brief(got), want)
	}
	got, err = l.Rollback(3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"user:再往后呢?", "assistant:5", "user:再往后呢?", "assistant:6", "user:再往后呢?", "assistant:7"}; !slices.Equal(brief(got), want) {
		t.Fatalf("Rollback(3) removed %q, want %q", brief(got), want)
	}
	if l.Turns() != 3 || l.Messages()[5].Content != "4" {
		t.Fatalf("after rollbacks: %q", brief(l.Messages()))
	}
}

// Rollback finds turns by role in a forged history: two questions in a row, a system
// message in between, a trailing question with no reply, a reply with no question.
func TestRollbackIrregularHistory(t *testing.T) {
	var l List
	if err := l.AddDialogs(
		llm.SystemMsg("sys"),
		llm.AssistantMsg("greeting"), // a reply with no question: a turn of its own
		llm.UserMsg("q1"),
		llm.UserMsg("q2"), // two questions in a row: two turns
		llm.AssistantMsg("a2"),
		llm.SystemMsg("mid"), // not part of any turn
		llm.AssistantMsg("a2 again"),
		llm.UserMsg("q3"), // no reply
	); err != nil {
		t.Fatal(err)
	}
	if l.Turns() != 4 {
		t.Fatalf("Turns() = %d, want 4", l.Turns())
	}
	if _, err := l.Rollback(5); err == nil || !strings.Contains(err.Error(), "has 4") {
		t.Fatalf("Rollback(5) err = %v", err)
	}
	if _, err := l.Rollback(0); err == nil {
		t.Fatal("Rollback(0) succeeded")
	}
	if l.Len() != 8 {
		t.Fatal("a failed rollback removed messages")
	}
	got, _ := l.Rollback(1)
	if want := []string{"user:q3"}; !slices.Equal(brief(got), want) {
		t.Fatalf("removed %q, want %q", brief(got), want)
	}
	got, _ = l.Rollback(1)
	if want := []string{"user:q2", "assistant:a2", "assistant:a2 again"}; !slices.Equal(brief(got), want) {
		t.Fatalf("removed %q, want %q", brief(got), want)
	}
	wantMsgs(t, &l, "system:sys", "assistant:greeting", "user:q1", "system:mid")
	got, _ = l.Rollback(2)
	if want := []string{"assistant:greeting", "user:q1"}; !slices.Equal(brief(got), want) {
		t.Fatalf("removed %q, want %q", brief(got), want)
	}
	wantMsgs(t, &l, "system:sys", "system:mid")
	if _, err := l.Rollback(1); err == nil {
		t.Fatal("Rollback on a history with no turns succeeded")
	}
}

func TestReset(t *testing.T) {
	var l List
	l.SetSystem("you are helpful")
	ask(t, &l, "q1", "a1")
	l.Append(llm.Message{Role: llm.System, Content: "Summary of...", Summary: true})
	ask(t, &l, "q2", "a2")
	l.Pin(1)
	l.AddUsage(llm.Usage{InputTokens: 5, OutputTokens: 7, TotalTokens: 12})
	l.Reset()
	wantMsgs(t, &l, "system:you are helpful")
	if l.Usage().TotalTokens != 12 {
		t.Fatal("Reset cleared the usage")
	}
}

func TestSetSystem(t *testing.T) {
	var l List
	ask(t, &l, "q", "a")
	l.SetSystem("one")
	wantMsgs(t, &l, "system:one", "user:q", "assistant:a")
	l.SetSystem("two")
	wantMsgs(t, &l, "system:two", "user:q", "assistant:a")
	l.SetSystem("")
	wantMsgs(t, &l, "user:q", "assistant:a")
}

func TestPinPositions(t *testing.T) {
	var l List
	ask(t, &l, "q1", "a1")
	ask(t, &l, "q2", "a2")
	if err := l.Pin(0, -1); err != nil {
		t.Fatal(err)
	}
	if err := l.Pin(0); err != nil { // pinning a pinned message is fine
		t.Fatal(err)
	}
	wantMsgs(t, &l, "user:q1*", "assistant:a1", "user:q2", "assistant:a2*")
	for _, bad := range []int{4, -5} {
		if err := l.Pin(1, bad); err == nil {
			t.Fatalf("Pin(%d) succeeded on 4 messages", bad)
		}
	}
	wantMsgs(t, &l, "user:q1*", "assistant:a1", "user:q2", "assistant:a2*") // nothing changed
	if err := l.Unpin(-1, 1); err != nil {                                  // unpinning an unpinned one is fine
		t.Fatal(err)
	}
	wantMsgs(t, &l, "user:q1*", "assistant:a1", "user:q2", "assistant:a2")
}

// A pin marks the message, not its position: it follows the message when a rollback or
// trimming moves it.
func TestPinFollowsMessage(t *testing.T) {
	l := New(WithMaxCount(4))
	ask(t, l, "q1", "a1")
	ask(t, l, "q2", "a2")
	if err := l.Pin(2, 3); err != nil {
		t.Fatal(err)
	}
	ask(t, l, "q3", "a3")
	wantMsgs(t, l, "user:q2*", "assistant:a2*", "user:q3", "assistant:a3")
	if _, err := l.Rollback(1); err != nil {
		t.Fatal(err)
	}
	ask(t, l, "q4", "a4")
	ask(t, l, "q5", "a5")
	wantMsgs(t, l, "user:q2*", "assistant:a2*", "user:q5", "assistant:a5")
	if l.Warning() != nil {
		t.Fatalf("unexpected warning %v", l.Warning())
	}
}

// openai2's first MsgMaxCount example: 8 turns with a cap of 6 keep the last 3 turns.
func TestMaxCountOpenAI2Example(t *testing.T) {
	l := New(WithMaxCount(6))
	for _, qa := range capitals {
		ask(t, l, qa[0], qa[1])
	}
	wantMsgs(t, l,
		"user:法国的首都叫什么？", "assistant:巴黎",
		"user:青蛙的幼体叫什么？", "assistant:蝌蚪",
		"user:世界上最大的海洋是什么？", "assistant:太平洋")
}

var capitals = [][2]string{
	{"英国的首都是什么？", "伦敦"},
	{"日本首都是什么？", "东京"},
	{"意大利的首都是什么？", "罗马"},
	{"美国的首都是什么？", "华盛顿"},
	{"世界上国土面积最大的国家是哪个？", "俄罗斯"},
	{"法国的首都叫什么？", "巴黎"},
	{"青蛙的幼体叫什么？", "蝌蚪"},
	{"世界上最大的海洋是什么？", "太平洋"},
}

// openai2's pin example (锁定消息), turn-aware.
//
// openai2 trims message by message: after the 美国 turn it drops the two oldest unpinned
// messages, 伦敦 and 日本首都是什么？, and keeps 东京 — a reply without its question — to
// reach exactly 6 messages: 英国*, 东京, 意大利*, 罗马*, 美国, 华盛顿.
//
// Here trimming removes the unpinned part of a turn as a unit, oldest first, and never keeps
// a reply whose question is gone: it drops 伦敦 (the unpinned reply of the pinned question
// 英国), then the whole 日本/东京 turn, leaving 5 messages (under the cap by one rather
// than keeping 东京 alone). A pinned question may stay without its reply, as in openai2:
// the user pinned the question only.
//
// From there the two agree: pinning -2 pins 美国的首都是什么？ in both, each new turn
// pushes out the previous unpinned turn (and 华盛顿, the unpinned reply of the pinned 美国),
// and the final list is openai2's expected output, message for message. That output keeps
// 英国的首都是什么？ and 美国的首都是什么？ without their answers: only the questions were
// pinned. We keep that (the student asked for exactly those messages, and a lone question
// misleads the model less than a lone answer); what turn-awareness forbids is the opposite,
// an answer whose question is gone, which is why 东京 goes with 日本首都是什么？ here.
func TestPinOpenAI2Example(t *testing.T) {
	l := New(WithMaxCount(6))
	for _, qa := range capitals[:3] {
		ask(t, l, qa[0], qa[1])
	}
	if err := l.Pin(0, -2, -1); err != nil {
		t.Fatal(err)
	}
	ask(t, l, capitals[3][0], capitals[3][1])
	wantMsgs(t, l,
		"user:英国的首都是什么？*",
		"user:意大利的首都是什么？*", "assistant:罗马*",
		"user:美国的首都是什么？", "assistant:华盛顿")
	if err := l.Pin(-2); err != nil {
		t.Fatal(err)
	}
	for _, qa := range capitals[4:] {
		ask(t, l, qa[0], qa[1])
	}
	wantMsgs(t, l,
		"user:英国的首都是什么？*",
		"user:意大利的首都是什么？*", "assistant:罗马*",
		"user:美国的首都是什么？*",
		"user:世界上最大的海洋是什么？", "assistant:太平洋")
	if l.Warning() != nil {
		t.Fatalf("unexpected warning: %v", l.Warning())
	}
}

func TestMaxCountKeepsSystemMessages(t *testing.T) {
	l := New(WithMaxCount(4))
	l.SetSystem("sys")
	for _, qa := range capitals[:4] {
		ask(t, l, qa[0], qa[1])
	}
	wantMsgs(t, l, "system:sys",
		"user:意大利的首都是什么？", "assistant:罗马",
		"user:美国的首都是什么？", "assistant:华盛顿")
	// Lowering the cap trims at once, in whole turns: 3 allows one turn only.
	if err := l.SetMaxCount(3); err != nil {
		t.Fatal(err)
	}
	wantMsgs(t, l, "system:sys", "user:美国的首都是什么？", "assistant:华盛顿")
	if err := l.SetMaxCount(0); err != nil || l.MaxCount() != 0 {
		t.Fatal(err)
	}
}

// A pinned reply keeps its question; when pins and the newest turn exceed the cap the
// history keeps them and says so.
func TestPinsExceedCapWarns(t *testing.T) {
	l := New(WithMaxCount(2))
	ask(t, l, "q1", "a1")
	if err := l.Pin(1); err != nil {
		t.Fatal(err)
	}
	ask(t, l, "q2", "a2")
	wantMsgs(t, l, "user:q1", "assistant:a1*", "user:q2", "assistant:a2")
	w := l.Warning()
	var le *LimitError
	if !errors.Is(w, ErrPinsExceedCap) || !errors.As(w, &le) {
		t.Fatalf("Warning() = %v, want ErrPinsExceedCap", w)
	}
	if le.Have != 4 || le.Max != 2 || le.Pinned != 2 || le.Unit != "messages" {
		t.Fatalf("LimitError = %+v", le)
	}
	if !strings.Contains(w.Error(), "4 messages kept, over the message cap of 2") {
		t.Fatalf("unclear warning: %v", w)
	}
	if err := l.Unpin(1); err != nil {
		t.Fatal(err)
	}
	if err := l.Trim(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantMsgs(t, l, "user:q2", "assistant:a2")
	if l.Warning() != nil {
		t.Fatal("warning not cleared")
	}
	// The newest turn is kept even if it alone exceeds the cap.
	if err := l.SetMaxCount(1); !errors.Is(err, ErrPinsExceedCap) {
		t.Fatalf("SetMaxCount(1) = %v", err)
	}
	wantMsgs(t, l, "user:q2", "assistant:a2")
}

// Property check over many deterministic pseudo-random histories: trimming never removes a
// pinned message or the newest turn, never leaves a reply whose question is gone, and either
// meets the cap or warns.
func TestTrimInvariants(t *testing.T) {
	seed := uint64(1)
	next := func(n int) int { // a small LCG: deterministic, no timing involved
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for round := range 300 {
		maxCount := 1 + next(8)
		l := New(WithMaxCount(maxCount))
		if next(2) == 0 {
			l.SetSystem("sys")
		}
		question := map[uint64]uint64{} // reply ID -> question ID
		var pinned []uint64
		for step := range 12 {
			before := l.Messages()
			var turn []llm.Message
			switch next(4) {
			case 0:
				turn = []llm.Message{llm.UserMsg(fmt.Sprint("q", step))}
			case 1:
				turn = []llm.Message{llm.UserMsg(fmt.Sprint("q", step)), llm.AssistantMsg("a"), llm.AssistantMsg("b")}
			default:
				turn = []llm.Message{llm.UserMsg(fmt.Sprint("q", step)), llm.AssistantMsg(fmt.Sprint("a", step))}
			}
			if err := l.AppendTurn(turn[0], turn[1:]...); err != nil {
				t.Fatal(err)
			}
			after := l.Messages()
			newest := after[len(after)-len(turn):]
			for i, m := range newest {
				if m.Content != turn[i].Content {
					t.Fatalf("round %d: newest turn not kept: %q", round, brief(after))
				}
				if m.Role == llm.Assistant {
					question[m.ID] = newest[0].ID
				}
			}
			present := map[uint64]bool{}
			for _, m := range after {
				present[m.ID] = true
			}
			for _, id := range pinned {
				wasThere := slices.ContainsFunc(before, func(m llm.Message) bool { return m.ID == id })
				if wasThere && !present[id] {
					t.Fatalf("round %d: pinned message %d trimmed: %q", round, id, brief(after))
				}
			}
			for _, m := range after {
				if q, ok := question[m.ID]; ok && !present[q] {
					t.Fatalf("round %d: reply %q kept without its question: %q", round, m.Content, brief(after))
				}
			}
			if turnMessages(after) > maxCount && !errors.Is(l.Warning(), ErrPinsExceedCap) {
				t.Fatalf("round %d: %d messages over the cap of %d and no warning", round, turnMessages(after), maxCount)
			}
			if turnMessages(after) <= maxCount && l.Warning() != nil {
				t.Fatalf("round %d: warning %v while within the cap", round, l.Warning())
			}
			if next(3) == 0 {
				p := next(len(after))
				if err := l.Pin(p); err != nil {
					t.Fatal(err)
				}
				pinned = append(pinned, after[p].ID)
			}
		}
	}
}

// A List is safe for concurrent use (run with -race): a streaming goroutine may append while
// a cell reads it.
func TestConcurrentUse(t *testing.T) {
	l := New(WithMaxCount(6), WithStrategy(SlidingWindow(2)))
	done := make(chan bool)
	for g := range 4 {
		go func() {
			defer func() { done <- true }()
			for i := range 50 {
				l.AppendTurn(llm.UserMsg(fmt.Sprint(g, i)), llm.AssistantMsg("a"))
				l.Pin(-1)
				_ = l.Messages()
				_ = l.Turns()
				l.AddUsage(llm.Usage{InputTokens: 1, OutputTokens: 1, TotalTokens: 2})
				if i%10 == 0 {
					l.Rollback(1)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := l.Usage().TotalTokens; got != 4*50*2 {
		t.Fatalf("usage %d, want %d: updates were lost", got, 4*50*2)
	}
}

func TestPop(t *testing.T) {
	var l List
	if _, ok := l.Pop(); ok {
		t.Fatal("popped from an empty history")
	}
	l.SetSystem("sys")
	l.AppendTurn(llm.UserMsg("Hello!"), llm.AssistantMsg("Hi"))
	m, ok := l.Pop()
	if !ok || m.Content != "Hi" || l.Len() != 2 || l.Turns() != 1 {
		t.Fatalf("Pop = %+v %v; %d messages, %d turns", m, ok, l.Len(), l.Turns())
	}
	if m, _ := l.Pop(); m.Content != "Hello!" || l.Len() != 1 {
		t.Fatalf("second Pop = %+v", m)
	}
}
