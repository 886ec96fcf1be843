//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/version"
	"github.com/gonbchat/gonbchat/llm"
)

// core is what both chat types are made of: their configuration, connection, running totals
// and last error, and the verbs they share (Ask, Reply, Stream, Loop, Go, Err, Usage, Cost,
// Rollback, Reset, Save, Load…) over the one streaming engine. A chat type supplies only what
// differs, through the turns interface: how a request is built, how a turn is recorded, how
// its history is rolled back, saved and loaded.
//
// The zero value of a chat type is not usable: its verbs report errNotCreated. GoNB re-runs a
// cell's declarations in every later cell, so `var chat = chatcell.New()` is the one way to
// declare a chat, and the README shows no other.
type core struct {
	mu    sync.Mutex
	cfg   *config
	cn    *conn
	err   error
	tally tally
	t     turns
}

// tally counts what a chat used: turns answered, requests made (summaries and retried turns
// included) and their tokens.
type tally struct {
	Turns     int       `json:"turns"`
	Requests  int       `json:"requests"`
	Usage     llm.Usage `json:"usage"`
	LastUsage llm.Usage `json:"last_usage"`
	// Model is the model of the last reply, as the server named it.
	Model string `json:"model,omitempty"`
}

func (t *tally) add(rep *Reply, turn bool) {
	t.Requests++
	t.Usage = t.Usage.Add(rep.Usage)
	if turn {
		t.Turns++
		t.LastUsage = rep.Usage
		t.Model = rep.Model
	}
}

// turns is the part of a chat type that knows its history.
type turns interface {
	// request builds the request that sends msg.
	request(cfg *config, msg string) *Request
	// commit records the outcome of a turn (rep is nil when it failed; partial is the text that
	// arrived) and returns the error to report, with the chat's own hints.
	commit(ctx context.Context, cfg *config, msg string, rep *Reply, partial string, err error) error
	// rollback removes the last n turns and returns them.
	rollback(ctx context.Context, n int) ([]llm.Message, error)
	// reset starts afresh.
	reset() error
	// save writes the chat to a file of the user's, load reads one.
	save(filename string) error
	load(filename string) error
	// persist writes the kernel-scoped state.
	persist() error
	// notices shows what the chat wants to say after a turn (e.g. trimming warnings).
	notices(cfg *config)
	// again gives another request for a turn that failed before any text, or nil.
	again(cfg *config, msg string, err error) (*Request, string)
}

var errNotCreated = errors.New("this chat was not created with chatcell.New or chatcell.NewHistList: declare it as var chat = chatcell.New(...)")

// start finishes a chat's creation: it records what the options could not take (shown once,
// then returned by every verb) and what the combination of options cannot do.
func (c *core) start(cfg *config, t turns, check func(*config) error) {
	c.cfg, c.t = cfg, t
	if err := cfg.err(); err != nil {
		c.fatal(err)
		return
	}
	if check != nil {
		if err := check(cfg); err != nil {
			c.fatal(err)
		}
	}
}

// fatal records an error the chat cannot work without, and shows it once.
func (c *core) fatal(err error) {
	err = wrap(c.cfg.lang, err)
	c.cfg.errs = []error{err}
	c.err = err
	if !c.cfg.quiet {
		display.Error(err.Error())
	}
}

func (c *core) conn() *conn {
	if c.cn == nil {
		c.cn = resolveConn(c.cfg)
	}
	return c.cn
}

// ready reports errNotCreated for a zero value; every verb starts with it.
func (c *core) ready() error {
	if c.t == nil {
		return errNotCreated
	}
	return nil
}

// callConfig is the chat's configuration with one call's options applied.
func (c *core) callConfig(opts []CallOption) *config {
	cfg := c.cfg
	if len(opts) > 0 {
		cfg = c.cfg.clone()
		cfg.errs = c.cfg.errs
		for _, o := range opts {
			o.forOneCall(cfg)
		}
	}
	return cfg
}

// Ask sends msg and shows the reply streaming into one display cell, followed by the turn's
// token usage. It returns the reply text ("" on error). Errors are shown as one line; Err
// returns them. Options (WithModel, WithInstructions, WithStream, WithParam…) apply to this
// turn only. Two Asks on one chat at the same time take turns.
func (c *core) Ask(msg string, opts ...CallOption) string {
	if err := c.ready(); err != nil {
		display.Error(err.Error())
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.callConfig(opts)
	rep, partial, interrupted, err := showTurn(context.Background(), cfg, c.conn(), c.t.request(cfg, msg),
		func(err error) (*Request, string) { return c.t.again(cfg, msg, err) })
	err = c.t.commit(context.Background(), cfg, msg, rep, partial, err)
	c.report(cfg, err)
	if rep != nil && !cfg.quiet {
		display.Info(usageLine(cfg, c.conn(), rep, c.tally))
	}
	if !cfg.quiet {
		c.t.notices(cfg)
	}
	if interrupted {
		reraise()
	}
	if rep == nil {
		return ""
	}
	return rep.Text
}

// Stream sends msg and yields the reply's text deltas as they arrive: the streaming Go API. It
// shows nothing. The turn is recorded when the reply completes (a ChatWithHistList also keeps a
// reply cut short, marked); stopping the loop early abandons the turn.
func (c *core) Stream(ctx context.Context, msg string, opts ...CallOption) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := c.ready(); err != nil {
			yield("", err)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		cfg := c.callConfig(opts)
		again := func(err error) (*Request, string) { return c.t.again(cfg, msg, err) }
		streamWith(ctx, cfg, c.conn(), cfg.backend, c.t.request(cfg, msg), again, func(rep *Reply, partial string, err error) error {
			if errors.Is(err, errStopped) {
				partial = "" // the caller stopped reading: the turn is abandoned, nothing is kept
			}
			err = c.t.commit(ctx, cfg, msg, rep, partial, err)
			c.err = err
			return err
		})(yield)
	}
}

