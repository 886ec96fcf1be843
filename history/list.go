package history

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gonbchat/gonbchat/llm"
)

// List is a conversation history. Its zero value is an empty history with no cap and no
// trimming strategy. A List is safe for concurrent use; it must not be copied after first use.
type List struct {
	mu         sync.Mutex
	msgs       []llm.Message
	lastID     uint64
	maxCount   int
	strategies []Strategy
	usage      llm.Usage
	warning    error
}

// Option configures a List made by New.
type Option func(*List)

// WithMaxCount caps the number of user and assistant messages (see List.SetMaxCount).
func WithMaxCount(n int) Option { return func(l *List) { l.maxCount = max(n, 0) } }

// WithStrategy sets trimming strategies (see List.SetStrategy).
func WithStrategy(s ...Strategy) Option {
	return func(l *List) { l.strategies = slices.Clone(s) }
}

// New returns an empty List configured by opts.
func New(opts ...Option) *List {
	l := &List{}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Len returns the number of messages, system messages included.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// Turns returns the number of turns: user messages, each with the assistant replies that
// follow it, plus any assistant message that has no question before it.
func (l *List) Turns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(turnSpans(l.msgs))
}

// Messages returns a copy of the history, oldest first.
func (l *List) Messages() []llm.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// Warning returns why the last trimming could not bring the history within its limits
// (see ErrPinsExceedCap), or nil if it did.
func (l *List) Warning() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warning
}

// Append adds messages as they are (for example a system prompt, or a user message whose
// reply failed), then trims. It adds nothing if a message is invalid. It returns only
// validation errors: a trimming warning is recorded for Warning.
func (l *List) Append(msgs ...llm.Message) error {
	return l.add(false, msgs)
}

// AppendTurn adds a completed turn: the user's message and the assistant's replies (usually
// one; mark a reply that was cut short with Partial), then trims. Like Append, it returns
// only validation errors; see Warning for trimming.
func (l *List) AppendTurn(user llm.Message, replies ...llm.Message) error {
	if user.Role != llm.User {
		return fmt.Errorf("history: a turn starts with a user message, not %s", roleName(user.Role))
	}
	for _, r := range replies {
		if r.Role != llm.Assistant {
			return fmt.Errorf("history: a turn is answered by assistant messages, not %s", roleName(r.Role))
		}
	}
	return l.add(false, append([]llm.Message{user}, replies...))
}

// AddDialogs imports messages, for example a conversation exported with ExportJSON or one
// made up to steer the model (openai2's add_dialogs). The messages are marked Forged. Their
// Pinned flags are kept; their IDs are replaced by new ones. It adds nothing if a message
// is invalid.
func (l *List) AddDialogs(msgs ...llm.Message) error {
	return l.add(true, msgs)
}

func (l *List) add(forged bool, msgs []llm.Message) error {
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if forged {
			m.Forged = true
		}
		l.lastID++
		m.ID = l.lastID
		l.msgs = append(l.msgs, m)
	}
	l.trimLocked()
	return nil
}

func roleName(r llm.Role) string {
	if r == "" {
		return "a message with no role"
	}
	return fmt.Sprintf("a %s message", r)
}

// SetSystem sets the system prompt: it replaces the content of the first system message if
// the history starts with system or developer messages, or puts a system message first.
// An empty prompt removes that message.
func (l *List) SetSystem(prompt string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, m := range l.msgs {
		if !m.Role.Instruction() {
			break
		}
		if m.Role == llm.System && !m.Summary {
			if prompt == "" {
				l.msgs = slices.Delete(l.msgs, i, i+1)
			} else {
				l.msgs[i].Content = prompt
			}
			return
		}
	}
	if prompt == "" {
		return
	}
	l.lastID++
	l.msgs = slices.Insert(l.msgs, 0, llm.Message{Role: llm.System, Content: prompt, ID: l.lastID})
}

// Rollback removes the last n turns and returns the removed messages, oldest first, so that
// the caller can show them. Turns are found by role, not counted as pairs: a question that
// got no reply is a turn, two questions in a row are two turns, and system or developer
// messages between turns are not removed. Rollback removes pinned messages too. It removes
// nothing and returns an error if n < 1 or the history has fewer than n turns.
func (l *List) Rollback(n int) ([]llm.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	spans := turnSpans(l.msgs)
	if n < 1 {
		return nil, fmt.Errorf("history: cannot roll back %d turns; roll back at least 1", n)
	}
	if n > len(spans) {
		return nil, fmt.Errorf("history: cannot roll back %d turns: the history has %d", n, len(spans))
	}
	drop := make(map[int]bool)
	for _, s := range spans[len(spans)-n:] {
		for _, i := range s.idx {
			drop[i] = true
		}
	}
	removed := l.removeLocked(drop)
	l.warning = nil
	l.trimLocked()
	return removed, nil
}

