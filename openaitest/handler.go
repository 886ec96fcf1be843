package openaitest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/inprocess"
	"github.com/gonbchat/gonbchat/mirror"
)

// MirrorModel is the name of the mirror model ([mirror.Model]).
const MirrorModel = mirror.Model

// InProcessBaseURL is a base URL to use with [Handler.Transport] ([mirror.BaseURL]): the host
// is never resolved, requests are served in-process.
const InProcessBaseURL = mirror.BaseURL

// DefaultPace is the default delay between streamed deltas ([mirror.DefaultPace]).
const DefaultPace = mirror.DefaultPace

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 8 << 20

// Option configures a Handler (or a Server).
type Option func(*Handler)

// WithStoreDir keeps stored responses in dir ([mirror.WithStoreDir]): one JSON file per
// response, written atomically, shared by every Handler (in any process) on dir.
func WithStoreDir(dir string) Option {
	return func(h *Handler) { h.mirrorOpts = append(h.mirrorOpts, mirror.WithStoreDir(dir)) }
}

// WithPace sets the delay between streamed deltas of the mirror model and of scripted replies
// ([mirror.WithPace]); 0 streams as fast as possible. Default [DefaultPace].
func WithPace(perDelta time.Duration) Option {
	return func(h *Handler) { h.mirrorOpts = append(h.mirrorOpts, mirror.WithPace(perDelta)) }
}

// WithTokenCounter sets how tokens are counted ([mirror.WithTokenCounter]).
func WithTokenCounter(count func(s string) int) Option {
	return func(h *Handler) { h.mirrorOpts = append(h.mirrorOpts, mirror.WithTokenCounter(count)) }
}

// WithClock sets the clock of created_at timestamps ([mirror.WithClock]).
func WithClock(now func() time.Time) Option {
	return func(h *Handler) { h.mirrorOpts = append(h.mirrorOpts, mirror.WithClock(now)) }
}

// WithAPIKey makes the handler accept only key; it is WithAPIKeys(key).
func WithAPIKey(key string) Option {
	return WithAPIKeys(key)
}

// WithAPIKeys makes the handler accept any of keys, in "Authorization: Bearer <key>" (or an
// Azure-style "Api-Key" header). A request without a key, or with another one, gets OpenAI's
// 401 (invalid_api_key for a wrong key, whose message shows only the key's first 8 and last 4
// characters, like the real API). Several calls add up. The default accepts any or no key.
func WithAPIKeys(keys ...string) Option {
	return func(h *Handler) {
		for _, k := range keys {
			if k != "" {
				h.keys = append(h.keys, k)
			}
		}
	}
}

// WithScript queues exact replies, as [Handler.Script] does.
func WithScript(replies ...string) Option {
	return func(h *Handler) { h.script = append(h.script, replies...) }
}

// Handler is an http.Handler serving an OpenAI-compatible API under /v1/: the mirror model
// ([mirror.Handler]) behind API keys, scripted replies, injected faults and a record of the
// requests. It also rejects unknown request parameters as the real API does (a typo in a client
// is a test failure, not a silently ignored field). It is safe for concurrent use.
type Handler struct {
	mirror     *mirror.Handler
	mirrorOpts []mirror.Option
	keys       []string

	mu       sync.Mutex
	script   []string
	faults   []*Fault
	requests []RecordedRequest
}

// NewHandler returns a Handler configured by opts.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{}
	for _, o := range opts {
		o(h)
	}
	h.mirror = mirror.NewHandler(h.mirrorOpts...)
	h.mirrorOpts = nil
	return h
}

// Transport returns an http.RoundTripper that serves every request with h in the same
// process: no listener, no network. Responses are streamed through a pipe, so server-sent
// events reach the client as they are produced; closing the response body or cancelling the
// request's context stops the handler. The request's host is ignored (see [InProcessBaseURL]).
// Faults behave as on a port: a dropped stream ends with io.ErrUnexpectedEOF, a reset one with
// an error for which errors.Is(err, syscall.ECONNRESET) holds.
func (h *Handler) Transport() http.RoundTripper {
	return inprocess.Transport(h)
}

