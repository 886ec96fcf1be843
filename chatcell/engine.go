package chatcell

import (
	"context"
	"errors"
	"iter"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gonbchat/gonbchat/display"
	"github.com/openai/openai-go/v3/option"
)

// Request is one model call, whatever the API behind it.
type Request struct {
	Model              string
	Instructions       string
	Input              []Message // the newest user message is last
	PreviousResponseID string
	Store              *bool
	Params             map[string]any // passed through as JSON
}

// Reply is a finished model reply.
type Reply struct {
	ID                 string
	PreviousResponseID string
	Model              string
	Text               string
	Usage              Usage
	// Incomplete gives the reason when the server ended the reply early (e.g. max_output_tokens).
	Incomplete string
}

// Event is one step of a streamed reply: a piece of text, or the finished reply. A backend also
// yields an empty Event for any other sign of life from the server (a reasoning model may send
// nothing but progress events for minutes), so the stall timeout measures silence, not thinking.
type Event struct {
	Delta string
	Done  *Reply
}

// A Backend sends a Request to one API and yields its reply as events. The Responses API is
// built in; Chat Completions lives in package chatcell/completions.
type Backend interface {
	Stream(ctx context.Context, opts []option.RequestOption, req *Request) iter.Seq2[Event, error]
}

var (
	// ErrDropped reports a stream that ended before the reply was complete.
	ErrDropped = errors.New("the connection ended before the reply was complete")
	// ErrStalled reports a server that sent nothing for the stall timeout.
	ErrStalled = errors.New("the server sent nothing for too long")
	// ErrInterrupted reports a reply stopped by an interrupt (the notebook's stop button).
	ErrInterrupted = errors.New("interrupted")
	errStopped     = errors.New("stopped by the caller")
)

// run is the streaming engine that every chat type uses: it sends req through b, passes every
// delta to emit (which may return false to stop) and returns the finished reply, or the text
// received so far and why the reply did not finish.
func run(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, emit func(string) bool) (*Reply, string, error) {
	if cfg.err != nil {
		return nil, "", cfg.err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	alive := func() {}
	if cfg.stallTimeout > 0 {
		t := time.AfterFunc(cfg.stallTimeout, func() { cancel(ErrStalled) })
		defer t.Stop()
		alive = func() { t.Reset(cfg.stallTimeout) }
	}
	var text strings.Builder
	var final *Reply
	for ev, err := range b.Stream(ctx, cn.opts, req) {
		alive()
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return nil, text.String(), err
		}
		if ev.Delta != "" {
			text.WriteString(ev.Delta)
			if emit != nil && !emit(ev.Delta) {
				return nil, text.String(), errStopped
			}
		}
		if ev.Done != nil {
			final = ev.Done
		}
	}
	if final == nil {
		if ctx.Err() != nil {
			return nil, text.String(), context.Cause(ctx)
		}
		return nil, text.String(), ErrDropped
	}
	if final.Text == "" {
		final.Text = text.String()
	}
	return final, text.String(), nil
}

// show runs one turn into a display cell: the notebook view of run. An interrupt (SIGINT, the
// notebook's stop button) cuts the reply short cleanly; the caller saves its state and then
// calls reraise, so the cell stops as it would without us.
func show(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request) (rep *Reply, partial string, interrupted bool, err error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	cell := display.NewCell()
	rep, partial, err = run(ctx, cfg, cn, b, req, func(d string) bool {
		if cfg.stream {
			cell.Write(d)
		}
		return true
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
	var model, id string
	var usage Usage
	if rep != nil {
		model, id, usage = rep.Model, rep.ID, rep.Usage
	}
	if err != nil {
		cell.CutShort()
	}
	cell.Close(map[string]any{"model": model, "response_id": id, "source": string(cn.source), "usage": map[string]any{
		"input_tokens": usage.InputTokens, "output_tokens": usage.OutputTokens, "total_tokens": usage.TotalTokens}})
	return rep, partial, interrupted, err
}

// reraise ends the process the way the interrupt would have, once state has been saved.
func reraise() {
	signal.Reset(os.Interrupt)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	time.Sleep(time.Second) // the signal ends the process; this is never reached in practice
	os.Exit(130)
}

// stream adapts run to an iterator of deltas for the Go API. commit receives the outcome.
func stream(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, commit func(*Reply, string, error) error) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		stopped := false
		rep, partial, err := run(ctx, cfg, cn, b, req, func(d string) bool {
			if !yield(d, nil) {
				stopped = true
				return false
			}
			return true
		})
		err = commit(rep, partial, err)
		if err != nil && !stopped {
			yield("", err)
		}
	}
}
