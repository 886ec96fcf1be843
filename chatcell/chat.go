package chatcell

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// Chat is a conversation on the Responses API whose history the server keeps: each turn chains
// onto the previous one with previous_response_id (textbook chapter 3, sections 3-1 to 3-4).
//
// Create it with New at the top level of a cell (var chat = chatcell.New()), so that GoNB
// re-creates it in every later cell; it picks up where it was. A Chat is safe for concurrent use.
type Chat struct {
	core
	st chatState
}

type chatState struct {
	Version   int       `json:"version"`
	LastID    string    `json:"last_id"`
	Seed      string    `json:"seed,omitempty"`
	Turns     int       `json:"turns"`
	Usage     llm.Usage `json:"usage"`
	LastUsage llm.Usage `json:"last_usage"`
}

// New returns the chat named by WithName (default DefaultName). Inside a GoNB kernel it continues
// the chat of that name if an earlier cell started it. The zero Chat is New() with no options.
func New(opts ...Option) *Chat {
	c := &Chat{}
	c.once.Do(func() { c.setup(opts) })
	return c
}

// ready sets up a zero Chat on first use.
func (c *Chat) ready() *Chat {
	c.once.Do(func() { c.setup(nil) })
	return c
}

func (c *Chat) setup(opts []Option) {
	c.cfg, c.t = newConfig(opts), c
	c.cfg.backend = ResponsesBackend{} // previous_response_id is the Responses API's
	found, err := loadState(c.path(), &c.st)
	if err != nil {
		c.notify(err)
	}
	if !found {
		c.st = chatState{Version: 1, LastID: c.cfg.seed, Seed: c.cfg.seed}
		c.persist()
	}
}

func (c *Chat) path() string { return stateFile(c.cfg, "chats", ".json") }

func (c *Chat) persist() error {
	err := saveState(c.path(), &c.st)
	if err != nil {
		err = fmt.Errorf("saving the chat's state: %w", err)
	}
	return err
}

// Ask sends msg and shows the reply streaming into one display cell, followed by the turn's
// token usage. It returns the reply text ("" on error). Errors are shown as one line; Err
// returns them. Per-call options (WithModel, WithInstructions, WithStream, WithParam…) apply to
// this turn only.
func (c *Chat) Ask(msg string, opts ...Option) string {
	c.ready()
	return c.ask(msg, opts)
}

// Reply sends msg and returns the whole reply: the blocking Go API. It shows nothing.
func (c *Chat) Reply(ctx context.Context, msg string, opts ...Option) (string, error) {
	c.ready()
	return c.reply(ctx, msg, opts)
}

// Stream sends msg and yields the reply's text deltas as they arrive: the streaming Go API.
// The turn is recorded when the reply completes; stopping the loop early abandons the turn.
func (c *Chat) Stream(ctx context.Context, msg string, opts ...Option) iter.Seq2[string, error] {
	c.ready()
	return c.stream(ctx, msg, opts)
}

// Loop is the textbook's chat loop: it asks for a line, sends it with Ask, and repeats; an empty
// line (or the end of input) ends it. In a notebook it uses GoNB's input box; elsewhere stdin.
func (c *Chat) Loop(opts ...Option) {
	c.ready()
	c.loop(opts)
}

// Err returns the error of the chat's last action, nil if it succeeded.
func (c *Chat) Err() error {
	c.ready()
	return c.lastErr()
}

// Source says whether the chat talks to a live server or the offline mirror model.
func (c *Chat) Source() Source {
	c.ready()
	return c.source()
}

