//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

// createConfig settles the options of a one-shot call.
func createConfig(opts []CreateOption) (*config, *conn) {
	cfg := defaults()
	for _, o := range opts {
		o.forCreate(cfg)
	}
	if cfg.err() == nil {
		if err := settleBackend(cfg); err != nil {
			cfg.errs = append(cfg.errs, err)
		}
	}
	return cfg, resolveConn(cfg)
}

// showErr shows an error of a one-shot call as one line (unless quiet).
func showErr(cfg *config, err error) {
	if err != nil && !cfg.quiet {
		display.Error(wrap(cfg.lang, err).Error())
	}
}

// Create sends one request with no chat around it, like the textbook's client.responses.create
// (or client.chat.completions.create with WithBackend, or on a provider that has only Chat
// Completions), and shows the reply streaming into a display cell. It chains onto
// WithPreviousResponseID if given, and starts with the system message of WithSystem. It
// returns the finished reply (its ID, PreviousResponseID, Usage, Raw…), or the zero Reply after
// showing the error as one line.
func Create(msg string, opts ...CreateOption) Reply {
	cfg, cn := createConfig(opts)
	rep, _, interrupted, err := showTurn(context.Background(), cfg, cn, oneShot(cfg, msg), nil)
	err = withHint(cfg, cn, err)
	showErr(cfg, err)
	if err == nil && !cfg.quiet {
		display.Info(usageLine(cfg, cn, rep, tally{}))
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
func CreateContext(ctx context.Context, msg string, opts ...CreateOption) (Reply, error) {
	cfg, cn := createConfig(opts)
	rep, _, err := run(ctx, cfg, cn, cfg.backend, oneShot(cfg, msg), hooks{})
	if err != nil {
		return Reply{}, wrap(cfg.lang, withHint(cfg, cn, err))
	}
	return *rep, nil
}

// withHint adds which key to check to a refused key, as a chat's turn does.
func withHint(cfg *config, cn *conn, err error) error {
	if h := refusalHint(cfg, cn, err); h != "" {
		return &hintError{err: err, hint: h}
	}
	return err
}

func oneShot(cfg *config, msg string) *Request {
	var input []llm.Message
	if cfg.systemSet {
		input = append(input, llm.SystemMsg(cfg.system))
	}
	return &Request{Model: cfg.model, Instructions: cfg.instructionsFor(cfg.systemSet), Input: append(input, llm.UserMsg(msg)),
		PreviousResponseID: cfg.seed, Store: cfg.store, Params: cfg.params}
}

// ShowEvents sends msg to the Responses API with stream=true and prints every server-sent event
// as it arrives, as the textbook's `for event in response: pprint(event)` does: the type and
// sequence number, then the delta text for text deltas, or the event's JSON for the others
// (shortened, except the final event, whose usage and output text are printed in full).
func ShowEvents(msg string, opts ...CreateOption) error {
	cfg, cn := createConfig(opts)
	if err := cfg.err(); err != nil {
		showErr(cfg, err)
		return wrap(cfg.lang, err)
	}
	if !isResponses(cfg.backend) || cn.chatOnly {
		err := fmt.Errorf("%s", tr(cfg.lang, msgEventsResponsesOnly))
		showErr(cfg, err)
		return wrap(cfg.lang, err)
	}
	params := responses.ResponseNewParams{Model: cfg.model, Input: responses.ResponseNewParamsInputUnion{OfString: param.NewOpt(msg)}}
	if in := cfg.instructionsFor(false); in != "" {
		params.Instructions = param.NewOpt(in)
	}
	if cfg.seed != "" {
		params.PreviousResponseID = param.NewOpt(cfg.seed)
	}
	if cfg.store != nil {
		params.Store = param.NewOpt(*cfg.store)
	}
	// The same guards as a chat's reply: an answer that is not an event stream is named as such,
	// and the waits are bounded (the start timeout until the first event, then the stall timeout).
	ictx, stop := gonbio.InterruptContext(context.Background())
	defer stop()
	ctx, cancel := context.WithCancelCause(ictx)
	defer cancel(nil)
	w := &watchdog{cancel: cancel, sentinel: ErrNoResponse, phase: msgNoHeaders, limit: cfg.startTimeout}
	w.arm()
	defer w.stop()
	tp := &tap{}
	connected := func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		res, err := next(req)
		if err == nil {
			w.set(ErrNoResponse, msgNoFirstEvent, cfg.startTimeout)
		}
		return res, err
	}
	ropts := append(paramOpts(cfg.params), option.WithMiddleware(tp.middleware, connected))
	s := service(cn).NewStreaming(ctx, params, ropts...)
	defer s.Close()
	var failed error
	for s.Next() {
		w.set(ErrStalled, msgStalledMid, cfg.stallTimeout)
		ev := s.Current()
		fmt.Println(secret.Redact(eventLine(ev)))
		if ev.Type == "error" || ev.Type == "response.failed" {
			failed = parseStreamError([]byte(ev.RawJSON()))
		}
	}
	err := s.Err()
	interrupted := false
	if ctx.Err() != nil {
		err = context.Cause(ctx)
		if ictx.Err() != nil {
			err, interrupted = ErrInterrupted, true
		}
	}
	if err == nil {
		err = failed
	}
	if err == nil {
		return nil
	}
	err = withHint(cfg, cn, tp.explain(err))
	showErr(cfg, err)
	if interrupted {
		reraise()
	}
	return wrap(cfg.lang, err)
}

// watchdog cancels a request whose server stays silent for longer than its current limit.
type watchdog struct {
	mu       sync.Mutex
	cancel   context.CancelCauseFunc
	sentinel error
	phase    msgID
	limit    time.Duration
	timer    *time.Timer
}

// set changes what the silence means and how long it may last, and starts counting again.
func (w *watchdog) set(sentinel error, phase msgID, limit time.Duration) {
	w.mu.Lock()
	w.sentinel, w.phase, w.limit = sentinel, phase, limit
	w.mu.Unlock()
	w.arm()
}

func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.limit <= 0 {
		return
	}
	s, p, d := w.sentinel, w.phase, w.limit
	w.timer = time.AfterFunc(d, func() { w.cancel(&timeoutError{s, p, d}) })
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// eventLine is what ShowEvents prints of one event.
func eventLine(ev responses.ResponseStreamEventUnion) string {
	head := fmt.Sprintf("%-34s #%-3d", ev.Type, ev.SequenceNumber)
	switch ev.Type {
	case "response.output_text.delta":
		return fmt.Sprintf("%s delta=%q", head, ev.Delta)
	case "response.completed", "response.incomplete", "response.failed":
		r := ev.Response
		first := "(none)" // the path the textbook prints; a reasoning model's output[0] is its reasoning, without content
		if len(r.Output) > 0 && len(r.Output[0].Content) > 0 {
			first = strconv.Quote(r.Output[0].Content[0].Text)
		}
		return fmt.Sprintf("%s id=%s model=%s status=%s\n    usage: input_tokens=%d output_tokens=%d total_tokens=%d\n    output[0].content[0].text: %s\n    %s",
			head, r.ID, r.Model, r.Status, r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.TotalTokens, first, ev.RawJSON())
	}
	raw := ev.RawJSON()
	if r := []rune(raw); len(r) > 240 {
		raw = string(r[:240]) + " …"
	}
	return head + " " + raw
}
