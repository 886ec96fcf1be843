package openaitest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// Fault describes a failure to inject into the next matching request(s). Faults are queued by
// [Handler.InjectFault] and consumed first in first out; several effects of one Fault combine
// (e.g. Latency then Status, or Stall then StreamError). A fault applies after the API key is
// checked: a request with an unknown key gets its 401 and leaves the queue alone.
//
// Every fault works on a real port ([NewServer]) and through [Handler.Transport] alike.
type Fault struct {
	// Path restricts the fault to requests for this URL path, such as "/v1/responses" or
	// "/v1/chat/completions". Empty matches any request.
	Path string
	// Key restricts the fault to requests carrying this API key (see [WithAPIKeys]), e.g. "429
	// to key A three times" or "401 to key B always". Empty matches any key.
	Key string
	// Times is how many matching requests the fault applies to: 0 means once, a negative value
	// means every request until [Handler.ClearFaults].
	Times int

	// Latency is a silent server: nothing, not even the response headers, for this long; then
	// the request is served (or answered by the fault's other effects). The client's context
	// cancels the wait.
	Latency time.Duration

	// Status, if non-zero, answers with this HTTP status and an OpenAI error body (Error,
	// defaults by status: 429 rate_limit_exceeded, 401 invalid_api_key naming the request's
	// key masked, 403 unsupported_country_region_territory, 5xx server_error) instead of
	// serving the request. With Error set to [InsufficientQuota] a 429 is the real answer of an
	// account without credit.
	Status int
	// RetryAfter, if positive, is sent with a Status fault as the retry-after-ms and
	// retry-after (whole seconds, rounded up) headers.
	RetryAfter time.Duration

	// Body, if non-empty, is the whole answer instead of serving the request: sent with Status
	// (default 200) and ContentType (default "text/html; charset=utf-8"). [CaptivePortalFault]
	// is a Wi-Fi login page answering 200 where an event stream was expected.
	Body        string
	ContentType string

	// Stall, if positive, is a server gone quiet after the response headers: before event
	// number AfterEvents of a stream (0: before the first event) nothing comes for this long.
	// A non-streaming reply stalls between its headers and its body. The client's context
	// cancels the wait (the reply then stops).
	Stall time.Duration
	// AfterEvents is how many events of a stream are sent before Stall, Malformed or
	// StreamError take effect. For StreamError, 0 means where the real API fails: after
	// response.created and response.in_progress (Responses) or after the role chunk (Chat
	// Completions).
	AfterEvents int

	// DropAfterEvents, if positive, ends a streaming response after that many events with a
	// clean end of the connection mid-stream, without response.completed (or [DONE]): the
	// client reads io.ErrUnexpectedEOF.
	DropAfterEvents int
	// ResetAfterEvents, if positive, resets the connection after that many events (the reply
	// had started: headers and some deltas arrived): a TCP RST on a port, and through
	// [Handler.Transport] a read error alike; errors.Is(err, syscall.ECONNRESET) holds.
	ResetAfterEvents int

	// Malformed, if set, replaces event number AfterEvents (0: the first) with a malformed one
	// and ends the stream there (the body ends cleanly, with no final event).
	Malformed Malformation

	// StreamError makes a streaming request fail in-stream after AfterEvents events, with
	// Error (default [InsufficientQuota]) in the shape ErrorShape. A streaming Chat
	// Completions request gets a data: {"error":{...}} chunk and the stream ends. A
	// non-streaming request gets Error as an HTTP 429 (insufficient_quota) or 500 body. A
	// request failing so does not use up a scripted reply.
	StreamError bool
	// ErrorShape is how a Responses stream carries a StreamError (Chat Completions streams
	// have one shape).
	ErrorShape ErrorShape

	// Error is the error of a Status or StreamError fault. Empty fields get the real API's
	// values for the status (or for insufficient_quota); an empty Code is null.
	Error FaultError
}

// Malformation is a broken server-sent event (see Fault.Malformed).
type Malformation int

const (
	// NotJSON is an event whose data: line is not JSON (a proxy's plain-text complaint).
	NotJSON Malformation = iota + 1
	// TruncatedJSON is an event whose JSON is cut in the middle (the event itself still ends
	// with its blank line, so the client parses it).
	TruncatedJSON
)

// ErrorShape is the shape of an in-stream error of the Responses API (see Fault.ErrorShape).
type ErrorShape int

const (
	// NestedError is the shape recorded from the real API: event: error with data
	// {"type":"error","error":{"message","type","param","code"},"sequence_number":N}, then
	// response.failed (status failed, error {code, message}). With an empty Error.Code the
	// nested code is null (as in a server_error, see [ServerError]).
	NestedError ErrorShape = iota
	// FlatError is the shape of the API reference's error event: event: error with data
	// {"type":"error","code":…,"message":…,"param":null,"sequence_number":N}; then the stream
	// ends, with no response.failed.
	FlatError
)

// FaultError is an OpenAI error: {"message","type","param","code"}.
type FaultError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// InsufficientQuota is the error of an account without credit, as the real API sends it (in
// an HTTP 429 body, or in-stream).
var InsufficientQuota = FaultError{
	Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
	Type:    "insufficient_quota",
	Code:    "insufficient_quota",
}

// ServerError is the real API's error for a failure on its side, whose code is null.
var ServerError = FaultError{
	Message: "An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists. Please include the request ID req_8b2d5a0c3f5e4e1f9a7c6b5d4e3f2a1b in your message.",
	Type:    "server_error",
}

