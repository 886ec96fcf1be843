//go:build gonbchat_kernel

package chatcell

// The hand-written part of chatcell's kernel mode (see package internal/kernel): option types,
// errors, the types that name the SDK or keypool, and how special arguments cross. The rest is
// generated (zz_kernel.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"

	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/kernel"
	"github.com/gonbchat/gonbchat/llm"
)

// Where an option can be given: see the table in the real package (options.go). In kernel mode
// an option is data (its constructor's name and arguments) that the helper turns into the real
// option.
type (
	// ChatOption configures New.
	ChatOption interface {
		forNew()
		kdata() kernel.OptData
	}
	// HistOption configures NewHistList.
	HistOption interface {
		forNewHistList()
		kdata() kernel.OptData
	}
	// CallOption configures one call: Ask, Reply, Stream, Go or a chat's Loop.
	CallOption interface {
		forOneCall()
		kdata() kernel.OptData
	}
	// CreateOption configures Create, CreateContext, ShowEvents and the package's Loop.
	CreateOption interface {
		forCreate()
		kdata() kernel.OptData
	}
)

// Option works everywhere: on a chat (New, NewHistList) for all its turns, on one call for that
// call only (as the textbook passes **kwargs), and on Create.
type Option struct{ d kernel.OptData }

func (Option) forNew()                 {}
func (Option) forNewHistList()         {}
func (Option) forOneCall()             {}
func (Option) forCreate()              {}
func (o Option) kdata() kernel.OptData { return o.d }

// ConnOption says how a chat reaches its model: given to New, NewHistList or Create, not to one
// call (a chat keeps one connection; ResetAPIKey changes its key).
type ConnOption struct{ d kernel.OptData }

func (ConnOption) forNew()                 {}
func (ConnOption) forNewHistList()         {}
func (ConnOption) forCreate()              {}
func (o ConnOption) kdata() kernel.OptData { return o.d }

// NameOption names a chat and says where its state lives: given to New or NewHistList.
type NameOption struct{ d kernel.OptData }

func (NameOption) forNew()                 {}
func (NameOption) forNewHistList()         {}
func (o NameOption) kdata() kernel.OptData { return o.d }

// ThreadOption chains onto a stored response (previous_response_id): given to New or Create.
// A ChatWithHistList sends its own history instead.
type ThreadOption struct{ d kernel.OptData }

func (ThreadOption) forNew()                 {}
func (ThreadOption) forCreate()              {}
func (o ThreadOption) kdata() kernel.OptData { return o.d }

// ListOption shapes a history we keep (caps, windows, trimming, summaries): given to
// NewHistList.
type ListOption struct{ d kernel.OptData }

func (ListOption) forNewHistList()         {}
func (o ListOption) kdata() kernel.OptData { return o.d }

// MessagesOption shapes the message list of a request (a system message, the API that takes
// it): given to NewHistList or Create. A Chat's history is on the server: it takes
// WithInstructions instead.
type MessagesOption struct{ d kernel.OptData }

func (MessagesOption) forNewHistList()         {}
func (MessagesOption) forCreate()              {}
func (o MessagesOption) kdata() kernel.OptData { return o.d }

func optsOf[T interface{ kdata() kernel.OptData }](opts []T) []kernel.OptData {
	out := make([]kernel.OptData, 0, len(opts))
	for _, o := range opts {
		if any(o) == nil {
			out = append(out, kernel.OptData{}) // the helper passes a nil option on, as Go would
			continue
		}
		out = append(out, o.kdata())
	}
	return out
}

// RequestOption is an openai-go request option. In kernel mode the chats run in the kernel's
// helper process, where such options cannot go: it is any value here, and WithRequestOptions is
// an error.
type RequestOption = any

// WithRequestOptions adds openai-go request options (headers, a custom HTTP client…). They
// work in-process only: in kernel mode they are an error (see RequestOption).
func WithRequestOptions(opts ...RequestOption) ConnOption {
	return ConnOption{kernel.OptErr("WithRequestOptions", "WithRequestOptions: openai-go request options cannot reach the kernel's gonbchat helper (kernel mode, GOFLAGS=-tags="+kernel.Tag+"): use WithBaseURL, WithAPIKey or WithParam, or run the program outside the kernel")}
}

// KeyPool is a pool of API keys made by keypool.New (a *keypool.Pool, which crosses to the
// kernel's helper as its keys and settings).
type KeyPool = interface {
	Len() int
	Name() string
}

// Error is the error chatcell returns: its text is the one readable line a notebook cell shows
// (the server's own message where there is one, never a key), and it unwraps to the cause, so
// errors.As finds an *APIError, errors.Is an ErrDropped, fs.ErrNotExist…
type Error struct {
	Err  error
	line string
}

func (e *Error) Error() string { return e.line }
func (e *Error) Unwrap() error { return e.Err }

// Format prints the one line for every verb (%v, %+v, %#v, %s, %q), so that no formatting of a
// returned error shows the fields of its cause.
func (e *Error) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", e.line)
	default:
		fmt.Fprint(f, e.line)
	}
}

// APIError is the server's error for a non-2xx answer: its StatusCode, Code, Param, Type and
// Message are the server's. (In-process it is the SDK's error type, which also holds the HTTP
// request and response; those stay in the kernel's helper.)
type APIError struct {
	StatusCode int
	Code       string
	Param      string
	Type       string
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Describe turns an error into one readable line for a notebook cell: the server's own message
// for API errors (the SDK's Error() only says "400 Bad Request"), plain words for interrupts,
// timeouts and network failures. It never includes an API key.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.line
	}
	args, aerr := kernel.Args("chatcell.Describe", err.Error())
	res, cerr := kernel.CallShow(nil, nil, "Describe", args, aerr)
	if cerr != nil {
		return err.Error()
	}
	var line string
	kernel.Res(res, 0, &line)
	return line
}

