//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/gonbio"
)

// Several chats at once (openai2's async_request and async_stream_request).
//
// In a notebook, AskAll asks several chats at the same time, each streaming into its own
// display, shown in the order the questions were given:
//
//	chatcell.AskAll(
//		chatcell.Ask(tony, "自然数50的后面是几?"),
//		chatcell.Ask(lucy, "自然数100的后面是几?"),
//	)
//
// In a Go program, Go starts a turn and returns at once; Wait gives its reply:
//
//	p := chat.Go(ctx, "世界上最大的海洋是哪个?")
//	answer, err := p.Wait()
//
// Turns on one chat never overlap: each is built from the history the turn before it left.
// Those started by Go and AskAll run in the order they were started.

// An Asker is a chat that AskAll can ask: a *Chat or a *ChatWithHistList.
type Asker interface{ asker() *core }

func (c *core) asker() *core { return c }

// A Question is one message for one chat, made by Ask, for AskAll.
type Question struct {
	c    *core
	msg  string
	opts []CallOption
}

// Ask makes a question for AskAll: msg for chat, with options for this turn only.
func Ask(chat Asker, msg string, opts ...CallOption) Question {
	var c *core
	if chat != nil {
		c = chat.asker()
	}
	return Question{c: c, msg: msg, opts: opts}
}

// AskAll asks every question at the same time and returns the replies in the order of the
// questions ("" for one that failed). Each reply streams into its own display, under the name
// of its chat, in the order of the questions; then each chat's usage line (or error line)
// follows, in the same order. Two questions for the same chat are asked one after the other.
//
// The notebook's stop button (SIGINT) stops them all: each keeps what arrived as a cut-short
// turn would (a ChatWithHistList keeps it in its history, marked), and the cell then stops.
func AskAll(qs ...Question) []string {
	ctx, stop := gonbio.InterruptContext(context.Background())
	defer stop()
	type outcome struct {
		text        string
		line        string // the usage line, or the error line
		failed      bool
		interrupted bool
	}
	out := make([]outcome, len(qs))
	cells := make([]replyCell, len(qs))
	tickets := make([]ticket, len(qs))
	for i, q := range qs {
		if q.c == nil || q.c.ready() != nil {
			continue
		}
		display.Info("▸ " + q.c.cfg.name)
		cells[i] = newCell(q.c.cfg.lang)
		tickets[i] = takeTicket(q.c) // in the order of the questions
	}
	var wg sync.WaitGroup
	for i, q := range qs {
		if cells[i] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := q.c
			defer tickets[i].done()
			if !tickets[i].wait(ctx) {
				cells[i].Close(nil) // never asked: nothing was cut; the line says it was interrupted
				out[i] = outcome{line: tr(c.cfg.lang, msgInterrupted), failed: true, interrupted: true}
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			cfg := c.callConfig(q.opts)
			rep, partial, interrupted, err := showTurnIn(ctx, cells[i], cfg, c.conn(), c.t.request(cfg, q.msg),
				func(err error) (*Request, string) { return c.t.again(cfg, q.msg, err) })
			err = c.t.commit(context.Background(), cfg, q.msg, rep, partial, err)
			c.err = wrap(cfg.lang, err)
			o := outcome{interrupted: interrupted}
			switch {
			case c.err != nil:
				o.line, o.failed = c.err.Error(), true
			case rep != nil:
				o.text, o.line = rep.Text, usageLine(cfg, c.conn(), rep, c.tally)
			}
			out[i] = o
		}()
	}
	wg.Wait()

	interrupted := false
	replies := make([]string, len(qs))
	for i, q := range qs {
		switch {
		case q.c == nil:
			display.Error(errNotCreated.Error())
			continue
		case q.c.ready() != nil:
			display.Error(q.c.ready().Error())
			continue
		}
		o := out[i]
		replies[i] = o.text
		interrupted = interrupted || o.interrupted
		cfg := q.c.callConfig(q.opts)
		if cfg.quiet {
			continue
		}
		if o.line != "" {
			line := q.c.cfg.name + " · " + o.line
			if o.failed {
				display.Error(line)
			} else {
				display.Info(line)
			}
		}
		q.c.mu.Lock()
		q.c.t.notices(cfg)
		q.c.mu.Unlock()
	}
	if interrupted {
		reraise()
	}
	return replies
}

// Pending is a turn started by Go: Wait returns its reply.
type Pending struct {
	done   chan struct{}
	cancel context.CancelFunc
	text   strings.Builder
	err    error
}

// Go sends msg in the background and returns at once: the non-blocking Go API (openai2's
// async_request). It shows nothing. Turns started by Go on one chat run one after the other,
// in the order Go was called; cancel ctx (or call Cancel) to stop one.
func (c *core) Go(ctx context.Context, msg string, opts ...CallOption) *Pending {
	ctx, cancel := context.WithCancel(ctx)
	p := &Pending{done: make(chan struct{}), cancel: cancel}
	t := takeTicket(c)
	go func() {
		defer close(p.done)
		defer cancel()
		defer t.done()
		if !t.wait(ctx) {
			p.err = wrap(c.lang(), context.Cause(ctx))
			return
		}
		for d, err := range c.Stream(ctx, msg, opts...) {
			if err != nil {
				p.err = err
				return
			}
			p.text.WriteString(d)
		}
	}()
	return p
}

func (c *core) lang() string {
	if c.cfg == nil {
		return envLanguage()
	}
	return c.cfg.lang
}

// Wait waits for the turn to end and returns its reply. A turn cut short (cancelled, or a
// stream that broke) returns what arrived with the error; a ChatWithHistList has kept it in its
// history, marked as cut short.
func (p *Pending) Wait() (string, error) {
	<-p.done
	return p.text.String(), p.err
}

// Done is closed when the turn has ended.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Cancel stops the turn (what arrived is kept as Wait describes).
func (p *Pending) Cancel() { p.cancel() }

// A ticket is a place in a chat's queue of turns started by Go or AskAll: the turn waits for
// the one before it, so they run in the order they were started (the chat's mutex alone would
// let them run in any order).
type ticket struct {
	prev <-chan struct{} // closed when the turn before has ended (nil: none)
	mine chan struct{}
	end  func()
}

var turnQueues = struct {
	sync.Mutex
	tail map[*core]chan struct{}
}{tail: map[*core]chan struct{}{}}

func takeTicket(c *core) ticket {
	turnQueues.Lock()
	defer turnQueues.Unlock()
	t := ticket{prev: turnQueues.tail[c], mine: make(chan struct{})}
	turnQueues.tail[c] = t.mine
	t.end = sync.OnceFunc(func() {
		turnQueues.Lock()
		if turnQueues.tail[c] == t.mine {
			delete(turnQueues.tail, c)
		}
		turnQueues.Unlock()
		close(t.mine)
	})
	return t
}

// wait waits for the turn before; false if ctx ended first.
func (t ticket) wait(ctx context.Context) bool {
	if t.prev == nil {
		return true
	}
	select {
	case <-t.prev:
		return true
	case <-ctx.Done():
		return false
	}
}

// done lets the next turn go, once the turn before this one has ended too (a turn that gave
// up waiting must not let the next one overtake the one still running).
func (t ticket) done() {
	if t.prev == nil {
		t.end()
		return
	}
	select {
	case <-t.prev:
		t.end()
	default:
		go func() { <-t.prev; t.end() }()
	}
}
