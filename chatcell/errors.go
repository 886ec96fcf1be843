//go:build !gonbchat_kernel

package chatcell

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

// APIError is the SDK's error for a non-2xx answer (the same type as *openai.Error): its
// StatusCode, Code, Param and Message are the server's.
type APIError = responses.Error

var (
	// ErrDropped reports a reply whose stream ended or broke before the reply was complete.
	ErrDropped = errors.New("the reply was cut off")
	// ErrNoResponse reports a server that did not answer, or sent no event, within the start
	// timeout (WithStartTimeout).
	ErrNoResponse = errors.New("no response from the server")
	// ErrStalled reports a server that, once the reply started, sent nothing for the stall
	// timeout (WithStallTimeout).
	ErrStalled = errors.New("the server sent nothing for too long")
	// ErrInterrupted reports a reply stopped by an interrupt (the notebook's stop button).
	ErrInterrupted = errors.New("interrupted")
	// ErrNotAStream reports an answer that is not an OpenAI stream (an HTML page from a captive
	// portal, a line that is not JSON…).
	ErrNotAStream = errors.New("the server sent something that is not an OpenAI stream")
	errStopped    = errors.New("stopped by the caller")
	// errEmptyStream is ErrDropped before anything arrived: a 200 with no events.
	errEmptyStream = fmt.Errorf("%w: the stream ended before the reply started", ErrDropped)
)

// Error is the error chatcell returns: its text is the one readable line a notebook cell shows
// (the server's own message where there is one, never a key), and it unwraps to the cause, so
// errors.As finds an *APIError, errors.Is an ErrDropped, fs.ErrNotExist…
type Error struct {
	Err  error
	line string
}

func (e *Error) Error() string { return e.line }
func (e *Error) Unwrap() error { return e.Err }

// wrap turns err into an *Error whose line is in lang, with hints appended. nil stays nil.
func wrap(lang string, err error, hints ...string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && len(hints) == 0 {
		return err
	}
	hideKeys(err)
	line := describe(lang, err)
	for _, h := range hints {
		if h != "" {
			line += " (" + h + ")"
		}
	}
	return &Error{Err: err, line: secret.Redact(line)}
}

// hideKeys takes configured keys out of the SDK error that a caller reaches with errors.As: the
// server's message and fields (a server may echo the key back), its raw JSON and body, and the
// key header of the request it keeps. The status, code and everything else stay.
func hideKeys(err error) {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return
	}
	status, req, res := apiErr.StatusCode, apiErr.Request, apiErr.Response
	if raw := apiErr.RawJSON(); secret.Contains(raw) {
		_ = apiErr.UnmarshalJSON([]byte(secret.Redact(raw)))
		apiErr.StatusCode, apiErr.Request, apiErr.Response = status, req, res
	}
	apiErr.Message, apiErr.Code = secret.Redact(apiErr.Message), secret.Redact(apiErr.Code)
	apiErr.Param, apiErr.Type = secret.Redact(apiErr.Param), secret.Redact(apiErr.Type)
	if req != nil {
		var clone *http.Request
		for _, h := range []string{"Authorization", "Api-Key", "X-Api-Key", "X-Goog-Api-Key"} {
			if v := req.Header.Get(h); v != "" && v != secret.Mask {
				if clone == nil {
					clone = req.Clone(req.Context())
				}
				clone.Header.Set(h, secret.Mask)
			}
		}
		if clone != nil {
			apiErr.Request = clone
		}
	}
	if res != nil && res.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body = io.NopCloser(strings.NewReader(secret.Redact(string(body))))
	}
}

// Describe turns an error into one readable line for a notebook cell: the server's own message
// for API errors (the SDK's Error() only says "400 Bad Request"), plain words for interrupts,
// timeouts and network failures. It never includes an API key.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	hideKeys(err)
	return secret.Redact(describe(envLanguage(), err))
}

// cutError is a reply that broke after some text arrived.
type cutError struct {
	received int // characters shown before the cut
	cause    error
}

func (e *cutError) Error() string { return ErrDropped.Error() + ": " + e.cause.Error() }
func (e *cutError) Unwrap() []error {
	return []error{ErrDropped, e.cause}
}

// timeoutError is ErrNoResponse or ErrStalled with how long it waited and for what.
type timeoutError struct {
	sentinel error
	phase    msgID
	after    time.Duration
}

func (e *timeoutError) Error() string { return e.sentinel.Error() }
func (e *timeoutError) Unwrap() error { return e.sentinel }

// StreamError is an error the server sent inside a stream, after a 200: a Responses "error"
// event (flat or nested), response.failed, or a Chat Completions chunk holding an "error".
// Code may be empty (some servers send null). Its fields never hold a key.
type StreamError struct {
	Code, Message string
	// Raw is the event's JSON.
	Raw string
}