// Pop removes the last message, whatever it is, and returns it, as Python's messages.pop()
// does; ok is false for an empty history. Unlike Rollback it may leave a question without its
// answer, or a reply without its question.
func (l *List) Pop() (m llm.Message, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) == 0 {
		return llm.Message{}, false
	}
	m = l.msgs[len(l.msgs)-1]
	l.msgs = l.msgs[:len(l.msgs)-1]
	l.warning = nil
	return m, true
}

// Reset clears the conversation: it keeps the system and developer messages (the prompt)
// and removes all turns, pinned or not, and any summary (a summary describes turns that are
// gone). Usage totals are kept: tokens spent stay spent.
func (l *List) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = slices.DeleteFunc(l.msgs, func(m llm.Message) bool { return !m.Role.Instruction() || m.Summary })
	l.warning = nil
}

// removeLocked deletes the messages at the given positions and returns them in order.
func (l *List) removeLocked(drop map[int]bool) []llm.Message {
	var removed []llm.Message
	kept := l.msgs[:0]
	for i, m := range l.msgs {
		if drop[i] {
			removed = append(removed, m)
		} else {
			kept = append(kept, m)
		}
	}
	clear(l.msgs[len(kept):])
	l.msgs = kept
	return removed
}

// Pin marks the messages at the given positions so that trimming keeps them. Positions are
// those of Messages at the time of the call; negative positions count from the end (-1 is
// the last message), as in Python. The mark stays on the message when it moves. Pinning a
// pinned message is fine. Pin changes nothing and returns an error if a position is out of
// range.
func (l *List) Pin(positions ...int) error { return l.setPinned(true, positions) }

// Unpin removes the pin of the messages at the given positions (see Pin). Unpinning a
// message that is not pinned is fine. Unpinned messages are trimmed at the next append, or
// by Trim.
func (l *List) Unpin(positions ...int) error { return l.setPinned(false, positions) }

func (l *List) setPinned(pinned bool, positions []int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.msgs)
	idx := make([]int, len(positions))
	for k, p := range positions {
		i := p
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return fmt.Errorf("history: position %d is out of range: the history has %d messages (valid: %d to %d)", p, n, -n, n-1)
		}
		idx[k] = i
	}
	for _, i := range idx {
		l.msgs[i].Pinned = pinned
	}
	return nil
}

// MaxCount returns the message cap (0: none).
func (l *List) MaxCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxCount
}

// SetMaxCount caps the number of user and assistant messages, like openai2's MsgMaxCount,
// and trims now; n <= 0 removes the cap. System and developer messages (the prompt and any
// summary) are always kept and do not count. Trimming removes whole unpinned turns, oldest
// first, keeps pinned messages and the questions of pinned replies, and always keeps the
// newest turn, so that a turn never loses its question. If the history cannot be brought
// under the cap, SetMaxCount returns (and Warning records) an error matching
// ErrPinsExceedCap.
func (l *List) SetMaxCount(n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxCount = max(n, 0)
	return l.trimLocked()
}

// SetStrategy replaces the trimming strategies and trims now. With no strategy only the
// message cap applies. The strategies run after every append, in order, then the cap;
// Summarize runs only in Trim, because it calls a model.
func (l *List) SetStrategy(s ...Strategy) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.strategies = slices.Clone(s)
	return l.trimLocked()
}

// Usage returns the tokens counted with AddUsage.
func (l *List) Usage() llm.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usage
}

// AddUsage adds the usage of a request to the totals.
func (l *List) AddUsage(u llm.Usage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.usage = l.usage.Add(u)
}

// span is one turn: the positions of its messages (the question first, if any).
type span struct {
	user int // position of the question, or -1 for a reply with no question
	idx  []int
}

// turnSpans groups the user and assistant messages into turns. A user message starts a
// turn; assistant messages join the current turn, or start one if there is none. System and
// developer messages belong to no turn and do not end one.
func turnSpans(msgs []llm.Message) []span {
	var spans []span
	for i, m := range msgs {
		switch m.Role {
		case llm.User:
			spans = append(spans, span{user: i, idx: []int{i}})
		case llm.Assistant:
			if len(spans) == 0 {
				spans = append(spans, span{user: -1})
			}
			s := &spans[len(spans)-1]
			s.idx = append(s.idx, i)
		}
	}
	return spans
}
