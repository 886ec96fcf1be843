//go:build !gonbchat_kernel && unix

package helper

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/internal/kernel"
)

// The helper's side of chatcell's kernel_concurrent.go: AskAll about several chats by their
// handles, and turns started by Go, whose Pending is a handle of its own.

// question is chatcell's kernel-mode Question as it crosses.
type question struct {
	None bool             `json:"none,omitempty"`
	Msg  string           `json:"msg"`
	Opts []kernel.OptData `json:"opts,omitempty"`
}

func init() {
	calls["AskAll"] = func(x *call) ([]any, error) {
		var ids []int64
		if err := x.arg(0, &ids); err != nil {
			return nil, err
		}
		var ds []question
		if err := x.arg(1, &ds); err != nil {
			return nil, err
		}
		if len(ds) != len(ids) {
			return nil, fmt.Errorf("gonbchat kernel helper: AskAll: %d chats for %d questions", len(ids), len(ds))
		}
		qs := make([]chatcell.Question, len(ds))
		for i, d := range ds {
			raw, _ := json.Marshal(d.Opts)
			opts, err := optsAs[chatcell.CallOption](&call{ss: x.ss, name: x.name, args: []json.RawMessage{raw}, ctx: x.ctx}, 0)
			if err != nil {
				return nil, err
			}
			var chat chatcell.Asker
			if !d.None {
				v, err := (&call{ss: x.ss, name: x.name, recv: ids[i]}).objectOr()
				if err != nil {
					return nil, err
				}
				a, ok := v.(chatcell.Asker)
				if !ok {
					return nil, fmt.Errorf("gonbchat kernel helper: AskAll: object %d is a %T", ids[i], v)
				}
				chat = a
			}
			qs[i] = chatcell.Ask(chat, d.Msg, opts...)
		}
		return []any{chatcell.AskAll(qs...)}, nil
	}
	goCall := func(x *call, g interface {
		Go(ctx context.Context, msg string, opts ...chatcell.CallOption) *chatcell.Pending
	}) ([]any, error) {
		var msg string
		if err := x.arg(0, &msg); err != nil {
			return nil, err
		}
		opts, err := optsAs[chatcell.CallOption](x, 1)
		if err != nil {
			return nil, err
		}
		// The turn outlives this call (Pending.Wait waits for it), not the cell.
		return []any{x.handle(g.Go(x.ss.ctx, msg, opts...))}, nil
	}
	calls["Chat.Go"] = func(x *call) ([]any, error) {
		r, err := recvAs(x, func() *chatcell.Chat { return &chatcell.Chat{} })
		if err != nil {
			return nil, err
		}
		return goCall(x, r)
	}
	calls["ChatWithHistList.Go"] = func(x *call) ([]any, error) {
		r, err := recvAs(x, func() *chatcell.ChatWithHistList { return &chatcell.ChatWithHistList{} })
		if err != nil {
			return nil, err
		}
		return goCall(x, r)
	}
	calls["Pending.Wait"] = func(x *call) ([]any, error) {
		p, err := recvAs(x, func() *chatcell.Pending { return nil })
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("gonbchat kernel helper: Pending.Wait: no turn")
		}
		select {
		case <-p.Done():
		case <-x.ctx.Done(): // the cell cancelled it (Cancel, or its context)
			p.Cancel()
		}
		text, err := p.Wait()
		return []any{text, errOut(err)}, nil
	}
}

// objectOr returns the object of handle x.recv; a zero handle is an error here (AskAll needs a
// chat).
func (x *call) objectOr() (any, error) {
	v, ok, err := x.object()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("gonbchat kernel helper: %s: a chat that was never made (declare it with New or NewHistList)", x.name)
	}
	return v, nil
}
