package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gonbchat/gonbchat/llm"
)

// ErrPinsExceedCap is matched (with errors.Is) by the warning a List records when trimming
// cannot bring the history within a limit: the message cap, a sliding window or a token
// budget. What cannot be trimmed — system and developer messages, pinned messages, the
// questions of pinned replies and the newest turn — is kept anyway; the warning says so, so
// that the caller can show it. See *LimitError for the numbers.
var ErrPinsExceedCap = errors.New("history: the messages that cannot be trimmed exceed the limit")

// LimitError is the warning recorded when a limit cannot be met. It matches ErrPinsExceedCap.
type LimitError struct {
	Limit  string // "message cap", "sliding window" or "token budget"
	Unit   string // "messages", "turns" or "tokens"
	Max    int    // the limit
	Have   int    // what is left after trimming everything that can be trimmed
	Pinned int    // how many user and assistant messages are kept because of pins
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("history: %d %s kept, over the %s of %d: %d pinned message(s), the newest turn and "+
		"the system messages cannot be trimmed; unpin messages (Unpin) or raise the limit",
		e.Have, e.Unit, e.Limit, e.Max, e.Pinned)
}

// Is makes errors.Is(err, ErrPinsExceedCap) true.
func (e *LimitError) Is(target error) bool { return target == ErrPinsExceedCap }

// Strategy is a way of keeping a history short, set with List.SetStrategy or WithStrategy.
// Strategies are made by SlidingWindow, TokenBudget and Summarize. Like the message cap,
// they trim whole turns, oldest first, keep system and developer messages, pinned messages
// and the questions of pinned replies, and always keep the newest turn.
type Strategy interface {
	// trim applies the strategy to l (locked) and returns a warning if it cannot.
	trim(l *List) error
}

// SlidingWindow keeps the last n turns (at least 1) and the system messages: 001's
// trim_conversation, in whole turns rather than messages.
func SlidingWindow(turns int) Strategy { return windowStrategy{turns: max(turns, 1)} }

type windowStrategy struct{ turns int }

func (s windowStrategy) trim(l *List) error {
	if l.dropOldest(func() bool { return len(turnSpans(l.msgs)) > s.turns }) {
		return nil
	}
	return &LimitError{Limit: "sliding window", Unit: "turns", Max: s.turns, Have: len(turnSpans(l.msgs)), Pinned: pinnedCount(l.msgs)}
}

// TokenCounter counts the tokens a model sees for a history. Package history/tokens
// provides one backed by OpenAI's tokenizers.
type TokenCounter interface {
	// MessageTokens returns the tokens of one message, its per-message overhead included.
	MessageTokens(m llm.Message) int
	// PrimingTokens returns the tokens every reply is primed with.
	PrimingTokens() int
}

// CountTokens returns the tokens c counts for sending msgs.
func CountTokens(c TokenCounter, msgs []llm.Message) int {
	n := c.PrimingTokens()
	for _, m := range msgs {
		n += c.MessageTokens(m)
	}
	return n
}

// TokenBudget keeps the history within budget tokens as counted by c, so that the request
// (without the reply) fits a context window or a price. A budget <= 0 means no budget.
func TokenBudget(budget int, c TokenCounter) Strategy {
	return tokenStrategy{budget: budget, counter: c}
}

type tokenStrategy struct {
	budget  int
	counter TokenCounter
}

func (s tokenStrategy) trim(l *List) error {
	if s.budget <= 0 {
		return nil
	}
	if s.counter == nil {
		return errors.New("history: TokenBudget has no TokenCounter")
	}
	cache := make(map[uint64]int, len(l.msgs))
	total := func() int {
		n := s.counter.PrimingTokens()
		for _, m := range l.msgs {
			c, ok := cache[m.ID]
			if !ok {
				c = s.counter.MessageTokens(m)
				cache[m.ID] = c
			}
			n += c
		}
		return n
	}
	if l.dropOldest(func() bool { return total() > s.budget }) {
		return nil
	}
	return &LimitError{Limit: "token budget", Unit: "tokens", Max: s.budget, Have: total(), Pinned: pinnedCount(l.msgs)}
}

// Summarizer condenses older messages into a summary, typically by asking a model
// (001's summarize_conversation). The messages may start with an earlier summary.
// Transcript formats them as text for a prompt.
type Summarizer func(ctx context.Context, older []llm.Message) (string, error)

// SummaryPrefix starts the content of a summary message: lesson 001's "summary of the earlier conversation: ".
const SummaryPrefix = "先前对话的摘要: "

// Summarize replaces older turns by a summary when the history has more than after turns:
// every turn but the newest keep ones (at least 1), except pinned messages and the
// questions of pinned replies, is given to fn together with any earlier summary, and
// replaced by ONE system message marked Summary, placed after the leading system and
// developer messages. It runs in List.Trim only (it calls a model); appends do not run it.
func Summarize(after, keep int, fn Summarizer) Strategy {
	keep = max(keep, 1)
	return summaryStrategy{after: max(after, keep), keep: keep, fn: fn}
}