// Reply sends msg and returns the whole reply: the blocking Go API. It shows nothing.
func (c *core) Reply(ctx context.Context, msg string, opts ...CallOption) (string, error) {
	var b strings.Builder
	for d, err := range c.Stream(ctx, msg, opts...) {
		if err != nil {
			return "", err
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// Loop is the textbook's chat loop: it asks for a line, sends it with Ask, and repeats; an empty
// line (or the end of input) ends it. In a notebook it uses GoNB's input box where a person
// can answer one (Jupyter Notebook or Lab, JupyterHub, VS Code), and ends at once, saying why,
// where nobody can (nbconvert, papermill, a script); elsewhere it reads stdin.
func (c *core) Loop(opts ...CallOption) {
	if err := c.ready(); err != nil {
		display.Error(err.Error())
		return
	}
	loop(c.callConfig(opts), func(msg string) { c.Ask(msg, opts...) })
}

// Err returns the error of the chat's last action, nil if it succeeded. Its text is the line
// the cell showed.
func (c *core) Err() error {
	if err := c.ready(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Source says whether the chat talks to a live server or the offline mirror model.
func (c *core) Source() Source {
	if c.ready() != nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn().source
}

// Name returns the chat's name.
func (c *core) Name() string {
	if c.ready() != nil {
		return ""
	}
	return c.cfg.name
}

// Usage returns the tokens used by every request of the chat (turns, summaries, retries).
func (c *core) Usage() llm.Usage { return c.snapshot().Usage }

// LastUsage returns the tokens used by the last turn.
func (c *core) LastUsage() llm.Usage { return c.snapshot().LastUsage }

// Turns returns how many turns the chat has had answered.
func (c *core) Turns() int { return c.snapshot().Turns }

// Requests returns how many requests the chat made: its turns, plus summaries and other
// requests made on its behalf.
func (c *core) Requests() int { return c.snapshot().Requests }

// Cost estimates what the chat's requests cost in USD, from the price table of package llm;
// known is false for a model without a price, and for the offline model.
func (c *core) Cost() (usd float64, known bool) {
	t := c.snapshot()
	if c.Source() != Live {
		return 0, false
	}
	model := t.Model
	if model == "" {
		model = c.cfg.model
	}
	return llm.Cost(model, t.Usage)
}

func (c *core) snapshot() tally {
	if c.ready() != nil {
		return tally{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tally
}

// Rollback removes the last n turns and shows what was removed (openai2's rollback). A Chat
// chains its next turn onto the response before them (they stay on the server; DeleteThread
// removes a thread); a ChatWithHistList removes them from its history.
func (c *core) Rollback(n int) error {
	return c.do(func(cfg *config) error {
		if n < 1 {
			return fmt.Errorf("%s", tr(cfg.lang, msgRollbackN, n))
		}
		removed, err := c.t.rollback(context.Background(), n)
		if err == nil && !cfg.quiet {
			showConversation(cfg.lang, tr(cfg.lang, msgRolledBack), removed, false)
		}
		return err
	})
}

// Reset starts the chat afresh: a new thread for a Chat (nothing is deleted on the server), an
// empty history but for its system message for a ChatWithHistList. Its totals (Usage, Turns,
// Requests) start again at zero.
func (c *core) Reset() error {
	return c.do(func(*config) error {
		c.tally = tally{}
		return c.t.reset()
	})
}

// ResetAPIKey makes the chat's next requests use key (openai2's reset_api_key), instead of its
// key or pool so far; the history is kept. ResetKeyPool does the same with a pool.
func (c *core) ResetAPIKey(key string) error {
	return c.do(func(cfg *config) error {
		next := cfg.clone()
		WithAPIKey(key).set(next)
		if err := next.err(); err != nil {
			return err
		}
		c.cfg, c.cn = next, nil
		return nil
	})
}

// ResetKeyPool makes the chat's next requests use the keys of p in turn; the history is kept.
func (c *core) ResetKeyPool(p KeyPool) error {
	return c.do(func(cfg *config) error {
		next := cfg.clone()
		WithKeyPool(p).set(next)
		if err := next.err(); err != nil {
			return err
		}
		c.cfg, c.cn = next, nil
		return nil
	})
}

// Save writes the chat to filename: a Chat its last response id (the textbook's save), a
// ChatWithHistList its whole history as a gob file (versioned, checksummed, with no key).
func (c *core) Save(filename string) error {
	return c.do(func(*config) error { return c.t.save(filename) })
}

// Load continues from what Save wrote to filename. On error the chat is unchanged.
func (c *core) Load(filename string) error {
	return c.do(func(*config) error { return c.t.load(filename) })
}

// do runs a notebook verb under the lock (the verb persists what it changed) and reports its
// error as one line.
func (c *core) do(fn func(cfg *config) error) error {
	if err := c.ready(); err != nil {
		display.Error(err.Error())
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.cfg.err()
	if err == nil {
		err = fn(c.cfg)
	}
	c.report(c.cfg, err)
	return c.err
}

// report records err as the last error (as an *Error) and shows it as one line (unless quiet).
func (c *core) report(cfg *config, err error) {
	c.err = wrap(cfg.lang, err)
	if c.err != nil && !cfg.quiet {
		display.Error(c.err.Error())
	}
}

// showTurn runs one turn into a display cell: the notebook view of run. An interrupt (SIGINT,
// the notebook's stop button) cuts the reply short cleanly; the caller saves its state and
// then calls reraise, so the cell stops as it would without us.
func showTurn(ctx context.Context, cfg *config, cn *conn, req *Request, again func(error) (*Request, string)) (rep *Reply, partial string, interrupted bool, err error) {
	return showTurnIn(ctx, newCell(cfg.lang), cfg, cn, req, again)
}

// showTurnIn is showTurn into a cell the caller made (AskAll makes its cells first, in order).
func showTurnIn(ctx context.Context, cell replyCell, cfg *config, cn *conn, req *Request, again func(error) (*Request, string)) (rep *Reply, partial string, interrupted bool, err error) {
	ctx, stop := gonbio.InterruptContext(ctx)
	defer stop()
	rep, partial, err = run(ctx, cfg, cn, cfg.backend, req, hooks{
		emit: func(d string) bool {
			if cfg.stream {
				cell.Write(d)
			}
			return true
		},
		status: cell.Status,
		again:  again,
		notice: func(line string) {
			if !cfg.quiet {
				display.Info(line)
			}
		},
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err, interrupted = ErrInterrupted, true
	}
	if !cfg.stream {
		if rep != nil {
			cell.Write(rep.Text)
		} else {
			cell.Write(partial)
		}
	}
	if err != nil && partial != "" {
		cell.CutShort() // "cut short" only when text was cut: a refused request shows no such notice
	}
	meta := map[string]any{"source": string(cn.source), "gonbchat_version": version.String()}
	meta["model"], meta["response_id"] = "", ""
	meta["usage"] = map[string]any{"input_tokens": int64(0), "output_tokens": int64(0), "total_tokens": int64(0)}
	if rep != nil {
		meta["model"], meta["response_id"], meta["source"] = rep.Model, rep.ID, string(rep.Source)
		meta["usage"] = map[string]any{"input_tokens": rep.Usage.InputTokens, "output_tokens": rep.Usage.OutputTokens, "total_tokens": rep.Usage.TotalTokens}
	}
	cell.Close(meta)
	return rep, partial, interrupted, err
}

// replyCell is what showTurn writes a reply into: a display.Cell.
type replyCell interface {
	Write(delta string)
	Status(line string)
	CutShort()
	Close(meta map[string]any)
}

// newCell makes the display of one reply (tests count what it receives).
var newCell = func(lang string) replyCell { return display.NewCellIn(lang) }

// usageLine is the line shown after a turn: its tokens, the chat's totals (when t counts
// turns) and, on a live server, the estimated cost of the turn.
func usageLine(cfg *config, cn *conn, rep *Reply, t tally) string {
	line := tr(cfg.lang, msgTokens, usageText(cfg.lang, rep.Usage))
	if t.Turns > 0 {
		line += "  ·  " + tr(cfg.lang, msgChatSoFar, t.Turns, plural(cfg.lang, t.Turns), t.Requests, plural(cfg.lang, t.Requests), usageText(cfg.lang, t.Usage))
	}
	model := rep.Model
	if model == "" {
		model = cfg.model
	}
	if usd, known := llm.Cost(model, rep.Usage); known && cn.source == Live {
		line += fmt.Sprintf("  ·  ≈ $%.6f", usd)
	}
	if rep.Incomplete != "" {
		line += "  ·  " + tr(cfg.lang, msgIncomplete, rep.Incomplete)
	}
	return line
}

func usageText(lang string, u llm.Usage) string {
	return tr(lang, msgUsage, u.InputTokens, u.OutputTokens, u.TotalTokens)
}

// plural is the English plural ending for n; Chinese has none.
func plural(lang string, n int) string {
	if lang == "en" && n != 1 {
		return "s"
	}
	return ""
}
