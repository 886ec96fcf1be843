//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"fmt"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/llm"
)

// ChatWithHistList is a conversation whose history we keep (textbook 3-5, lessons 001 and 003):
// every turn sends the whole history with store=false, so the server keeps nothing. It talks to
// the Responses API, or to Chat Completions with WithBackend(completions.Backend{}) (and by
// itself on a provider that has only Chat Completions).
//
// Like Chat, it survives from cell to cell by its name. Save and Load keep it in a gob file:
// versioned, checksummed, written atomically and under a lock, with no key in it.
//
// The zero value is not a chat: its verbs send nothing and report an error saying to declare it
// with NewHistList.
type ChatWithHistList struct {
	core
	hist *history.List
}

type histState struct {
	Version int           `json:"version"`
	History *history.File `json:"history"`
	Tally   tally         `json:"tally"`
}

// NewHistList returns the ChatWithHistList named by WithName (default DefaultName), continuing
// it if an earlier GoNB cell started it.
func NewHistList(opts ...HistOption) *ChatWithHistList {
	cfg := defaults()
	for _, o := range opts {
		o.forNewHistList(cfg)
	}
	c := &ChatWithHistList{}
	c.start(cfg, c, settleBackend)
	c.hist = history.New(c.listOpts()...)
	if cfg.err() != nil {
		return c
	}
	var st histState
	found, err := loadState(c.path(), &st)
	if err != nil {
		c.notify(err)
	}
	if found && st.History != nil {
		c.hist = st.History.List(c.listOpts()...)
		c.tally = st.Tally
	}
	if cfg.systemSet {
		c.hist.SetSystem(cfg.system) // re-applied by every cell's declaration; saved with the next change
	}
	c.applyStart()
	return c
}

// applyStart puts a persona's messages at the head of the history: its system message (as
// WithSystem does), and its greeting when the conversation has not started yet.
func (c *ChatWithHistList) applyStart() {
	for _, m := range c.cfg.start {
		if m.Role == llm.System {
			c.hist.SetSystem(m.Content)
		}
	}
	if c.hist.Turns() > 0 {
		return
	}
	for _, m := range c.cfg.start {
		if m.Role != llm.System {
			m.Pinned = true
			c.hist.Append(m)
		}
	}
}

// settleBackend chooses the API of a ChatWithHistList or a Create: the one given, else Chat
// Completions on a provider that has nothing else, else the Responses API.
func settleBackend(cfg *config) error {
	if p := cfg.provider; p != nil && !cfg.modelSet {
		cfg.model = p.Model
	}
	if cfg.backend != nil {
		return nil
	}
	if p := cfg.provider; p != nil && p.ChatOnly {
		if cfg.backend = completions(); cfg.backend == nil {
			return fmt.Errorf("%s", tr(cfg.lang, msgNeedCompletions, p.Name))
		}
		return nil
	}
	cfg.backend = ResponsesBackend{}
	return nil
}

func (c *ChatWithHistList) listOpts() []history.Option {
	opts := c.cfg.histOpts
	if s := c.cfg.summary; s != nil {
		opts = append(opts, history.WithStrategy(history.Summarize(s[0], s[1], c.summarize)))
	}
	return opts
}

func (c *ChatWithHistList) path() string { return stateFile(c.cfg, "hist") }

func (c *ChatWithHistList) snapshot() *history.File {
	f := c.hist.Snapshot()
	f.Model = c.cfg.model
	if c.cfg.instructionsSet {
		f.Instructions = c.cfg.instructions
	}
	return f
}

func (c *ChatWithHistList) persist() error {
	if err := saveState(c.path(), &histState{Version: 1, History: c.snapshot(), Tally: c.tally}); err != nil {
		return fmt.Errorf("%s: %w", tr(c.cfg.lang, msgSavingState), err)
	}
	return nil
}