// Stream implements Backend. In kernel mode the backends run in the kernel's helper: a program
// cannot call one itself.
func (ResponsesBackend) Stream(ctx context.Context, opts []RequestOption, req *Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		yield(Event{}, errors.New("chatcell.ResponsesBackend.Stream cannot be called in kernel mode: the backends run in the kernel's gonbchat helper"))
	}
}

func init() {
	kernel.RegisterBackend("responses", ResponsesBackend{})
	for name, err := range map[string]error{
		"history.ErrEmpty": history.ErrEmpty, "history.ErrTruncated": history.ErrTruncated,
		"history.ErrCorrupt": history.ErrCorrupt, "history.ErrNotHistory": history.ErrNotHistory,
		"history.ErrNewerVersion": history.ErrNewerVersion, "history.ErrPinsExceedCap": history.ErrPinsExceedCap,
	} {
		kernel.Sentinel(name, err)
	}
}

// remoteErr is the cause of an error that crossed from the helper: what errors.Is and errors.As
// find in it.
type remoteErr struct {
	text string
	errs []error
}

func (e *remoteErr) Error() string   { return e.text }
func (e *remoteErr) Unwrap() []error { return e.errs }

// fromData rebuilds an error that crossed.
func fromData(d *kernel.ErrData) error {
	if d == nil {
		return nil
	}
	cause := &remoteErr{text: d.Line}
	var sentinels []error
	for _, n := range d.Is {
		if s, ok := kernel.SentinelByName(n); ok {
			sentinels = append(sentinels, s)
		}
	}
	cause.errs = append(cause.errs, sentinels...)
	if a := d.API; a != nil {
		cause.errs = append(cause.errs, &APIError{StatusCode: a.StatusCode, Code: a.Code, Param: a.Param, Type: a.Type, Message: a.Message})
	}
	if s := d.Stream; s != nil {
		cause.errs = append(cause.errs, &StreamError{Code: s.Code, Message: s.Message, Raw: s.Raw})
	}
	if l := d.Limit; l != nil {
		cause.errs = append(cause.errs, &history.LimitError{Limit: l.Limit, Unit: l.Unit, Max: l.Max, Have: l.Have, Pinned: l.Pinned})
	}
	first := func(text string) error {
		if len(sentinels) > 0 {
			return sentinels[0]
		}
		return errors.New(text)
	}
	if f := d.Format; f != nil {
		cause.errs = append(cause.errs, &history.FormatError{Path: f.Path, Reason: f.Reason, Err: first(f.Reason)})
	}
	if p := d.Path; p != nil {
		cause.errs = append(cause.errs, &fs.PathError{Op: p.Op, Path: p.Path, Err: first(p.Text)})
	}
	return &Error{Err: cause, line: d.Line}
}

// resErr decodes error result i.
func resErr(res []json.RawMessage, i int) error {
	var d *kernel.ErrData
	kernel.Res(res, i, &d)
	return fromData(d)
}

// callFailed is the error of a call that could not be made.
func callFailed(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Err: err, line: err.Error()}
}

func asError(err error) error { return callFailed(err) }

// resList decodes a history (History returns a copy: its messages, cap and usage).
func resList(res []json.RawMessage, i int) *history.List {
	var f history.File
	kernel.Res(res, i, &f)
	return f.List()
}

func poolArg(p KeyPool) any {
	if p == nil {
		return nil
	}
	if kernel.PoolSpec != nil {
		if d, ok := kernel.PoolSpec(p); ok {
			if d.Err != "" {
				return kernel.ArgError{Msg: d.Err}
			}
			return d
		}
	}
	return kernel.ArgError{Msg: fmt.Sprintf("WithKeyPool: give a pool made by keypool.New (got %T)", p)}
}

func strategiesArg(s []history.Strategy) any {
	out := make([]kernel.StrategyData, 0, len(s))
	for _, st := range s {
		if st == nil {
			out = append(out, kernel.StrategyData{Kind: "nil"})
			continue
		}
		d, ok := kernel.StrategyData{}, false
		if kernel.StrategySpec != nil {
			d, ok = kernel.StrategySpec(st)
		}
		if !ok || d.Err != "" {
			msg := "WithTrim: this strategy cannot reach the kernel's gonbchat helper (kernel mode): use history.SlidingWindow, history.TokenBudget with a counter of package history/tokens, WithWindow or WithSummary"
			if d.Err != "" {
				msg = "WithTrim: " + d.Err
			}
			return kernel.ArgError{Msg: msg}
		}
		out = append(out, d)
	}
	return out
}

func starterArg(p Starter) any {
	if p == nil {
		return nil
	}
	msgs := p.Start()
	if msgs == nil {
		msgs = []llm.Message{}
	}
	return msgs
}

func backendArg(b Backend) any {
	if b == nil {
		return nil
	}
	if name := kernel.BackendName(b); name != "" {
		return name
	}
	return kernel.ArgError{Msg: fmt.Sprintf("WithBackend: a backend of your own (%T) cannot reach the kernel's gonbchat helper: it works in-process only (kernel mode, GOFLAGS=-tags=%s)", b, kernel.Tag)}
}