func (e *StreamError) Error() string {
	if e.Code != "" {
		return e.Code + ": " + e.Message
	}
	return e.Message
}

// notAStream is ErrNotAStream with a short excerpt of what came instead.
type notAStream struct {
	what    msgID // msgWhatHTML, msgNotJSON…
	excerpt string
	hint    bool // the whole answer was something else: a wrong base URL, a login page
}

func (e *notAStream) Error() string { return ErrNotAStream.Error() }
func (e *notAStream) Unwrap() error { return ErrNotAStream }

// parseStreamError reads an error event in any of the shapes servers send: the API reference's
// flat {"type":"error","code","message"}, a nested {"error":{"code","message"}} whose code may be
// null or a number, or response.failed's {"response":{"error":{…}}}.
func parseStreamError(data []byte) *StreamError {
	var body struct {
		Code     json.RawMessage `json:"code"`
		Message  string          `json:"message"`
		Error    json.RawMessage `json:"error"`
		Response struct {
			Error json.RawMessage `json:"error"`
		} `json:"response"`
	}
	e := &StreamError{Raw: secret.Redact(string(data))}
	defer func() { e.Message, e.Code = secret.Redact(e.Message), secret.Redact(e.Code) }()
	if json.Unmarshal(data, &body) != nil {
		e.Message = strings.TrimSpace(string(data))
		return e
	}
	e.Code, e.Message = jsonText(body.Code), body.Message
	for _, nested := range []json.RawMessage{body.Error, body.Response.Error} {
		var inner struct {
			Code    json.RawMessage `json:"code"`
			Type    string          `json:"type"`
			Message string          `json:"message"`
		}
		if len(nested) == 0 || json.Unmarshal(nested, &inner) != nil {
			var s string
			if json.Unmarshal(nested, &s) == nil && s != "" && e.Message == "" {
				e.Message = s
			}
			continue
		}
		if e.Code == "" {
			e.Code = jsonText(inner.Code)
		}
		if e.Code == "" {
			e.Code = inner.Type
		}
		if e.Message == "" {
			e.Message = inner.Message
		}
	}
	if e.Message == "" {
		e.Message = excerpt(string(data), 160)
	}
	return e
}

// jsonText reads a JSON string or number as text; null and anything else as "".
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// excerpt shortens s to about n characters on one line.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

func describe(lang string, err error) string {
	if err == nil {
		return ""
	}
	var (
		e        *Error
		h        *hintError
		cut      *cutError
		to       *timeoutError
		nas      *notAStream
		apiErr   *APIError
		streamE  *StreamError
		sdkE     *ssestream.StreamError
		fileE    *fsutil.FileError
		dnsErr   *net.DNSError
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		jsonSyn  *json.SyntaxError
	)
	var exhausted *keypool.ExhaustedError
	switch {
	case errors.As(err, &e):
		return e.line
	case errors.As(err, &exhausted):
		return exhausted.Error()
	case errors.As(err, &h):
		return describe(lang, h.err) + " (" + h.hint + ")"
	case errors.Is(err, ErrInterrupted):
		return tr(lang, msgInterrupted)
	case errors.As(err, &cut):
		return tr(lang, msgCutOff, cut.received, cause(lang, cut.cause))
	case errors.Is(err, errEmptyStream):
		return tr(lang, msgEmptyStream)
	case errors.As(err, &to):
		return tr(lang, to.phase, seconds(to.after))
	case errors.As(err, &nas):
		line := tr(lang, msgNotAStream, tr(lang, nas.what), nas.excerpt)
		if nas.hint {
			line += " (" + tr(lang, msgHintBaseURL) + ")"
		}
		return line
	case errors.As(err, &apiErr):
		return apiLine(lang, apiErr)
	case errors.As(err, &streamE):
		return streamLine(lang, streamE)
	case errors.As(err, &sdkE):
		return streamLine(lang, parseStreamError(sdkE.Event.Data))
	case errors.As(err, &fileE):
		return fileE.Error()
	case errors.As(err, &jsonSyn):
		return tr(lang, msgNotAStream, tr(lang, msgNotJSON), excerpt(err.Error(), 80))
	case errors.Is(err, context.Canceled):
		return tr(lang, msgInterrupted)
	case errors.Is(err, context.DeadlineExceeded):
		return tr(lang, msgTimedOut)
	case errors.As(err, &dnsErr):
		return tr(lang, msgUnknownHost, dnsErr.Name)
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostname):
		var ue *url.Error
		if errors.As(err, &ue) {
			return tr(lang, msgTLS, ue.Err.Error()) // without `Post "https://…":`
		}
		return tr(lang, msgTLS, err.Error())
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return tr(lang, msgProxyUnreachable, proxyOf(err), cause(lang, opErr.Err))
	case proxyRefused(err):
		var ue *url.Error
		errors.As(err, &ue)
		return tr(lang, msgProxyRefused, proxyOf(err), hostOf(ue.URL), excerpt(ue.Err.Error(), 80))
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		var ue *url.Error
		host := ""
		if errors.As(err, &ue) {
			host = hostOf(ue.URL)
		}
		return tr(lang, msgPlainHTTP, host)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return tr(lang, msgCannotReach, opErr.Addr.String(), cause(lang, opErr.Err))
	case errors.As(err, &opErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return tr(lang, msgConnLost, cause(lang, err))
	case errors.Is(err, fs.ErrNotExist):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return tr(lang, msgNoSuchFile, fsutil.Name(pe.Path))
		}
	}
	return err.Error()
}

