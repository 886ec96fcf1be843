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
// (e.g. Latency then Status). A fault applies after the API key is checked: a request with a
// wrong key gets its 401 and leaves the queue alone.
//
// Every fault works on a real port ([NewServer]) and through [Handler.Transport] alike.
type Fault struct {
	// Path restricts the fault to requests for this URL path, such as "/v1/responses" or
	// "/v1/chat/completions". Empty matches any request.
	Path string
	// Times is how many matching requests the fault applies to: 0 means once, a negative value
	// means every request until [Handler.ClearFaults].
	Times int

	// Latency delays the response before its first byte (the client's context cancels the
	// wait).
	Latency time.Duration

	// Status, if non-zero, answers with this HTTP status and an OpenAI error body (Error,
	// defaults by status) instead of serving the request.
	Status int
	// RetryAfter, if positive, is sent with a Status fault as the retry-after-ms and
	// retry-after (whole seconds, rounded up) headers.
	RetryAfter time.Duration

	// DropAfterEvents, if positive, ends a streaming response after that many events with a
	// clean end of the connection mid-stream, without response.completed (or [DONE]): the
	// client reads io.ErrUnexpectedEOF.
	DropAfterEvents int
	// StreamError makes a streaming Responses request fail in-stream like the real API does:
	// response.created, response.in_progress, an "error" event carrying Error (default
	// insufficient_quota), then response.failed. A streaming Chat Completions request gets the
	// role chunk and then a data: {"error":{...}} chunk. A non-streaming request gets Error as
	// an HTTP 429 (insufficient_quota) or 500 body. A request failing so does not use up a
	// scripted reply.
	StreamError bool

	// Error is the error of a Status or StreamError fault. Empty fields get the real API's
	// values for the status (or for insufficient_quota); an empty Code is null.
	Error FaultError
}

// FaultError is an OpenAI error: {"message","type","param","code"}.
type FaultError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// quotaError is the error of an account without credit, as the real API sends it.
var quotaError = FaultError{
	Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
	Type:    "insufficient_quota",
	Code:    "insufficient_quota",
}

// RateLimitFault returns a 429 rate_limit_exceeded fault with a Retry-After.
func RateLimitFault(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// InsufficientQuotaFault returns the in-stream insufficient_quota failure recorded from the
// real API.
func InsufficientQuotaFault() Fault {
	return Fault{StreamError: true}
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
	for i, f := range h.faults {
		if f.Path != "" && strings.TrimSuffix(f.Path, "/") != path {
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

// before applies the effects that come before the reply: Latency, then a Status answer, or
// the HTTP error of a StreamError fault on a non-streaming generation request. It
// reports whether the request is still to be served.
func (f *Fault) before(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if f.Latency > 0 && !sleepCtx(r.Context(), f.Latency) {
		return false
	}
	switch {
	case f.Status != 0:
		if f.RetryAfter > 0 {
			ms := f.RetryAfter.Milliseconds()
			w.Header().Set("retry-after-ms", strconv.FormatInt(max(ms, 1), 10))
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set("retry-after", strconv.FormatInt(int64(secs), 10))
		}
		apiwire.WriteError(w, f.Status, statusError(f.Status, f.Error).api())
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
func statusError(status int, e FaultError) FaultError {
	var d FaultError
	switch {
	case status == http.StatusTooManyRequests:
		d = FaultError{
			Message: "Rate limit reached for requests. Limit: 3, Used: 3, Requested: 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
			Type:    "requests",
			Code:    "rate_limit_exceeded",
		}
	case status == http.StatusUnauthorized:
		d = FaultError{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: "invalid_api_key"}
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
		return quotaError
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
