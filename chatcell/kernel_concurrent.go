//go:build gonbchat_kernel

package chatcell

// Kernel mode, by hand: several chats at once (AskAll asks chats that live in the kernel's
// helper, each by its handle, in one call) and turns in the background (Go makes the helper's
// Pending, whose Wait is a call of its own). NewGroupChat's options are data as all options are.

import (
	"context"
	"sync"

	"github.com/gonbchat/gonbchat/internal/kernel"
)

// GroupOption configures NewGroupChat: the options of every chat (WithModel, WithTemperature,
// WithLanguage…), how it connects (WithAPIKey, WithKeyPool, WithProvider, WithBaseURL…), its
// name (WithName, WithStateDir), and WithBackend. WithInstructions and WithSystem add to the
// group's instructions (a scene, a style), after the roles and the rules of the answer.
type GroupOption interface {
	forNewGroup()
	kdata() kernel.OptData
}

func (Option) forNewGroup()         {}
func (ConnOption) forNewGroup()     {}
func (NameOption) forNewGroup()     {}
func (MessagesOption) forNewGroup() {}

// An Asker is a chat that AskAll can ask: a *Chat or a *ChatWithHistList.
type Asker interface{ asker() *kernel.Handle }

func (c *Chat) asker() *kernel.Handle             { return c.h }
func (c *ChatWithHistList) asker() *kernel.Handle { return c.h }

// A Question is one message for one chat, made by Ask, for AskAll.
type Question struct {
	h    *kernel.Handle
	none bool // no chat was given
	msg  string
	opts []CallOption
}

// Ask makes a question for AskAll: msg for chat, with options for this turn only.
func Ask(chat Asker, msg string, opts ...CallOption) Question {
	if chat == nil {
		return Question{none: true, msg: msg, opts: opts}
	}
	return Question{h: chat.asker(), msg: msg, opts: opts}
}

// question is a Question as it crosses (the chat's handle goes apart).
type question struct {
	None bool             `json:"none,omitempty"`
	Msg  string           `json:"msg"`
	Opts []kernel.OptData `json:"opts,omitempty"`
}

// AskAll asks every question at the same time and returns the replies in the order of the
// questions ("" for one that failed). Each reply streams into its own display, under the name
// of its chat, in the order of the questions; then each chat's usage line (or error line)
// follows, in the same order. Two questions for the same chat are asked one after the other.
//
// The notebook's stop button (SIGINT) stops them all: each keeps what arrived as a cut-short
// turn would (a ChatWithHistList keeps it in its history, marked), and the cell then stops.
func AskAll(qs ...Question) []string {
	out := make([]string, len(qs))
	hs := make([]*kernel.Handle, len(qs))
	ds := make([]question, len(qs))
	for i, q := range qs {
		hs[i] = q.h
		ds[i] = question{None: q.none || q.h == nil, Msg: q.msg, Opts: optsOf(q.opts)}
	}
	args, aerr := kernel.Args("chatcell.AskAll", ds)
	res, err := kernel.CallWith(nil, hs, "AskAll", args, aerr)
	if err != nil {
		return out
	}
	kernel.Res(res, 0, &out)
	if len(out) != len(qs) {
		out = append(out, make([]string, len(qs))...)[:len(qs)]
	}
	return out
}

// Pending is a turn started by Go: Wait returns its reply.
type Pending struct {
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
	text   string
	err    error
}

func goTurn(ctx context.Context, h *kernel.Handle, call, msg string, opts []CallOption) *Pending {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Pending{done: make(chan struct{}), cancel: cancel}
	args, aerr := kernel.Args("chatcell."+call, msg, optsOf(opts))
	if aerr != nil {
		p.end("", asError(aerr))
		return p
	}
	// The turn takes its place in the chat's queue before Go returns, as in-process.
	ph, _, err := kernel.CallNew(nil, h, call, args)
	if err != nil {
		p.end("", callFailed(err))
		return p
	}
	go func() {
		res, err := kernel.Call(ctx, ph, "Pending.Wait", nil)
		if err != nil {
			p.end("", callFailed(err))
			return
		}
		var text string
		kernel.Res(res, 0, &text)
		p.end(text, resErr(res, 1))
	}()
	return p
}

func (p *Pending) end(text string, err error) {
	p.once.Do(func() {
		p.text, p.err = text, err
		p.cancel()
		close(p.done)
	})
}

// Go sends msg in the background and returns at once: the non-blocking Go API (openai2's
// async_request). It shows nothing. Turns started by Go on one chat run one after the other,
// in the order Go was called; cancel ctx (or call Cancel) to stop one.
func (c *Chat) Go(ctx context.Context, msg string, opts ...CallOption) *Pending {
	var h *kernel.Handle
	if c != nil {
		h = c.h
	}
	return goTurn(ctx, h, "Chat.Go", msg, opts)
}

// Go sends msg in the background and returns at once: the non-blocking Go API (openai2's
// async_request). It shows nothing. Turns started by Go on one chat run one after the other,
// in the order Go was called; cancel ctx (or call Cancel) to stop one.
func (c *ChatWithHistList) Go(ctx context.Context, msg string, opts ...CallOption) *Pending {
	var h *kernel.Handle
	if c != nil {
		h = c.h
	}
	return goTurn(ctx, h, "ChatWithHistList.Go", msg, opts)
}

// Wait waits for the turn to end and returns its reply. A turn cut short (cancelled, or a
// stream that broke) returns what arrived with the error; a ChatWithHistList has kept it in its
// history, marked as cut short.
func (p *Pending) Wait() (string, error) {
	<-p.done
	return p.text, p.err
}

// Done is closed when the turn has ended.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Cancel stops the turn (what arrived is kept as Wait describes).
func (p *Pending) Cancel() { p.cancel() }
