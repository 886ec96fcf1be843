//go:build !gonbchat_kernel

package chatcell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/replay"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// Request is one model call, whatever the API behind it.
type Request struct {
	Model              string
	Instructions       string
	Input              []llm.Message // the newest user message is last
	PreviousResponseID string
	Store              *bool
	Params             map[string]any // passed through as JSON
	// Format asks for JSON instead of text (nil: text). See OutputFormat.
	Format *OutputFormat
}

// OutputFormat asks the model for JSON: JSON that fits Schema (structured outputs: the
// Responses API's text.format, Chat Completions' response_format, type json_schema), or any
// JSON object when Schema is nil (JSON mode, json_object). Schema is sent as written, so its
// properties keep their order, which is the order a model writes them in.
type OutputFormat struct {
	Name   string          // the schema's name: a-z, A-Z, 0-9, '_' and '-', at most 64
	Schema json.RawMessage // a JSON Schema object; nil for JSON mode
	Strict bool            // strict schema adherence
}

// Reply is a finished model reply.
type Reply struct {
	ID                 string
	PreviousResponseID string
	Model              string
	Text               string
	Usage              llm.Usage
	// Incomplete gives the reason when the server ended the reply early (e.g. max_output_tokens).
	Incomplete string
	// Raw is the API's own object for the reply, as JSON: the Responses API's response, or the
	// last chunk of a Chat Completions stream with the whole message put back together.
	Raw string
	// Source says where this reply came from: Live, Offline (the mirror model) or Replayed.
	Source Source
}

// Message returns the reply as the message the API returned: role assistant and the text.
func (r Reply) Message() llm.Message { return llm.AssistantMsg(r.Text) }

// Event is one step of a streamed reply: a piece of text, or the finished reply. A backend
// yields Event{Connected: true} once the server's response headers arrived, and an empty Event
// for any other sign of life (a reasoning model may send nothing but progress events for
// minutes), so that the timeouts measure silence, not thinking.
type Event struct {
	Delta     string
	Done      *Reply
	Connected bool
}

// A Backend sends a Request to one API and yields its reply as events. The Responses API is
// built in; Chat Completions lives in package chatcell/completions.
type Backend interface {
	Stream(ctx context.Context, opts []RequestOption, req *Request) iter.Seq2[Event, error]
}

func isResponses(b Backend) bool {
	if b == nil {
		return true
	}
	_, ok := b.(ResponsesBackend)
	return ok
}

// maxRetries is how many times a request that failed before any text is sent again (429, 5xx,
// a lost connection), as the SDK would; maxRetryWait is the longest wait a server may ask for.
const (
	maxRetries   = 2
	maxRetryWait = 90 * time.Second
)

// hooks are what a caller of run wants to hear about.
type hooks struct {
	// emit receives every delta; it returns false to stop the reply.
	emit func(string) bool
	// status shows a line while the reply waits (a retry); "" clears it.
	status func(string)
	// again may give another request for a turn that failed before any text (a Chat whose
	// thread the server no longer has sends it again from its own copy), with a notice line.
	again func(error) (*Request, string)
	// notice shows a one-line notice.
	notice func(string)
}

// run is the streaming engine that every chat type uses: it sends req through b, retries what
// failed before any text, bounds the waits, passes every delta to h.emit and returns the
// finished reply, or the text received so far and why the reply did not finish.
func run(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, h hooks) (*Reply, string, error) {
	if err := cfg.err(); err != nil {
		return nil, "", err
	}
	if err := keyInRequest(cfg.lang, req); err != nil {
		return nil, "", err
	}
	reseeded := false
	for attempt := 0; ; attempt++ {
		rep, text, err := attemptOnce(ctx, cfg, cn, b, req, h)
		if err == nil || text != "" || ctx.Err() != nil {
			return rep, text, err
		}
		if h.again != nil && !reseeded {
			if next, notice := h.again(err); next != nil {
				reseeded, req, attempt = true, next, -1
				if h.notice != nil && notice != "" {
					h.notice(notice)
				}
				continue
			}
		}
		if attempt >= maxRetries {
			return rep, text, err
		}
		wait, why, ok := retryAfter(cfg.lang, err, attempt)
		if !ok {
			return nil, "", err
		}
		if h.status != nil {
			h.status(tr(cfg.lang, msgRetrying, why, seconds(wait), attempt+1, maxRetries))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", context.Cause(ctx)
		case <-t.C:
		}
		if h.status != nil {
			h.status("")
		}
	}
}

// keyInRequest refuses, before anything is sent, a request whose text holds one of the keys
// this process was configured with (a key pasted into a prompt would reach the provider's logs,
// the offline model's echo, the display and every save file). Text that only looks like a key
// is left alone: a lesson may well talk about "sk-…".
func keyInRequest(lang string, req *Request) error {
	where := msgID(-1)
	if secret.Known(req.Instructions) {
		where = msgKeyInInstr
	}
	for i := len(req.Input) - 1; i >= 0 && where < 0; i-- {
		switch m := req.Input[i]; {
		case !secret.Known(m.Content):
		case m.Role.Instruction():
			where = msgKeyInInstr
		case i == len(req.Input)-1:
			where = msgKeyInMessage
		default:
			where = msgKeyEarlier
		}
	}
	if where < 0 {
		return nil
	}
	return errors.New(tr(lang, msgKeyInRequest, tr(lang, where)))
}

