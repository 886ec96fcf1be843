package chatcell

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/display"
)

// core is what every chat type shares: its configuration, its connection, its last error and the
// call styles (Ask, Reply, Stream, Loop) over the one streaming engine. A chat type supplies only
// what differs: how a request is built and how a turn is recorded.
type core struct {
	once sync.Once // setup: run by New with its options, or by the first method of a zero value
	mu   sync.Mutex
	cfg  *config
	cn   *conn
	err  error
	t    turns
}

// turns is the part of a chat type that knows its history.
type turns interface {
	// request builds the request that sends msg.
	request(cfg *config, msg string) *Request
	// commit records the outcome of a turn (rep is nil when it failed; partial is the text that
	// arrived) and returns the error to report.
	commit(ctx context.Context, msg string, rep *Reply, partial string, err error) error
	// totals returns the running usage and number of turns, for the usage line.
	totals() (llm.Usage, int)
	// notices shows what the chat wants to say after a turn in a notebook (e.g. trimming warnings).
	notices(cfg *config)
}

func (c *core) conn() *conn {
	if c.cn == nil {
		c.cn = resolveConn(c.cfg)
	}
	return c.cn
}

func (c *core) ask(msg string, opts []Option) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfg.with(opts)
	rep, partial, interrupted, err := show(context.Background(), cfg, c.conn(), cfg.backend, c.t.request(cfg, msg))
	err = c.t.commit(context.Background(), msg, rep, partial, err)
	c.report(cfg, err)
	if rep != nil {
		total, n := c.t.totals()
		showUsage(cfg, c.conn(), rep, total, n)
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

func (c *core) stream(ctx context.Context, msg string, opts []Option) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		cfg := c.cfg.with(opts)
		stream(ctx, cfg, c.conn(), cfg.backend, c.t.request(cfg, msg), func(rep *Reply, partial string, err error) error {
			if errors.Is(err, errStopped) {
				partial = "" // the caller stopped reading: the turn is abandoned, nothing is kept
			}
			err = c.t.commit(ctx, msg, rep, partial, err)
			c.err = err
			return err
		})(yield)
	}
}

func (c *core) reply(ctx context.Context, msg string, opts []Option) (string, error) {
	var b strings.Builder
	for d, err := range c.stream(ctx, msg, opts) {
		if err != nil {
			return "", err
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

func (c *core) loop(opts []Option) {
	loop(c.cfg.with(opts), func(msg string) { c.ask(msg, opts) })
}

// do runs a notebook verb under the lock and reports its error.
func (c *core) do(fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := fn()
	c.report(c.cfg, err)
	return err
}

// report records err as the last error and shows it as one line (unless quiet).
func (c *core) report(cfg *config, err error) {
	c.err = err
	if err != nil && !cfg.quiet {
		display.Error(c.conn().redact(Describe(err)))
	}
}

// notify shows a problem found while creating the chat.
func (c *core) notify(err error) {
	if !c.cfg.quiet {
		display.Error(Describe(err))
	}
}

func (c *core) lastErr() error { c.mu.Lock(); defer c.mu.Unlock(); return c.err }

func (c *core) source() Source { c.mu.Lock(); defer c.mu.Unlock(); return c.conn().source }
