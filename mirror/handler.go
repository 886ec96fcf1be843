package mirror

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/inprocess"
)

// Model is the name of the mirror model. The handler answers every model name with mirror
// behaviour (echoing the requested name in the response's model field); Model is the name it
// advertises in /v1/models.
const Model = "mirror"

// BaseURL is the base URL to use with [Handler.Transport]: the host is never resolved, requests
// are served in-process.
const BaseURL = "http://mirror.invalid/v1"

// DefaultPace is the default delay between streamed deltas (about 50 tokens per second, like a
// small hosted model).
const DefaultPace = 20 * time.Millisecond

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 8 << 20

// An Option configures a Handler.
type Option func(*Handler)

// WithStoreDir keeps stored responses in dir, one JSON file per response, written atomically
// (temporary file, fsync, rename). Several Handlers, in the same or different processes, may
// share dir: a chain begun by one notebook cell is continued by the next. The directory is
// created when needed. The default store is in memory.
func WithStoreDir(dir string) Option {
	return func(h *Handler) { h.store = &dirStore{dir: dir} }
}

// WithPace sets the delay between streamed deltas; 0 streams as fast as possible. Default
// [DefaultPace].
func WithPace(perDelta time.Duration) Option {
	return func(h *Handler) { h.pace = perDelta }
}

// WithTokenCounter sets how tokens are counted for usage, max_output_tokens and max_tokens. The
// default is a fast estimate of o200k_base (the tokenizer of gpt-4o, gpt-4.1 and gpt-5; usually
// within 20% on English, Chinese and code) that needs no vocabulary, so that programs using the
// mirror do not link one. Pass an exact counter (for example one from
// github.com/tiktoken-go/tokenizer) when exact numbers matter.
func WithTokenCounter(count func(s string) int) Option {
	return func(h *Handler) { h.tokens = count }
}

// WithLanguage sets the Chinese of the mirror's labels: "zh-CN" (or "zh-Hans", "zh-SG") for
// Simplified Chinese, anything else for Traditional Chinese (the default). The labels are
// bilingual, Chinese and English, in either case.
func WithLanguage(lang string) Option {
	return func(h *Handler) { h.simplified = simplifiedChinese(lang) }
}

// WithClock sets the clock of created_at timestamps (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(h *Handler) { h.now = now }
}

// Handler is an http.Handler serving the mirror model's OpenAI-compatible API under /v1/. It
// is safe for concurrent use.
type Handler struct {
	store  store
	pace   time.Duration
	now    func() time.Time
	tokens func(string) int

	simplified bool // labels in Simplified Chinese
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

// Transport returns an http.RoundTripper that serves every request with h in the same process:
// no listener, no network. Server-sent events reach the client as they are produced; closing
// the response body or cancelling the request's context stops the reply. The request's host
// is ignored (see [BaseURL]).
func (h *Handler) Transport() http.RoundTripper {
	return inprocess.Transport(h)
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
	apiwire.SetHeaders(w)

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v1/responses":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		h.createResponse(w, r, body)
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
		h.createChatCompletion(w, r, body)
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

// reply is the text a generation request is answered with: a reply set through
// apiwire.WithReply (openaitest's scripts) or else the mirror's answer.
func reply(r *http.Request, mirror func() string) string {
	if f := apiwire.Reply(r.Context()); f != nil {
		if text, ok := f(); ok {
			return text
		}
	}
	return mirror()
}
