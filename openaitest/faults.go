package openaitest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault describes a failure to inject into the next matching request(s).
// Faults are queued by [Handler.InjectFault] and consumed first in first out;
// several effects of one Fault combine (e.g. Latency then Status).
type Fault struct {
	// Path restricts the fault to requests for this URL path, such as
	// "/v1/responses" or "/v1/chat/completions". Empty matches any request.
	Path string
	// Times is how many matching requests the fault applies to: 0 means
	// once, a negative value means every request until [Handler.ClearFaults].
	Times int

	// Latency delays the response before its first byte (the client's
	// context cancels the wait).
	Latency time.Duration

	// Status, if non-zero, answers with this HTTP status and an OpenAI error
	// body (Error, defaults by status) instead of serving the request.
	Status int
	// RetryAfter, if positive, is sent with a Status fault as the
	// retry-after-ms and retry-after (whole seconds, rounded up) headers.
	RetryAfter time.Duration

	// DropAfterEvents, if positive, cuts a streaming response after that
	// many SSE events: the connection drops mid-stream, without
	// response.completed (or [DONE]).
	DropAfterEvents int

	// StreamError makes a streaming Responses request fail in-stream like
	// the real API does: response.created, response.in_progress, an "error"
	// event carrying Error (default insufficient_quota), then
	// response.failed. A streaming Chat Completions request gets the role
	// chunk and then a data: {"error":{...}} chunk. A non-streaming request
	// gets Error as an HTTP 429 (insufficient_quota) or 500 body.
	StreamError bool

	// Error is the error of a Status or StreamError fault. Empty fields get
	// the real API's values for the status (or for insufficient_quota).
	Error FaultError
}

// FaultError is an OpenAI error: {"message","type","param","code"}.
type FaultError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// RateLimitFault returns a 429 rate_limit_exceeded fault with a Retry-After.
func RateLimitFault(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// InsufficientQuotaFault returns the in-stream insufficient_quota failure
// recorded from the real API.
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

// takeFault returns (a copy of) the first queued fault matching r, if any,
// and counts it as used.
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

var quotaError = FaultError{
	Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
	Type:    "insufficient_quota",
	Code:    "insufficient_quota",
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
	if e.Message == "" && e.Type == "" && e.Code == "" && e.Param == "" {
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

func (e FaultError) api() apiError {
	return apiError{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code}
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

func (f *Fault) writeStatus(w http.ResponseWriter) {
	if f.RetryAfter > 0 {
		ms := f.RetryAfter.Milliseconds()
		w.Header().Set("retry-after-ms", strconv.FormatInt(max(ms, 1), 10))
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("retry-after", strconv.FormatInt(int64(secs), 10))
	}
	writeError(w, f.Status, statusError(f.Status, f.Error).api())
}

// writeNonStreamError answers a non-streaming request hit by a StreamError fault.
func (f *Fault) writeNonStreamError(w http.ResponseWriter) {
	e := f.streamError()
	status := http.StatusInternalServerError
	if e.Code == "insufficient_quota" {
		status = http.StatusTooManyRequests
	}
	writeError(w, status, e.api())
}
