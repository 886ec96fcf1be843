//go:build !gonbchat_kernel && unix

package helper

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/history/tokens"
	"github.com/gonbchat/gonbchat/internal/kernel"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/gonbchat/gonbchat/llm"
)

// options maps an option constructor's name to the real constructor (zz_calls.go).
var options = map[string]func(x *call) ([]any, error){}

func sentinel(name string, err error) { kernel.Sentinel(name, err) }

func init() {
	for name, err := range map[string]error{
		"history.ErrEmpty": history.ErrEmpty, "history.ErrTruncated": history.ErrTruncated,
		"history.ErrCorrupt": history.ErrCorrupt, "history.ErrNotHistory": history.ErrNotHistory,
		"history.ErrNewerVersion": history.ErrNewerVersion, "history.ErrPinsExceedCap": history.ErrPinsExceedCap,
	} {
		sentinel(name, err)
	}
	// Describe of an error of the cell's own (chatcell's errors are described on the cell's side).
	calls["Describe"] = func(x *call) ([]any, error) {
		var text string
		if err := x.arg(0, &text); err != nil {
			return nil, err
		}
		return []any{chatcell.Describe(errors.New(text))}, nil
	}
}

// optsAs decodes argument i, a list of options, into the real options.
func optsAs[T any](x *call, i int) ([]T, error) {
	var ods []kernel.OptData
	if err := x.arg(i, &ods); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(ods))
	for _, od := range ods {
		if od.Name == "" {
			var zero T
			out = append(out, zero)
			continue
		}
		if od.Err != "" {
			return nil, errors.New(od.Err)
		}
		f := options[od.Name]
		if f == nil {
			return nil, fmt.Errorf("gonbchat kernel helper: no option %q (the helper and the cell are different builds?)", od.Name)
		}
		vals, err := f(&call{ss: x.ss, name: od.Name, args: od.Args, ctx: x.ctx})
		if err != nil {
			return nil, err
		}
		o, ok := vals[0].(T)
		if !ok {
			return nil, fmt.Errorf("gonbchat kernel helper: %s is a %T, not a %T", od.Name, vals[0], o)
		}
		out = append(out, o)
	}
	return out, nil
}

// pool makes the cell's key pool again from its keys and settings.
func (x *call) pool(i int) (chatcell.KeyPool, error) {
	var d *kernel.PoolData
	if err := x.arg(i, &d); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, nil
	}
	opts := []keypool.Option{keypool.WithName(d.Name), keypool.WithCooldown(time.Duration(d.Cooldown)), keypool.WithMaxWait(time.Duration(d.MaxWait))}
	if d.StateDir != "" {
		opts = append(opts, keypool.WithStateDir(d.StateDir))
	}
	p, err := keypool.New(d.Keys, opts...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// strategies makes the cell's trimming strategies again.
func (x *call) strategies(i int) ([]history.Strategy, error) {
	var ds []kernel.StrategyData
	if err := x.arg(i, &ds); err != nil {
		return nil, err
	}
	var out []history.Strategy
	for _, d := range ds {
		switch d.Kind {
		case "nil":
			out = append(out, nil)
		case "window":
			out = append(out, history.SlidingWindow(d.N))
		case "tokens":
			var c history.TokenCounter
			if d.Counter != "" {
				tc, err := tokens.ForEncoding(d.Counter)
				if err != nil {
					return nil, err
				}
				c = tc
			}
			out = append(out, history.TokenBudget(d.N, c))
		default:
			return nil, fmt.Errorf("gonbchat kernel helper: unknown strategy %q", d.Kind)
		}
	}
	return out, nil
}

// starter is a persona's messages as they crossed.
type starter []llm.Message

func (s starter) Start() []llm.Message { return append([]llm.Message(nil), s...) }

func (x *call) starter(i int) (chatcell.Starter, error) {
	var msgs *[]llm.Message
	if err := x.arg(i, &msgs); err != nil {
		return nil, err
	}
	if msgs == nil {
		return nil, nil
	}
	return starter(*msgs), nil
}

func (x *call) backend(i int) (chatcell.Backend, error) {
	var name *string
	if err := x.arg(i, &name); err != nil {
		return nil, err
	}
	if name == nil {
		return nil, nil
	}
	switch *name {
	case "responses":
		return chatcell.ResponsesBackend{}, nil
	case "completions":
		return completions.Backend{}, nil
	}
	return nil, fmt.Errorf("gonbchat kernel helper: unknown backend %q", *name)
}

// errOut is an error as it crosses: its line, and what errors.Is and errors.As find in it.
func errOut(err error) *kernel.ErrData {
	if err == nil {
		return nil
	}
	d := &kernel.ErrData{Line: secret.Redact(err.Error()), Is: kernel.SentinelNames(err)}
	var (
		apiErr *chatcell.APIError
		se     *chatcell.StreamError
		le     *history.LimitError
		fe     *history.FormatError
		pe     *fs.PathError
	)
	if errors.As(err, &apiErr) {
		d.API = &kernel.APIErrData{StatusCode: apiErr.StatusCode, Code: apiErr.Code, Param: apiErr.Param, Type: apiErr.Type, Message: secret.Redact(apiErr.Message)}
	}
	if errors.As(err, &se) {
		d.Stream = &kernel.StreamErrData{Code: se.Code, Message: se.Message, Raw: se.Raw}
	}
	if errors.As(err, &le) {
		d.Limit = &kernel.LimitErrData{Limit: le.Limit, Unit: le.Unit, Max: le.Max, Have: le.Have, Pinned: le.Pinned}
	}
	if errors.As(err, &fe) {
		d.Format = &kernel.FormatErrData{Path: fe.Path, Reason: fe.Reason}
	}
	if errors.As(err, &pe) {
		d.Path = &kernel.PathErrData{Op: pe.Op, Path: pe.Path, Text: secret.Redact(pe.Err.Error())}
	}
	return d
}

// listOut is a history as it crosses (History returns a copy).
func listOut(l *history.List) *history.File {
	if l == nil {
		return nil
	}
	return &history.File{Messages: l.Messages(), MaxCount: l.MaxCount(), Usage: l.Usage()}
}