// state returns a copy of the chat's state.
func (c *Chat) state() chatState {
	c.ready()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Name returns the chat's name.
func (c *Chat) Name() string {
	c.ready()
	return c.cfg.name
}

// LastID returns the id of the last response, "" before the first turn.
func (c *Chat) LastID() string {
	return c.state().LastID
}

// SetLastID moves the chat onto another thread: the next turn chains onto id ("" starts afresh).
func (c *Chat) SetLastID(id string) error {
	c.ready()
	return c.do(func() error {
		c.st.LastID = strings.TrimSpace(id)
		return c.persist()
	})
}

// Reset starts a new thread. Nothing is deleted on the server (see DeleteThread).
func (c *Chat) Reset() error {
	c.ready()
	return c.SetLastID("")
}

// Usage returns the tokens used by all turns of this chat.
func (c *Chat) Usage() llm.Usage {
	return c.state().Usage
}

// LastUsage returns the tokens used by the last turn.
func (c *Chat) LastUsage() llm.Usage {
	return c.state().LastUsage
}

// Turns returns how many turns the chat has had.
func (c *Chat) Turns() int {
	return c.state().Turns
}

func (c *Chat) request(cfg *config, msg string) *Request {
	return &Request{Model: cfg.model, Instructions: cfg.instructions, Input: []llm.Message{llm.UserMsg(msg)},
		PreviousResponseID: c.st.LastID, Store: cfg.store, Params: cfg.params}
}

// commit records a finished turn. It is the only place a turn changes the chat; a failed or
// cut-short turn changes nothing (the server did not finish a response to chain onto).
func (c *Chat) commit(_ context.Context, _ string, rep *Reply, _ string, err error) error {
	if err != nil {
		return c.hint(err)
	}
	c.st.LastID = rep.ID
	c.st.Turns++
	c.st.LastUsage = rep.Usage
	c.st.Usage = c.st.Usage.Add(rep.Usage)
	return c.persist()
}

func (c *Chat) totals() (llm.Usage, int) { return c.st.Usage, c.st.Turns }

func (c *Chat) notices(*config) {}

// hint adds what to do next to errors a student can fix.
func (c *Chat) hint(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Code == "previous_response_not_found" || apiErr.Param == "previous_response_id") {
		return &hintError{err, "the thread cannot go on (was the last reply sent with store=false, or deleted?); chat.Reset() starts a new one"}
	}
	return err
}

type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + " (" + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }

// showUsage shows a turn's token usage, the chat's running total (turns > 0) and, on a live
// server, the estimated cost of the turn.
func showUsage(cfg *config, cn *conn, rep *Reply, total llm.Usage, turns int) {
	if cfg.quiet {
		return
	}
	line := "tokens: " + rep.Usage.String()
	if turns > 0 {
		line += fmt.Sprintf("  ·  chat so far (%d %s): %s", turns, plural(turns, "turn", "turns"), total)
	}
	model := rep.Model
	if model == "" {
		model = cfg.model
	}
	if usd, known := llm.Cost(model, rep.Usage); known && cn.source == Live {
		line += fmt.Sprintf("  ·  ≈ $%.6f", usd)
	}
	if rep.Incomplete != "" {
		line += "  ·  reply incomplete: " + rep.Incomplete
	}
	display.Info(line)
}

// Save writes the last response id to filename, so another chat (or another kernel) can Load it.
func (c *Chat) Save(filename string) error {
	c.ready()
	return c.do(func() error {
		if c.st.LastID == "" {
			return fmt.Errorf("nothing to save to %s: the chat has no response yet", filename)
		}
		return fsutil.WriteFileAtomic(filename, []byte(c.st.LastID+"\n"), 0o644)
	})
}

// Load continues the thread whose last response id was saved in filename.
func (c *Chat) Load(filename string) error {
	c.ready()
	return c.do(func() error { return c.load(filename) })
}

func (c *Chat) load(filename string) error {
	data, err := os.ReadFile(filename)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot load %s: no such file (save one first with chat.Save)", filename)
		}
		return fmt.Errorf("cannot load %s: %w", filename, err)
	}
	id := strings.TrimSpace(string(data))
	switch {
	case id == "":
		return fmt.Errorf("cannot load %s: the file is empty, it holds no response id", filename)
	case len(id) > 200 || strings.ContainsAny(id, " \t\r\n\x00"):
		return fmt.Errorf("cannot load %s: it does not hold a response id (expected one line like resp_…)", filename)
	}
	c.st.LastID = id
	return c.persist()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