// CaptivePortalPage is the page of a Wi-Fi network that wants a login first: what a client
// gets, with status 200, from any URL it asks for.
const CaptivePortalPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Guest Wi-Fi</title></head>
<body>
<h1>Welcome to Guest Wi-Fi</h1>
<p>Please accept the terms of use to connect to the Internet.</p>
<form method="post" action="/login"><label><input type="checkbox" name="accept"> I accept</label>
<button type="submit">Connect</button></form>
</body>
</html>
`

// RateLimitFault returns a 429 rate_limit_exceeded fault with a Retry-After.
func RateLimitFault(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// InsufficientQuotaFault returns the in-stream insufficient_quota failure recorded from the
// real API. (For the HTTP 429 use Fault{Status: 429, Error: InsufficientQuota}.)
func InsufficientQuotaFault() Fault {
	return Fault{StreamError: true}
}

// CaptivePortalFault returns a fault answering 200 with [CaptivePortalPage] (text/html)
// instead of the API's JSON or event stream.
func CaptivePortalFault() Fault {
	return Fault{Body: CaptivePortalPage}
}

// InjectFault queues f for the next matching request(s).
func (h *Handler) InjectFault(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, &f)
}

// ClearFaults removes every queued fault.
func (h *Handler) ClearFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = nil
}

// takeFault returns (a copy of) the first queued fault matching r, if any, and counts it as
// used.
func (h *Handler) takeFault(r *http.Request) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	path := strings.TrimSuffix(r.URL.Path, "/")
	key := requestKey(r)
	for i, f := range h.faults {
		if f.Path != "" && strings.TrimSuffix(f.Path, "/") != path {
			continue
		}
		if f.Key != "" && f.Key != key {
			continue
		}
		c := *f
		switch {
		case f.Times < 0:
		case f.Times <= 1:
			h.faults = append(h.faults[:i:i], h.faults[i+1:]...)
		default:
			f.Times--
		}
		return &c
	}
	return nil
}

// failsInStream reports whether f makes the request fail in-stream (nil-safe).
func (f *Fault) failsInStream() bool {
	return f != nil && f.StreamError
}

// before applies the effects that come before the reply: Latency, then a Body or Status
// answer, or the HTTP error of a StreamError fault on a non-streaming generation request. It
// reports whether the request is still to be served.
func (f *Fault) before(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if f.Latency > 0 && !apiwire.Sleep(r.Context(), f.Latency) {
		return false
	}
	switch {
	case f.Body != "":
		ct := f.ContentType
		if ct == "" {
			ct = "text/html; charset=utf-8"
		}
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return false
	case f.Status != 0:
		if f.RetryAfter > 0 {
			ms := f.RetryAfter.Milliseconds()
			w.Header().Set("retry-after-ms", strconv.FormatInt(max(ms, 1), 10))
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set("retry-after", strconv.FormatInt(int64(secs), 10))
		}
		apiwire.WriteError(w, f.Status, statusError(f.Status, f.Error, r).api())
		return false
	case f.StreamError && r.Method == http.MethodPost && isGeneration(r.URL.Path):
		var req struct {
			Stream *bool `json:"stream"`
		}
		if json.Unmarshal(body, &req) != nil || req.Stream != nil && *req.Stream {
			return true // the mirror answers a malformed body; a stream fails in-stream
		}
		e := f.streamError()
		status := http.StatusInternalServerError
		if e.Code == "insufficient_quota" {
			status = http.StatusTooManyRequests
		}
		apiwire.WriteError(w, status, e.api())
		return false
	}
	return true
}

func isGeneration(path string) bool {
	path = strings.TrimSuffix(path, "/")
	return path == "/v1/responses" || path == "/v1/chat/completions"
}

// statusError fills in the real API's error for status where e is empty.
func statusError(status int, e FaultError, r *http.Request) FaultError {
	var d FaultError
	switch {
	case status == http.StatusTooManyRequests && e.Code == InsufficientQuota.Code:
		d = InsufficientQuota
	case status == http.StatusTooManyRequests:
		d = FaultError{
			Message: "Rate limit reached for requests. Limit: 3, Used: 3, Requested: 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
			Type:    "requests",
			Code:    "rate_limit_exceeded",
		}
	case status == http.StatusUnauthorized:
		ue := unauthorized(requestKey(r))
		d = FaultError{Message: ue.Message, Type: ue.Type, Code: ue.Code}
	case status == http.StatusForbidden:
		d = FaultError{Message: "Country, region, or territory not supported", Type: "request_forbidden", Code: "unsupported_country_region_territory"}
	case status == http.StatusServiceUnavailable:
		d = FaultError{Message: "The engine is currently overloaded, please try again later.", Type: "server_error"}
	case status >= 500:
		d = FaultError{Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error"}
	default:
		d = FaultError{Message: http.StatusText(status), Type: "invalid_request_error"}
	}
	if e == (FaultError{}) {
		return d
	}
	if e.Message == "" {
		e.Message = d.Message
	}
	if e.Type == "" {
		e.Type = d.Type
	}
	return e
}

func (e FaultError) api() apiwire.Error {
	return apiwire.Error{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code}
}

// streamError is the error of a StreamError fault.
func (f *Fault) streamError() FaultError {
	if f.Error == (FaultError{}) {
		return InsufficientQuota
	}
	e := f.Error
	if e.Message == "" {
		e.Message = "The server had an error while processing your request. Sorry about that!"
	}
	if e.Type == "" {
		e.Type = "server_error"
	}
	return e
}