// Script queues exact replies: the next generation requests (Responses or Chat Completions)
// answer these texts, first in first out; then the mirror model answers again. A request that
// fails (validation, a Status fault, an in-stream error fault) does not use one up.
func (h *Handler) Script(replies ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.script = append(h.script, replies...)
}

func (h *Handler) nextScripted() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.script) == 0 {
		return "", false
	}
	s := h.script[0]
	h.script = h.script[1:]
	return s, true
}

// RecordedRequest is a request the handler received.
type RecordedRequest struct {
	Method string
	Path   string // URL path, e.g. /v1/responses
	Query  string // raw query, without '?'
	// Header holds the request headers; the Authorization and Api-Key values are masked.
	Header http.Header
	// Key is the API key the request carried (the Bearer token, or the Api-Key header), in
	// full, so that a test can tell which of its keys was used; "" if none.
	Key  string
	Body []byte // raw body as received (JSON for POSTs)
}

// JSON decodes the body into a generic map (nil if it is not a JSON object).
func (r RecordedRequest) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// maxRecorded bounds the recorded requests of a long-lived handler: beyond it the older half
// is forgotten.
const maxRecorded = 10000

// Requests returns a copy of the requests received so far, oldest first (at most the last few
// thousand).
func (h *Handler) Requests() []RecordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RecordedRequest, len(h.requests))
	copy(out, h.requests)
	return out
}

// ResetRequests forgets the recorded requests.
func (h *Handler) ResetRequests() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = nil
}

// requestKey is the API key r carries: the Bearer token, else the Api-Key header.
func requestKey(r *http.Request) string {
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(k)
	}
	return strings.TrimSpace(r.Header.Get("Api-Key"))
}

func (h *Handler) record(r *http.Request, body []byte) {
	hdr := r.Header.Clone()
	if a := hdr.Get("Authorization"); a != "" {
		scheme, key, ok := strings.Cut(a, " ")
		if !ok {
			scheme, key = "", a
		}
		hdr.Set("Authorization", strings.TrimSpace(scheme+" "+apiwire.MaskKey(key)))
	}
	if k := hdr.Get("Api-Key"); k != "" {
		hdr.Set("Api-Key", apiwire.MaskKey(k))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.requests) >= maxRecorded {
		h.requests = append(h.requests[:0], h.requests[len(h.requests)-maxRecorded/2:]...)
	}
	h.requests = append(h.requests, RecordedRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: hdr,
		Key: requestKey(r), Body: bytes.Clone(body),
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err != nil {
			apiwire.WriteError(w, http.StatusBadRequest, apiwire.Error{Message: "Could not read the request body.", Type: "invalid_request_error"})
			return
		}
	}
	h.record(r, body)
	apiwire.SetHeaders(w)

	if !h.authorized(w, r) {
		return
	}
	f := h.takeFault(r)
	if f != nil && !f.before(w, r, body) {
		return
	}
	if r.Method == http.MethodPost && unknownParam(w, r.URL.Path, body) {
		return
	}
	// The mirror reads the body again; scripted replies reach it through the context.
	mr := r.WithContext(apiwire.WithReply(r.Context(), func() (string, bool) {
		if f.failsInStream() { // a failing request does not use up a scripted reply
			return "", false
		}
		return h.nextScripted()
	}))
	mr.Body = io.NopCloser(bytes.NewReader(body))
	if f == nil {
		h.mirror.ServeHTTP(w, mr)
		return
	}
	fw := newFaultWriter(w, r, f)
	h.mirror.ServeHTTP(fw, mr)
	fw.end()
}

func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if len(h.keys) == 0 {
		return true
	}
	got := requestKey(r)
	ok := 0
	for _, k := range h.keys {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
	}
	if got != "" && ok == 1 {
		return true
	}
	apiwire.WriteError(w, http.StatusUnauthorized, unauthorized(got))
	return false
}

// unauthorized is the real API's 401 for a request carrying key (or none). It never shows a
// key in full.
func unauthorized(key string) apiwire.Error {
	if key == "" {
		return apiwire.Error{
			Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
			Type:    "invalid_request_error",
		}
	}
	return apiwire.Error{
		Message: "Incorrect API key provided: " + apiwire.MaskKey(key) + ". You can find your API key at https://platform.openai.com/account/api-keys.",
		Type:    "invalid_request_error",
		Code:    "invalid_api_key",
	}
}
