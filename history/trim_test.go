package history

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

func TestSlidingWindow(t *testing.T) {
	l := New(WithStrategy(SlidingWindow(2)))
	l.SetSystem("sys")
	for i := range 5 {
		ask(t, l, fmt.Sprint("q", i), fmt.Sprint("a", i))
	}
	wantMsgs(t, l, "system:sys", "user:q3", "assistant:a3", "user:q4", "assistant:a4")
	// A pinned question stays and counts as a turn: the window then holds it and the newest.
	l.Pin(1)
	ask(t, l, "q5", "a5")
	wantMsgs(t, l, "system:sys", "user:q3*", "user:q5", "assistant:a5")
	if l.Warning() != nil {
		t.Fatal(l.Warning())
	}
	if err := l.SetStrategy(SlidingWindow(1)); !errors.Is(err, ErrPinsExceedCap) {
		t.Fatalf("SetStrategy(SlidingWindow(1)) = %v, want a warning", err)
	}
	wantMsgs(t, l, "system:sys", "user:q3*", "user:q5", "assistant:a5")
}

// runeCounter counts one token per rune plus the cookbook's overheads: enough to test the
// trimming logic; package tokens tests the real tokenizer.
type runeCounter struct{}

func (runeCounter) MessageTokens(m llm.Message) int { return 3 + len([]rune(m.Content)) }
func (runeCounter) PrimingTokens() int              { return 3 }

func TestTokenBudget(t *testing.T) {
	const budget = 60
	l := New(WithStrategy(TokenBudget(budget, runeCounter{})))
	l.SetSystem("sys") // 6 tokens
	for i := range 6 {
		ask(t, l, fmt.Sprint("question ", i), fmt.Sprint("answer ", i)) // 13 + 11 = 24 tokens a turn
		if n := CountTokens(runeCounter{}, l.Messages()); n > budget {
			t.Fatalf("after turn %d: %d tokens, over the budget of %d", i, n, budget)
		}
	}
	// 3 + 6 + 2*24 = 57 tokens fit; a third turn would not.
	wantMsgs(t, l, "system:sys", "user:question 4", "assistant:answer 4", "user:question 5", "assistant:answer 5")
	// A newest turn bigger than the budget is kept, with a warning.
	long := strings.Repeat("长", 100)
	ask(t, l, long, "ok")
	wantMsgs(t, l, "system:sys", "user:"+long, "assistant:ok")
	var le *LimitError
	if !errors.As(l.Warning(), &le) || le.Unit != "tokens" || le.Max != budget || le.Have != CountTokens(runeCounter{}, l.Messages()) {
		t.Fatalf("Warning() = %v", l.Warning())
	}
}

func TestSummarize(t *testing.T) {
	var calls [][]llm.Message
	fn := func(ctx context.Context, older []llm.Message) (string, error) {
		calls = append(calls, older)
		return fmt.Sprintf("%d messages about numbers", len(older)), nil
	}
	l := New(WithStrategy(Summarize(4, 2, fn)))
	l.SetSystem("sys")
	for i := range 4 {
		ask(t, l, fmt.Sprint("q", i), fmt.Sprint("a", i))
	}
	if len(calls) != 0 || l.Turns() != 4 {
		t.Fatal("Summarize ran on append, or before the history passed 4 turns")
	}
	if err := l.Trim(t.Context()); err != nil || len(calls) != 0 {
		t.Fatalf("Trim at 4 turns: %v, %d calls", err, len(calls))
	}
	ask(t, l, "q4", "a4")
	if err := l.Pin(4); err != nil { // a1: pinned, and keeps its question q1
		t.Fatal(err)
	}
	if err := l.Trim(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := Transcript(calls[0]); got != "user: q0\nassistant: a0\nuser: q2\nassistant: a2\n" {
		t.Fatalf("the summarizer got %q", got)
	}
	wantMsgs(t, l, "system:sys", "system:"+SummaryPrefix+"4 messages about numbers",
		"user:q1", "assistant:a1*", "user:q3", "assistant:a3", "user:q4", "assistant:a4")
	if !l.Messages()[1].Summary {
		t.Fatal("the summary is not marked")
	}
	// The next summary folds in the previous one, and there is still only one.
	ask(t, l, "q5", "a5")
	ask(t, l, "q6", "a6")
	if err := l.Trim(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := Transcript(calls[1]); !strings.HasPrefix(got, "system: "+SummaryPrefix+"4 messages") || !strings.Contains(got, "user: q4\n") {
		t.Fatalf("the second summarizer call got %q", got)
	}
	wantMsgs(t, l, "system:sys", "system:"+SummaryPrefix+"5 messages about numbers",
		"user:q1", "assistant:a1*", "user:q5", "assistant:a5", "user:q6", "assistant:a6")
	// A failing summarizer leaves the history as it was.
	before := l.Messages()
	l.SetStrategy(Summarize(1, 1, func(context.Context, []llm.Message) (string, error) { return "", errors.New("no network") }))
	if err := l.Trim(t.Context()); err == nil || !strings.Contains(err.Error(), "no network") {
		t.Fatalf("Trim = %v", err)
	}
	if got := l.Messages(); len(got) != len(before) {
		t.Fatal("a failed summary changed the history")
	}
	// Reset drops the summary but keeps the prompt.
	l.Reset()
	wantMsgs(t, l, "system:sys")
}