func attemptOnce(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, h hooks) (*Reply, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// One timer bounds the silence: the start timeout until the first event, then the stall
	// timeout between events.
	var mu sync.Mutex
	phase := msgNoHeaders
	limit := cfg.startTimeout
	var timer *time.Timer
	arm := func() {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
		}
		if limit <= 0 {
			return
		}
		sentinel, p, d := ErrNoResponse, phase, limit
		if p == msgStalledMid {
			sentinel = ErrStalled
		}
		timer = time.AfterFunc(d, func() { cancel(&timeoutError{sentinel, p, d}) })
	}
	defer func() {
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}()
	arm()

	tap := &tap{}
	opts := append(append([]option.RequestOption(nil), cn.opts...), option.WithMaxRetries(0), option.WithMiddleware(tap.middleware))
	var text strings.Builder
	var final *Reply
	started := false
	fail := func(err error) (*Reply, string, error) {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		var sdkE *ssestream.StreamError
		if errors.As(err, &sdkE) {
			err = parseStreamError(sdkE.Event.Data)
		}
		err = tap.explain(err)
		if text.Len() > 0 && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrInterrupted) {
			err = &cutError{received: len([]rune(text.String())), cause: err}
		}
		return nil, text.String(), err
	}
	for ev, err := range b.Stream(ctx, opts, req) {
		if err != nil {
			return fail(err)
		}
		switch {
		case ev.Connected && !started:
			phase = msgNoFirstEvent
			arm()
			continue
		case !started:
			started = true
			phase, limit = msgStalledMid, cfg.stallTimeout
		}
		arm()
		if ev.Delta != "" {
			text.WriteString(ev.Delta)
			if h.emit != nil && !h.emit(ev.Delta) {
				return nil, text.String(), errStopped
			}
		}
		if ev.Done != nil {
			final = ev.Done
		}
	}
	if final == nil {
		if ctx.Err() != nil {
			return fail(context.Cause(ctx))
		}
		if text.Len() == 0 {
			return fail(errEmptyStream)
		}
		return fail(ErrDropped)
	}
	if final.Text == "" {
		final.Text = text.String()
	}
	final.Source = cn.source
	switch {
	case tap.replayed():
		final.Source = Replayed
	case cn.source == Replayed:
		final.Source = Offline // not in the recording: the mirror model answered
	}
	return final, text.String(), nil
}

// retryAfter decides whether an error that came before any text is worth another try, and how
// long to wait: the server's Retry-After when it gives one (within maxRetryWait), else an
// exponential backoff with jitter, as the SDK does.
func retryAfter(lang string, err error, attempt int) (time.Duration, string, bool) {
	var apiErr *APIError
	backoff := time.Duration(float64(500*time.Millisecond) * float64(int(1)<<attempt) * (1 + 0.25*rand.Float64()))
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Code == "insufficient_quota" {
			return 0, "", false
		}
		var hdr http.Header
		if apiErr.Response != nil {
			hdr = apiErr.Response.Header
		}
		switch hdr.Get("x-should-retry") {
		case "false":
			return 0, "", false
		}
		s := apiErr.StatusCode
		if !(s == 408 || s == 409 || s == 429 || s >= 500 || hdr.Get("x-should-retry") == "true") {
			return 0, "", false
		}
		why := tr(lang, msgWhyServerError, s)
		if s == 429 {
			why = tr(lang, msgWhyRateLimited)
		}
		if d, ok := retryAfterHeader(hdr); ok {
			if d > maxRetryWait {
				return 0, "", false
			}
			return d, why, true
		}
		return min(backoff, 8*time.Second), why, true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, ErrNotAStream), errors.Is(err, ErrNoResponse):
		return 0, "", false
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) && !dnsErr.IsTemporary {
		return 0, "", false
	}
	if errors.Is(err, errEmptyStream) {
		// The server answered 200 and ended at once: the connection was not lost.
		return min(backoff, 8*time.Second), tr(lang, msgWhyEmpty), true
	}
	if errors.As(err, &opErr) || errors.Is(err, ErrDropped) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return min(backoff, 8*time.Second), tr(lang, msgWhyConnLost), true
	}
	return 0, "", false
}

// retryAfterHeader reads retry-after-ms, then Retry-After (seconds or an HTTP date).
func retryAfterHeader(h http.Header) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms >= 0 {
		return time.Duration(ms * float64(time.Millisecond)), true
	}
	v := h.Get("retry-after")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// tap watches one streaming request: it refuses a successful answer that is not an event
// stream (an HTML page from a captive portal) and keeps the last bytes read, to quote a line
// the SDK could not parse.
type tap struct {
	mu     sync.Mutex
	tail   []byte
	source string // the X-Gonbchat-Source header of the answer
}

