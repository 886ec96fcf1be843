package chatcell

import (
	"context"
	"fmt"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/display"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

// Create sends one request with no chat around it, like the textbook's client.responses.create
// (or client.chat.completions.create with WithBackend), and shows the reply streaming into a
// display cell. It chains onto WithPreviousResponseID if given, and starts with the system
// message of WithSystem. It returns the finished reply (its ID, PreviousResponseID, Usage…), or the zero Reply
// after showing the error as one line.
func Create(msg string, opts ...Option) Reply {
	cfg := newConfig(opts)
	cn := resolveConn(cfg)
	rep, _, interrupted, err := show(context.Background(), cfg, cn, cfg.backend, oneShot(cfg, msg))
	if err != nil && !cfg.quiet {
		display.Error(cn.redact(Describe(err)))
	}
	if err == nil {
		showUsage(cfg, cn, rep, llm.Usage{}, 0)
	}
	if interrupted {
		reraise()
	}
	if err != nil {
		return Reply{}
	}
	return *rep
}

// CreateContext is Create for Go programs: it shows nothing and returns the error.
func CreateContext(ctx context.Context, msg string, opts ...Option) (Reply, error) {
	cfg := newConfig(opts)
	rep, _, err := run(ctx, cfg, resolveConn(cfg), cfg.backend, oneShot(cfg, msg), nil)
	if err != nil {
		return Reply{}, err
	}
	return *rep, nil
}

func oneShot(cfg *config, msg string) *Request {
	var input []llm.Message
	if cfg.system != "" {
		input = append(input, llm.SystemMsg(cfg.system))
	}
	return &Request{Model: cfg.model, Instructions: cfg.instructions, Input: append(input, llm.UserMsg(msg)),
		PreviousResponseID: cfg.previousID, Store: cfg.store, Params: cfg.params}
}

// WithPreviousResponseID chains a Create onto an earlier response.
func WithPreviousResponseID(id string) Option { return func(c *config) { c.previousID = id } }

// ShowEvents sends msg with stream=true and prints every server-sent event as it arrives, as the
// textbook's `for event in response: pprint(event)` does: the type and sequence number, then the
// delta text for text deltas, or the event's JSON (shortened) for the others.
func ShowEvents(msg string, opts ...Option) error {
	cfg := newConfig(opts)
	cn := resolveConn(cfg)
	params := responses.ResponseNewParams{Model: cfg.model, Input: responses.ResponseNewParamsInputUnion{OfString: param.NewOpt(msg)}}
	if cfg.instructions != "" {
		params.Instructions = param.NewOpt(cfg.instructions)
	}
	svc := responses.NewResponseService(cn.opts...)
	s := svc.NewStreaming(context.Background(), params)
	defer s.Close()
	for s.Next() {
		fmt.Println(eventLine(s.Current()))
	}
	err := s.Err()
	if err != nil && !cfg.quiet {
		display.Error(cn.redact(Describe(err)))
	}
	return err
}

// eventLine is one line of ShowEvents.
func eventLine(ev responses.ResponseStreamEventUnion) string {
	head := fmt.Sprintf("%-34s #%-3d", ev.Type, ev.SequenceNumber)
	if ev.Type == "response.output_text.delta" {
		return fmt.Sprintf("%s delta=%q", head, ev.Delta)
	}
	raw := ev.RawJSON()
	if r := []rune(raw); len(r) > 240 {
		raw = string(r[:240]) + " …"
	}
	return head + " " + raw
}