// History returns a copy of the history, for the tools of package history; changing the copy
// does not change the chat (use AddDialogs, Pin, Rollback…).
func (c *ChatWithHistList) History() *history.List {
	if c.ready() != nil {
		return history.New()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hist.Snapshot().List()
}

// Messages returns a copy of the history (openai2's fetch_messages).
func (c *ChatWithHistList) Messages() []llm.Message {
	if c.ready() != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hist.Messages()
}

func (c *ChatWithHistList) hasSystem() bool {
	for _, m := range c.hist.Messages() {
		if m.Role.Instruction() {
			return true
		}
	}
	return false
}

func (c *ChatWithHistList) request(cfg *config, msg string) *Request {
	store := false
	if cfg.store != nil {
		store = *cfg.store
	}
	return &Request{Model: cfg.model, Instructions: cfg.instructionsFor(c.hasSystem()),
		Input: append(c.hist.Messages(), llm.UserMsg(msg)), Store: &store, Params: cfg.params}
}

// commit records the outcome of a turn: a finished turn, or one cut short with the part that
// arrived (marked Partial, so nothing the student saw is lost). A failed request adds nothing.
func (c *ChatWithHistList) commit(ctx context.Context, cfg *config, msg string, rep *Reply, partial string, err error) error {
	switch {
	case err == nil:
		c.tally.add(rep, true)
		c.hist.AddUsage(rep.Usage)
		c.hist.AppendTurn(llm.UserMsg(msg), llm.AssistantMsg(rep.Text))
		if terr := c.hist.Trim(ctx); terr != nil && !errors.Is(terr, history.ErrPinsExceedCap) {
			err = wrap(cfg.lang, terr, tr(cfg.lang, msgHintSummaryFailed))
		}
	case partial != "":
		cut := llm.AssistantMsg(partial)
		cut.Partial = true
		c.hist.AppendTurn(llm.UserMsg(msg), cut)
		err = wrap(cfg.lang, err, tr(cfg.lang, msgHintHistCut))
	default:
		return wrap(cfg.lang, err, refusalHint(cfg, c.conn(), err))
	}
	if perr := c.persist(); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (c *ChatWithHistList) again(*config, string, error) (*Request, string) { return nil, "" }

// notices shows why trimming could not keep the history within its limits (pins over the cap).
func (c *ChatWithHistList) notices(*config) {
	if w := c.hist.Warning(); w != nil {
		display.Info("⚠ " + w.Error())
	}
}

// summarize asks the chat's own model for a summary of older messages (001's
// summarize_conversation). It is history's Summarizer.
func (c *ChatWithHistList) summarize(ctx context.Context, older []llm.Message) (string, error) {
	req := &Request{Model: c.cfg.model, Input: []llm.Message{
		llm.SystemMsg(summaryInstruction),
		llm.UserMsg(history.Transcript(older)),
	}, Store: new(bool), Params: c.cfg.params}
	rep, _, err := run(ctx, c.cfg, c.conn(), c.cfg.backend, req, hooks{})
	if err != nil {
		return "", err
	}
	c.tally.add(rep, false)
	return rep.Text, nil
}

// summaryInstruction is lesson 001's: "summarise the following conversation concisely".
const summaryInstruction = "请简明扼要地总结以下对话。"

func (c *ChatWithHistList) save(filename string) error { return history.Save(filename, c.snapshot()) }

func (c *ChatWithHistList) load(filename string) error {
	f, err := history.Load(filename)
	if err != nil {
		return err
	}
	c.hist = f.List(c.listOpts()...)
	return c.persist()
}

func (c *ChatWithHistList) reset() error {
	c.hist.Reset()
	c.applyStart()
	return c.persist()
}

// Pop removes the last message of the history, whatever it is, and returns it, as the lessons'
// messages.pop() does (Rollback removes whole turns). It shows what it removed.
func (c *ChatWithHistList) Pop() (llm.Message, error) {
	var popped llm.Message
	err := c.do(func(cfg *config) error {
		m, ok := c.hist.Pop()
		if !ok {
			return fmt.Errorf("%s", tr(cfg.lang, msgEmptyHistory))
		}
		popped = m
		if !cfg.quiet {
			showConversation(cfg.lang, tr(cfg.lang, msgPopped), []llm.Message{m}, false)
		}
		return c.persist()
	})
	return popped, err
}

func (c *ChatWithHistList) rollback(_ context.Context, n int) ([]llm.Message, error) {
	removed, err := c.hist.Rollback(n)
	if err != nil {
		return nil, err
	}
	return removed, c.persist()
}

// ExportJSON writes the history to filename in openai2's fetch_messages format: a JSON list of
// {"role", "content"} objects.
func (c *ChatWithHistList) ExportJSON(filename string) error {
	return c.do(func(*config) error {
		data, err := c.hist.ExportJSON()
		if err != nil {
			return err
		}
		return fsutil.WriteFileAtomic(filename, data, 0o644)
	})
}

// ImportJSON adds the messages of a JSON file in openai2's format to the history, marked forged.
func (c *ChatWithHistList) ImportJSON(filename string) error {
	return c.do(func(*config) error {
		data, err := fsutil.ReadFile(filename, history.MaxFileSize)
		if err != nil {
			return err
		}
		msgs, err := history.UnmarshalMessages(data)
		if err != nil {
			return fmt.Errorf("%s: %w", fsutil.Name(filename), err)
		}
		if err := c.hist.AddDialogs(msgs...); err != nil {
			return err
		}
		return c.persist()
	})
}

// AddDialogs imports messages, made with llm.SystemMsg, llm.UserMsg and llm.AssistantMsg or
// exported from another chat; forging a dialog steers the model (openai2's add_dialogs). They
// are marked forged.
func (c *ChatWithHistList) AddDialogs(msgs ...llm.Message) error {
	return c.do(func(*config) error {
		if err := c.hist.AddDialogs(msgs...); err != nil {
			return err
		}
		return c.persist()
	})
}

// Pin keeps the messages at these positions (negative counts from the end) when the history is
// trimmed. The pin stays on the message, not on the position.
func (c *ChatWithHistList) Pin(positions ...int) error {
	return c.do(func(cfg *config) error {
		err := c.hist.Pin(positions...)
		if !cfg.quiet {
			c.notices(cfg)
		}
		if err != nil {
			return err
		}
		return c.persist()
	})
}

// Unpin lets the messages at these positions be trimmed again.
func (c *ChatWithHistList) Unpin(positions ...int) error {
	return c.do(func(*config) error {
		if err := c.hist.Unpin(positions...); err != nil {
			return err
		}
		return c.persist()
	})
}

// ShowConversation shows the history in the cell (001's show_conversation): each message on its
// own, numbered with the positions Pin takes, and marked when pinned, forged, a summary or cut
// short.
func (c *ChatWithHistList) ShowConversation() error {
	return c.do(func(cfg *config) error {
		msgs := c.hist.Messages()
		if len(msgs) == 0 {
			display.Info(tr(cfg.lang, msgEmptyHistory))
			return nil
		}
		showConversation(cfg.lang, "", msgs, true)
		return nil
	})
}