func (t *tap) replayed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.source == replay.Replayed
}

const tapKeep = 4096

func (t *tap) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res.StatusCode >= 300 {
		return res, err
	}
	t.mu.Lock()
	t.source = res.Header.Get(replay.SourceHeader)
	t.mu.Unlock()
	// The headers decide without waiting for the body (a stream may be slow to start).
	ct := strings.ToLower(res.Header.Get("Content-Type"))
	if strings.Contains(ct, "text/html") || strings.Contains(ct, "json") && !strings.Contains(ct, "stream") {
		head, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		if strings.Contains(ct, "html") {
			return nil, &notAStream{what: msgWhatHTML, excerpt: htmlExcerpt(head), hint: true}
		}
		return nil, &notAStream{what: msgWhatJSONDoc, excerpt: excerpt(string(head), 60), hint: true}
	}
	res.Body = &tapReader{r: res.Body, t: t}
	return res, nil
}

// tapReader keeps the last bytes read, and refuses a body that turns out to be an HTML page
// sent without its content type.
type tapReader struct {
	r       io.ReadCloser
	t       *tap
	started bool
}

func (r *tapReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if !r.started {
			if trimmed := bytes.TrimSpace(bytes.TrimPrefix(p[:n], []byte("\xef\xbb\xbf"))); len(trimmed) > 0 {
				r.started = true
				switch {
				case trimmed[0] == '<':
					return 0, &notAStream{what: msgWhatHTML, excerpt: htmlExcerpt(trimmed), hint: true}
				case trimmed[0] == '{' || trimmed[0] == '[':
					return 0, &notAStream{what: msgWhatJSONDoc, excerpt: excerpt(string(trimmed), 60), hint: true}
				case !sseStart(trimmed):
					return 0, &notAStream{what: msgWhatText, excerpt: excerpt(string(trimmed), 60), hint: true}
				}
			}
		}
		r.t.mu.Lock()
		r.t.tail = append(r.t.tail, p[:n]...)
		if len(r.t.tail) > tapKeep {
			r.t.tail = append([]byte(nil), r.t.tail[len(r.t.tail)-tapKeep:]...)
		}
		r.t.mu.Unlock()
	}
	return n, err
}

func (r *tapReader) Close() error { return r.r.Close() }

// sseStart reports whether b can be the start of an event stream: a field that OpenAI-compatible
// servers send (data, event, id, retry) or a comment, possibly cut by the read. Anything else
// ("OK", "Service temporarily unavailable") would be skipped by an SSE parser as an unknown
// field, and the reply would look like an empty stream.
func sseStart(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	for _, field := range []string{":", "data", "event", "id", "retry"} {
		if bytes.HasPrefix(line, []byte(field)) {
			rest := line[len(field):]
			if field == ":" || len(rest) == 0 || rest[0] == ':' || rest[0] == '\r' {
				return true
			}
		} else if len(line) < len(field) && strings.HasPrefix(field, string(line)) {
			return true // a read that ended inside the field's name
		}
	}
	return false
}

// explain turns the SDK's JSON error on a malformed event into ErrNotAStream quoting the line.
func (t *tap) explain(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &syn) && !errors.As(err, &typ) {
		return err
	}
	t.mu.Lock()
	tail := string(t.tail)
	t.mu.Unlock()
	bad := ""
	for _, line := range strings.Split(tail, "\n") {
		line = strings.TrimRight(line, "\r")
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data != "[DONE]" && !json.Valid([]byte(data)) {
			bad = line
		}
	}
	if bad == "" {
		bad = err.Error()
	}
	return &notAStream{what: msgNotJSON, excerpt: excerpt(bad, 60)}
}

// htmlExcerpt gives a page's title, or the start of its text.
func htmlExcerpt(head []byte) string {
	s := string(head)
	if i := strings.Index(strings.ToLower(s), "<title>"); i >= 0 {
		rest := s[i+7:]
		if j := strings.Index(strings.ToLower(rest), "</title>"); j >= 0 {
			return excerpt(rest[:j], 80)
		}
	}
	return excerpt(s, 80)
}

// stream adapts run to an iterator of deltas for the Go API. commit receives the outcome.
func stream(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, commit func(*Reply, string, error) error) iter.Seq2[string, error] {
	return streamWith(ctx, cfg, cn, b, req, nil, commit)
}

func streamWith(ctx context.Context, cfg *config, cn *conn, b Backend, req *Request, again func(error) (*Request, string), commit func(*Reply, string, error) error) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		stopped := false
		rep, partial, err := run(ctx, cfg, cn, b, req, hooks{again: again, emit: func(d string) bool {
			if !yield(d, nil) {
				stopped = true
				return false
			}
			return true
		}})
		err = commit(rep, partial, err)
		if err != nil && !stopped {
			yield("", err)
		}
	}
}

func errorsIsStopped(err error) bool { return errors.Is(err, errStopped) }
