//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"iter"

	"github.com/gonbchat/gonbchat/llm"
)

// An Endpoint sends whole message lists to a model and streams the replies, with the
// connection, model and parameters of its options: the building block under the chats, for
// programs that keep their own conversations (a web chat page keeps one per visitor). It keeps
// no history and shows nothing. It is safe for concurrent use.
type Endpoint struct {
	cfg *config
	cn  *conn
}

// NewEndpoint returns an Endpoint configured as Create would be (WithProvider, WithModel,
// WithBackend…). A provider with only Chat Completions uses it by itself.
func NewEndpoint(opts ...CreateOption) *Endpoint {
	cfg, cn := createConfig(opts)
	return &Endpoint{cfg: cfg, cn: cn}
}

// Err reports what the options could not take (nil if all is well).
func (e *Endpoint) Err() error { return wrap(e.cfg.lang, e.cfg.err()) }

// Source says whether the endpoint talks to a live server, the offline mirror model or a replay.
func (e *Endpoint) Source() Source { return e.cn.source }

// Stream sends msgs (the newest user message last) and yields the reply's text deltas. An error
// ends the sequence; its text is one readable line (see Describe).
func (e *Endpoint) Stream(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error] {
	hasSystem := false
	for _, m := range msgs {
		hasSystem = hasSystem || m.Role.Instruction()
	}
	req := &Request{Model: e.cfg.model, Instructions: e.cfg.instructionsFor(hasSystem), Input: msgs,
		Store: e.cfg.store, Params: e.cfg.params}
	return stream(ctx, e.cfg, e.cn, e.cfg.backend, req, func(_ *Reply, _ string, err error) error {
		if err == nil || errorsIsStopped(err) {
			return nil
		}
		return wrap(e.cfg.lang, err)
	})
}

// Reply sends msgs and returns the whole reply.
func (e *Endpoint) Reply(ctx context.Context, msgs []llm.Message) (Reply, error) {
	hasSystem := false
	for _, m := range msgs {
		hasSystem = hasSystem || m.Role.Instruction()
	}
	req := &Request{Model: e.cfg.model, Instructions: e.cfg.instructionsFor(hasSystem), Input: msgs,
		Store: e.cfg.store, Params: e.cfg.params}
	rep, _, err := run(ctx, e.cfg, e.cn, e.cfg.backend, req, hooks{})
	if err != nil {
		return Reply{}, wrap(e.cfg.lang, err)
	}
	return *rep, nil
}
