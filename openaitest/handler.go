package openaitest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MirrorModel is the name of the offline mirror model. The handler answers
// every model name with mirror behaviour (echoing the requested name in the
// response's model field); MirrorModel is the name it advertises in /v1/models.
const MirrorModel = "mirror"

// InProcessBaseURL is a base URL to use with [Handler.Transport]: the host is
// never resolved, requests are served in-process.
const InProcessBaseURL = "http://openaitest.invalid/v1"

// DefaultPace is the default delay between streamed deltas of the mirror model
// (about 50 tokens per second, like a small hosted model).
const DefaultPace = 20 * time.Millisecond

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 8 << 20

// Option configures a Handler (or a Server).
type Option func(*Handler)

// WithStoreDir keeps stored responses in dir, one JSON file per response,
// written atomically (temporary file, fsync, rename). Several Handlers, in
// the same or different processes, may share dir. The directory is created
// if needed. The default store is in memory.
func WithStoreDir(dir string) Option {
	return func(h *Handler) { h.store = &dirStore{dir: dir} }
}

// WithAPIKey makes the handler require "Authorization: Bearer <key>". Other
// requests get OpenAI's 401 invalid_api_key error (the key is never echoed
// in full). The default accepts any or no key.
func WithAPIKey(key string) Option {
	return func(h *Handler) { h.apiKey = key }
}

// WithPace sets the delay between streamed deltas of the mirror model and of
// scripted replies; 0 streams as fast as possible. Default [DefaultPace].
func WithPace(perDelta time.Duration) Option {
	return func(h *Handler) { h.pace = perDelta }
}

// WithScript queues exact replies, as [Handler.Script] does.
func WithScript(replies ...string) Option {
	return func(h *Handler) { h.script = append(h.script, replies...) }
}

// WithTokenCounter sets how tokens are counted for usage, max_output_tokens
// and max_tokens. The default is a fast estimate of o200k_base (the
// tokenizer of gpt-4o, gpt-4.1 and gpt-5; usually within 20% on English,
// Chinese and code) that needs no vocabulary, so that programs using the
// offline model do not link one. Pass an exact counter (for example one from
// github.com/tiktoken-go/tokenizer) when exact numbers matter.
func WithTokenCounter(count func(s string) int) Option {
	return func(h *Handler) { h.tokens = count }
}

// WithClock sets the clock used for created_at timestamps (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(h *Handler) { h.now = now }
}

// Handler is an http.Handler serving an OpenAI-compatible API under /v1/.
// It is safe for concurrent use.
type Handler struct {
	store  store
	apiKey string
	pace   time.Duration
	now    func() time.Time
	tokens func(string) int

	mu       sync.Mutex
	script   []string
	faults   []*Fault
	requests []RecordedRequest
}

// NewHandler returns a Handler configured by opts.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{pace: DefaultPace, now: time.Now, tokens: estimateTokens}
	for _, o := range opts {
		o(h)
	}
	if h.store == nil {
		h.store = newMemStore()
	}
	return h
}

// Script queues exact replies: the next generation requests (Responses or
// Chat Completions) answer these texts, first in first out; then the mirror
// model answers again.
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
	// Header holds the request headers; the Authorization value is masked.
	Header http.Header
	Body   []byte // raw body as received (JSON for POSTs)
}

// JSON decodes the body into a generic map (nil if it is not a JSON object).
func (r RecordedRequest) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// maxRecorded bounds the recorded requests of a long-lived handler: beyond
// it the older half is forgotten.
const maxRecorded = 10000

// Requests returns a copy of the requests received so far, oldest first
// (at most the last few thousand).
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

func (h *Handler) record(r *http.Request, body []byte) {
	hdr := r.Header.Clone()
	if a := hdr.Get("Authorization"); a != "" {
		scheme, key, ok := strings.Cut(a, " ")
		if !ok {
			scheme, key = "", a
		}
		hdr.Set("Authorization", strings.TrimSpace(scheme+" "+maskKey(key)))
	}
	if k := hdr.Get("Api-Key"); k != "" {
		hdr.Set("Api-Key", maskKey(k))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.requests) >= maxRecorded {
		h.requests = append(h.requests[:0], h.requests[len(h.requests)-maxRecorded/2:]...)
	}
	h.requests = append(h.requests, RecordedRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: hdr,
		Body: bytes.Clone(body),
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		if err != nil {
			writeError(w, http.StatusBadRequest, apiError{Message: "Could not read the request body.", Type: "invalid_request_error"})
			return
		}
	}
	h.record(r, body)

	w.Header().Set("x-request-id", "req_"+randHex(16))
	w.Header().Set("openai-version", "2020-10-01")

	if !h.authorized(w, r) {
		return
	}
	f := h.takeFault(r)
	if f != nil {
		if f.Latency > 0 && !sleepCtx(r.Context(), f.Latency) {
			return
		}
		if f.Status != 0 {
			f.writeStatus(w)
			return
		}
	}
	h.route(w, r, body, f)
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request, body []byte, f *Fault) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v1/responses":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		h.createResponse(w, r, body, f)
	case strings.HasPrefix(path, "/v1/responses/"):
		rest := strings.TrimPrefix(path, "/v1/responses/")
		id, sub, _ := strings.Cut(rest, "/")
		switch {
		case sub == "" && r.Method == http.MethodGet:
			h.getResponse(w, r, id)
		case sub == "" && r.Method == http.MethodDelete:
			h.deleteResponse(w, id)
		case sub == "input_items" && r.Method == http.MethodGet:
			h.listInputItems(w, r, id)
		case sub == "input_items" || sub == "":
			methodNotAllowed(w, r)
		default:
			notFoundURL(w, r)
		}
	case path == "/v1/chat/completions":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		h.createChatCompletion(w, r, body, f)
	case path == "/v1/models":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		h.listModels(w)
	case strings.HasPrefix(path, "/v1/models/"):
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		h.getModel(w, strings.TrimPrefix(path, "/v1/models/"))
	default:
		notFoundURL(w, r)
	}
}

func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.apiKey == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(auth, "Bearer ")
	got = strings.TrimSpace(got)
	if !ok || got == "" {
		writeError(w, http.StatusUnauthorized, apiError{
			Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
			Type:    "invalid_request_error",
		})
		return false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.apiKey)) == 1 {
		return true
	}
	writeError(w, http.StatusUnauthorized, apiError{
		Message: "Incorrect API key provided: " + maskKey(got) + ". You can find your API key at https://platform.openai.com/account/api-keys.",
		Type:    "invalid_request_error",
		Code:    "invalid_api_key",
	})
	return false
}

// maskKey shows at most a short prefix and suffix of a key, like the real
// API: "sk-ab***...***wxyz". Short keys are fully masked.
func maskKey(k string) string {
	if len(k) < 12 {
		return strings.Repeat("*", len(k))
	}
	pre := min(5, len(k)/4)
	suf := min(4, len(k)/4)
	return k[:pre] + strings.Repeat("*", len(k)-pre-suf) + k[len(k)-suf:]
}

// sleepCtx sleeps d or until ctx is done; it reports whether it slept fully.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
