package chatcell

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// ChatWithHistList is a conversation whose history we keep (textbook 3-5, lessons 001 and 003):
// every turn sends the whole history with store=false, so the server keeps nothing. It talks to
// the Responses API, or to Chat Completions with WithBackend(completions.Backend{}).
//
// Like Chat, it survives from cell to cell by its name. Save and Load keep it in a gob file:
// versioned, checksummed, written atomically and under a lock, with no key in it.
type ChatWithHistList struct {
	core
	hist *history.List
	last llm.Usage
}

// NewHistList returns the ChatWithHistList named by WithName (default DefaultName), continuing
// it if an earlier GoNB cell started it.
//
// The zero ChatWithHistList is NewHistList() with no options.
func NewHistList(opts ...Option) *ChatWithHistList {
	c := &ChatWithHistList{}
	c.once.Do(func() { c.setup(opts) })
	return c
}

// ready sets up a zero ChatWithHistList on first use.
func (c *ChatWithHistList) ready() *ChatWithHistList {
	c.once.Do(func() { c.setup(nil) })
	return c
}

func (c *ChatWithHistList) setup(opts []Option) {
	c.cfg, c.t = newConfig(opts), c
	if path := c.path(); path != "" {
		f, err := history.Load(path)
		switch {
		case err == nil:
			c.hist = f.List(c.listOpts()...)
		case !errors.Is(err, os.ErrNotExist):
			aside := path + ".corrupt"
			os.Rename(path, aside)
			c.notify(fmt.Errorf("%v; it was moved to %s and the chat starts afresh", err, aside))
		}
	}
	if c.hist == nil {
		c.hist = history.New(c.listOpts()...)
	}
	if c.cfg.system != "" {
		c.hist.SetSystem(c.cfg.system) // re-applied by every cell's declaration; saved with the next change
	}
}

func (c *ChatWithHistList) listOpts() []history.Option {
	opts := c.cfg.histOpts
	if s := c.cfg.summary; s != nil {
		opts = append(opts, history.WithStrategy(history.Summarize(s[0], s[1], c.summarize)))
	}
	return opts
}

func (c *ChatWithHistList) path() string { return stateFile(c.cfg, "hist", ".gob") }

func (c *ChatWithHistList) snapshot() *history.File {
	f := c.hist.Snapshot()
	f.Model, f.Instructions = c.cfg.model, c.cfg.instructions
	return f
}

func (c *ChatWithHistList) persist() error {
	if p := c.path(); p != "" {
		if err := history.Save(p, c.snapshot()); err != nil {
			return fmt.Errorf("saving the chat's state: %w", err)
		}
	}
	return nil
}

// Name returns the chat's name.
func (c *ChatWithHistList) Name() string {
	c.ready()
	return c.cfg.name
}

// Err returns the error of the chat's last action, nil if it succeeded.
func (c *ChatWithHistList) Err() error {
	c.ready()
	return c.lastErr()
}

// Source says whether the chat talks to a live server or the offline mirror model.
func (c *ChatWithHistList) Source() Source {
	c.ready()
	return c.source()
}

// History returns the history itself, for the tools of package history.
func (c *ChatWithHistList) History() *history.List {
	c.ready()
	return c.hist
}

// Messages returns a copy of the history (openai2's fetch_messages).
func (c *ChatWithHistList) Messages() []llm.Message {
	c.ready()
	return c.hist.Messages()
}