// proxyOf names the proxy that the default transport uses for the request that failed with
// err ("" when there is none).
func proxyOf(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return ""
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ""
	}
	p, perr := proxyNow(&http.Request{URL: u})
	if perr != nil || p == nil {
		return ""
	}
	return p.Host
}

// proxyRefused reports an answer other than 200 to the transport's CONNECT: Go gives it as a
// bare error holding the proxy's status text ("Forbidden", "Proxy Authentication Required").
func proxyRefused(err error) bool {
	var ue *url.Error
	if !errors.As(err, &ue) || proxyOf(err) == "" || !strings.HasPrefix(ue.URL, "https://") {
		return false
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(ue.Err, &opErr), errors.As(ue.Err, &dnsErr), errors.Is(ue.Err, io.EOF),
		errors.Is(ue.Err, io.ErrUnexpectedEOF), errors.Is(ue.Err, context.Canceled),
		errors.Is(ue.Err, context.DeadlineExceeded), errors.Is(ue.Err, syscall.ECONNRESET):
		return false
	}
	return reflect.TypeOf(ue.Err) == reflect.TypeOf(errors.New(""))
}

// hostOf gives the host:port of a URL, or the URL itself.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// cause says in a few words why a reply broke.
func cause(lang string, err error) string {
	var to *timeoutError
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return tr(lang, msgCauseReset)
	case errors.Is(err, syscall.ECONNREFUSED):
		return tr(lang, msgCauseRefused)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, ErrDropped),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return tr(lang, msgCauseClosed)
	case errors.As(err, &to) && to.sentinel == ErrStalled:
		return tr(lang, msgCauseStalled, seconds(to.after))
	case errors.Is(err, ErrNotAStream), errors.Is(err, ErrNoResponse):
		return describe(lang, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		if opErr.Timeout() {
			return tr(lang, msgTimedOut)
		}
		return cause(lang, opErr.Err)
	}
	var se *StreamError
	if errors.As(err, &se) {
		return streamLine(lang, se)
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	return err.Error()
}

func apiLine(lang string, apiErr *APIError) string {
	status := fmt.Sprintf("%d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
	msg := strings.TrimSpace(apiErr.Message)
	if msg == "" {
		if raw := strings.TrimSpace(apiErr.RawJSON()); raw != "" && raw != "null" {
			msg = parseStreamError([]byte(raw)).Message
		}
	}
	if msg == "" && apiErr.Response != nil && apiErr.Response.Body != nil {
		// The SDK keeps the body of an error that is not OpenAI's JSON (a proxy's HTML page).
		body, _ := io.ReadAll(io.LimitReader(apiErr.Response.Body, 4096))
		apiErr.Response.Body = io.NopCloser(bytes.NewReader(body))
		if t := bytes.TrimSpace(body); bytes.HasPrefix(t, []byte("<")) {
			msg = htmlExcerpt(t)
		} else {
			msg = excerpt(string(t), 160)
		}
	}
	if msg != "" && apiErr.Response != nil && apiErr.Response.Header.Get(apiwire.RefusalHeader) != "" {
		// the class gateway's policy refused the request: its message is written for the student
		return excerpt(msg, 400)
	}
	if apiErr.Code != "" && !strings.Contains(msg, apiErr.Code) {
		status += " (" + apiErr.Code + ")"
	}
	if msg == "" || msg == status || msg == http.StatusText(apiErr.StatusCode) {
		return tr(lang, msgServerAnswered, status, "")
	}
	return tr(lang, msgServerAnswered, status, ": "+excerpt(msg, 400))
}

func streamLine(lang string, e *StreamError) string {
	if e.Code != "" {
		return tr(lang, msgServerStopped, " ("+e.Code+")", excerpt(e.Message, 400))
	}
	return tr(lang, msgServerStopped, "", excerpt(e.Message, 400))
}

func seconds(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d s", int((d+time.Second/2)/time.Second))
}

// hintError adds what to do next to an error a student can fix.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + " (" + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }

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