type summaryStrategy struct {
	after, keep int
	fn          Summarizer
}

func (summaryStrategy) trim(*List) error { return nil } // see List.summarize

// Trim applies the strategies now, Summarize included, then the message cap. It returns the
// summarizer's error (the history is then unchanged by it), else the trimming warning
// (see ErrPinsExceedCap), which Warning also returns.
func (l *List) Trim(ctx context.Context) error {
	l.mu.Lock()
	strategies := slices.Clone(l.strategies)
	l.mu.Unlock()
	for _, s := range strategies {
		if sum, ok := s.(summaryStrategy); ok {
			if err := l.summarize(ctx, sum); err != nil {
				return err
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.trimLocked()
}

func (l *List) summarize(ctx context.Context, s summaryStrategy) error {
	if s.fn == nil {
		return errors.New("history: Summarize has no Summarizer")
	}
	l.mu.Lock()
	spans := turnSpans(l.msgs)
	if len(spans) <= s.after {
		l.mu.Unlock()
		return nil
	}
	take := make(map[int]bool)
	for _, sp := range spans[:len(spans)-s.keep] {
		for _, i := range removable(l.msgs, sp) {
			take[i] = true
		}
	}
	var older []llm.Message
	ids := make(map[uint64]bool)
	turnMsgs := 0
	for i, m := range l.msgs {
		if m.Summary || take[i] {
			older = append(older, m)
			ids[m.ID] = true
			if take[i] {
				turnMsgs++
			}
		}
	}
	l.mu.Unlock()
	if turnMsgs == 0 {
		return nil
	}
	text, err := s.fn(ctx, slices.Clone(older))
	if err != nil {
		return fmt.Errorf("history: summarizing %d older messages: %w", len(older), err)
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("history: the summarizer returned an empty summary; the history is unchanged")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = slices.DeleteFunc(l.msgs, func(m llm.Message) bool { return ids[m.ID] })
	at := 0
	for at < len(l.msgs) && l.msgs[at].Role.Instruction() && !l.msgs[at].Summary {
		at++
	}
	l.lastID++
	l.msgs = slices.Insert(l.msgs, at, llm.Message{Role: llm.System, Content: SummaryPrefix + text, Summary: true, ID: l.lastID})
	return nil
}

// Transcript formats messages as "role: content" lines, the way 001's summarize_conversation
// does, for a summarizer's prompt. System messages are skipped, except earlier summaries.
func Transcript(msgs []llm.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.Role.Instruction() && !m.Summary {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", m.Role, m.Content)
	}
	return b.String()
}

// trimLocked applies the strategies, then the cap, and records the warning.
func (l *List) trimLocked() error {
	var warns []error
	for _, s := range l.strategies {
		if s == nil {
			continue
		}
		if w := s.trim(l); w != nil {
			warns = append(warns, w)
		}
	}
	if l.maxCount > 0 {
		if !l.dropOldest(func() bool { return turnMessages(l.msgs) > l.maxCount }) {
			warns = append(warns, &LimitError{Limit: "message cap", Unit: "messages", Max: l.maxCount,
				Have: turnMessages(l.msgs), Pinned: pinnedCount(l.msgs)})
		}
	}
	l.warning = errors.Join(warns...)
	return l.warning
}

// dropOldest removes the oldest removable part of a turn while over() is true. It reports
// whether over() became false.
func (l *List) dropOldest(over func() bool) bool {
	for over() {
		spans := turnSpans(l.msgs)
		if len(spans) < 2 {
			return false
		}
		done := false
		for _, sp := range spans[:len(spans)-1] { // the newest turn is never trimmed
			if idx := removable(l.msgs, sp); len(idx) > 0 {
				drop := make(map[int]bool, len(idx))
				for _, i := range idx {
					drop[i] = true
				}
				l.removeLocked(drop)
				done = true
				break
			}
		}
		if !done {
			return false
		}
	}
	return true
}

// removable returns the positions of the messages of a turn that trimming may remove:
// all of them but pinned ones and the question of a pinned reply.
func removable(msgs []llm.Message, sp span) []int {
	keepQuestion := false
	for _, i := range sp.idx {
		if msgs[i].Role == llm.Assistant && msgs[i].Pinned {
			keepQuestion = true
		}
	}
	var out []int
	for _, i := range sp.idx {
		if msgs[i].Pinned || i == sp.user && keepQuestion {
			continue
		}
		out = append(out, i)
	}
	return out
}

// turnMessages counts user and assistant messages (what the message cap counts).
func turnMessages(msgs []llm.Message) int {
	n := 0
	for _, m := range msgs {
		if !m.Role.Instruction() {
			n++
		}
	}
	return n
}

// pinnedCount counts the user and assistant messages that pins keep.
func pinnedCount(msgs []llm.Message) int {
	n := 0
	for _, sp := range turnSpans(msgs) {
		n += len(sp.idx) - len(removable(msgs, sp))
	}
	return n
}