// Usage returns the tokens used by all turns; LastUsage those of the last turn.
func (c *ChatWithHistList) Usage() llm.Usage {
	c.ready()
	return c.hist.Usage()
}
func (c *ChatWithHistList) LastUsage() llm.Usage {
	c.ready()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Cost estimates what all turns cost in USD, from history's price table; known is false for a
// model without a price.
func (c *ChatWithHistList) Cost() (usd float64, known bool) {
	c.ready()
	return llm.Cost(c.cfg.model, c.hist.Usage())
}

func (c *ChatWithHistList) request(cfg *config, msg string) *Request {
	store := false
	return &Request{Model: cfg.model, Instructions: cfg.instructions,
		Input: append(c.hist.Messages(), llm.UserMsg(msg)), Store: &store, Params: cfg.params}
}

// commit records the outcome of a turn: a finished turn, or one cut short with the part that
// arrived (marked Partial, so nothing the student saw is lost). A failed request adds nothing.
func (c *ChatWithHistList) commit(ctx context.Context, msg string, rep *Reply, partial string, err error) error {
	switch {
	case err == nil:
		c.last = rep.Usage
		c.hist.AddUsage(rep.Usage)
		c.hist.AppendTurn(llm.UserMsg(msg), llm.AssistantMsg(rep.Text))
		if terr := c.hist.Trim(ctx); terr != nil && !errors.Is(terr, history.ErrPinsExceedCap) {
			err = fmt.Errorf("the reply is kept, but summarising the history failed: %w", terr)
		}
	case partial != "":
		cut := llm.AssistantMsg(partial)
		cut.Partial = true
		c.hist.AppendTurn(llm.UserMsg(msg), cut)
	default:
		return err
	}
	if perr := c.persist(); perr != nil && err == nil {
		err = perr
	}
	return err
}

// Ask sends msg with the whole history and shows the reply streaming into one display cell,
// then the turn's usage. It returns the reply text ("" on error; Err returns the error).
func (c *ChatWithHistList) Ask(msg string, opts ...Option) string {
	c.ready()
	return c.ask(msg, opts)
}

// Reply sends msg and returns the whole reply: the blocking Go API. It shows nothing.
func (c *ChatWithHistList) Reply(ctx context.Context, msg string, opts ...Option) (string, error) {
	c.ready()
	return c.reply(ctx, msg, opts)
}

// Stream sends msg and yields the reply's text deltas: the streaming Go API. The turn is added
// to the history when the reply completes (or, cut short, with its partial text marked).
func (c *ChatWithHistList) Stream(ctx context.Context, msg string, opts ...Option) iter.Seq2[string, error] {
	c.ready()
	return c.stream(ctx, msg, opts)
}

// Loop asks for lines and sends each with Ask until an empty line.
func (c *ChatWithHistList) Loop(opts ...Option) {
	c.ready()
	c.loop(opts)
}

func (c *ChatWithHistList) totals() (llm.Usage, int) { return c.hist.Usage(), c.hist.Turns() }

// notices shows why trimming could not keep the history within its limits (pins over the cap).
func (c *ChatWithHistList) notices(*config) {
	if w := c.hist.Warning(); w != nil {
		display.Info("⚠ " + w.Error())
	}
}

// summarize asks the chat's own model for a summary of older messages (001's
// summarize_conversation). It is history's Summarizer.
func (c *ChatWithHistList) summarize(ctx context.Context, older []llm.Message) (string, error) {
	req := &Request{Model: c.cfg.model, Instructions: "请简明扼要地总结以下对话。Summarise the following conversation briefly.",
		Input: []llm.Message{llm.UserMsg(history.Transcript(older))}, Store: new(bool), Params: c.cfg.params}
	rep, _, err := run(ctx, c.cfg, c.conn(), c.cfg.backend, req, nil)
	if err != nil {
		return "", err
	}
	return rep.Text, nil
}

// do runs a notebook verb and saves the state when it succeeds.
func (c *ChatWithHistList) do(fn func() error) error {
	return c.core.do(func() error {
		if err := fn(); err != nil {
			return err
		}
		return c.persist()
	})
}

// Save writes the history to filename as a gob file (the textbook's pickle, made safe).
func (c *ChatWithHistList) Save(filename string) error {
	c.ready()
	return c.core.do(func() error { return history.Save(filename, c.snapshot()) })
}

// Load replaces the history with the one saved in filename. On error the history is unchanged.
func (c *ChatWithHistList) Load(filename string) error {
	c.ready()
	return c.do(func() error {
		f, err := history.Load(filename)
		if err != nil {
			return err
		}
		c.hist = f.List(c.listOpts()...)
		return nil
	})
}

// ExportJSON writes the history to filename in openai2's fetch_messages format: a JSON list of
// {"role", "content"} objects.
func (c *ChatWithHistList) ExportJSON(filename string) error {
	c.ready()
	return c.core.do(func() error {
		data, err := c.hist.ExportJSON()
		if err != nil {
			return err
		}
		return fsutil.WriteFileAtomic(filename, data, 0o644)
	})
}

// ImportJSON adds the messages of a JSON file in openai2's format to the history, marked forged.
func (c *ChatWithHistList) ImportJSON(filename string) error {
	c.ready()
	return c.do(func() error {
		data, err := os.ReadFile(filename)
		if err != nil {
			return err
		}
		msgs, err := history.UnmarshalMessages(data)
		if err != nil {
			return fmt.Errorf("%s: %w", filename, err)
		}
		return c.hist.AddDialogs(msgs...)
	})
}

// AddDialogs imports messages, made with SystemMsg, UserMsg and AssistantMsg or exported from
// another chat; forging a dialog steers the model (openai2's add_dialogs). They are marked forged.
func (c *ChatWithHistList) AddDialogs(msgs ...llm.Message) error {
	c.ready()
	return c.do(func() error { return c.hist.AddDialogs(msgs...) })
}

// Rollback removes the last n turns and shows what was removed.
func (c *ChatWithHistList) Rollback(n int) error {
	c.ready()
	return c.do(func() error {
		removed, err := c.hist.Rollback(n)
		if err == nil && !c.cfg.quiet {
			display.Markdown("rolled back:\n\n" + threadMarkdown(removed))
		}
		return err
	})
}

// Pin keeps the messages at these positions (negative counts from the end) when the history is
// trimmed. The pin stays on the message, not on the position.
func (c *ChatWithHistList) Pin(positions ...int) error {
	c.ready()
	return c.do(func() error {
		err := c.hist.Pin(positions...)
		if !c.cfg.quiet {
			c.notices(c.cfg)
		}
		return err
	})
}

// Unpin lets the messages at these positions be trimmed again.
func (c *ChatWithHistList) Unpin(positions ...int) error {
	c.ready()
	return c.do(func() error { return c.hist.Unpin(positions...) })
}

// Reset clears the conversation but keeps the system message.
func (c *ChatWithHistList) Reset() error {
	c.ready()
	return c.do(func() error { c.hist.Reset(); return nil })
}

// ShowConversation shows the history in the cell (001's show_conversation), marking pinned,
// forged, summary and cut-short messages.
func (c *ChatWithHistList) ShowConversation() {
	c.ready()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hist.Len() == 0 {
		display.Info("the history is empty")
		return
	}
	display.Markdown(c.hist.Markdown())
}

// SystemMsg, UserMsg and AssistantMsg build messages for AddDialogs (openai2's user_msg…).
func SystemMsg(s string) llm.Message    { return llm.SystemMsg(s) }
func UserMsg(s string) llm.Message      { return llm.UserMsg(s) }
func AssistantMsg(s string) llm.Message { return llm.AssistantMsg(s) }
