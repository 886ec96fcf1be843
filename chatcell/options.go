package chatcell

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/gonbchat/gonbchat/history"
	"github.com/openai/openai-go/v3/option"
)

const (
	// DefaultModel is the textbook's model.
	DefaultModel = "gpt-4.1-nano"
	// DefaultInstructions is the textbook's instructions: "use Traditional Chinese".
	DefaultInstructions = "使用繁體中文"
	// DefaultName names a chat created without WithName.
	DefaultName = "default"
)

// An Option configures a chat. Pass options to New for the whole chat, or to a single call
// (Ask, Reply, Stream, Loop) for that call only, as the textbook passes **kwargs. Options that
// name or connect a chat (WithName, WithLastID, WithStateDir) only make sense in New.
type Option func(*config)

type config struct {
	name            string
	model           string
	instructions    string
	instructionsSet bool
	seed            string
	previousID      string
	store           *bool
	stream          bool
	params          map[string]any
	apiKey, baseURL string
	provider        *Provider
	offline         bool
	offlinePace     *time.Duration
	requestOpts     []option.RequestOption
	stateDirSet     bool
	stateDirPath    string
	quiet           bool
	stallTimeout    time.Duration
	input           io.Reader
	backend         Backend
	system          string
	histOpts        []history.Option
	summary         *[2]int
	err             error // a configuration error, reported by every action
}

func newConfig(opts []Option) *config {
	c := &config{name: DefaultName, model: DefaultModel, instructions: DefaultInstructions, stream: true,
		stallTimeout: 5 * time.Minute}
	for _, o := range opts {
		o(c)
	}
	return c.finish()
}

// finish settles what depends on several options.
func (c *config) finish() *config {
	if c.backend == nil {
		c.backend = ResponsesBackend{}
	}
	if c.system != "" && !c.instructionsSet {
		c.instructions = "" // the system message replaces the default instructions
	}
	return c
}

// with returns a copy of c with per-call options applied.
func (c *config) with(opts []Option) *config {
	if len(opts) == 0 {
		return c
	}
	cp := *c
	cp.params = maps.Clone(c.params)
	for _, o := range opts {
		o(&cp)
	}
	return cp.finish()
}

// stateDir is where the chat's kernel-scoped state lives: $GONB_TMP_DIR/.gonbchat inside a GoNB
// kernel, or "" (memory) elsewhere.
func (c *config) stateDir() string {
	if c.stateDirSet {
		return c.stateDirPath
	}
	if d := os.Getenv("GONB_TMP_DIR"); d != "" {
		return filepath.Join(d, ".gonbchat")
	}
	return ""
}

// WithName names the chat. Chats with different names in one notebook are independent; a chat
// declared again with the same name (as GoNB does in every cell) continues where it was.
func WithName(name string) Option {
	return func(c *config) {
		if !validName(name) {
			c.err = fmt.Errorf("chat name %q: use letters, digits, '-', '_' or '.' (at most 64)", name)
			return
		}
		c.name = name
	}
}

// WithModel sets the model (default DefaultModel).
func WithModel(model string) Option { return func(c *config) { c.model = model } }

// WithInstructions sets the instructions (system prompt; default DefaultInstructions). An empty
// string sends none.
func WithInstructions(s string) Option {
	return func(c *config) { c.instructions, c.instructionsSet = s, true }
}

// WithLastID starts a new chat from an existing response id, such as another chat's LastID,
// as the textbook's Chat(client, last_id=...) does. A chat that already exists in this kernel
// keeps its own thread; use SetLastID to move it.
func WithLastID(id string) Option { return func(c *config) { c.seed = id } }

// WithStore sets the Responses API's store flag (the server's default is true). With store=false
// the server keeps nothing, so the next turn cannot chain onto this one.
func WithStore(store bool) Option { return func(c *config) { c.store = &store } }

// WithStream chooses whether Ask shows the reply as it streams (default) or all at once when it
// is complete. The request itself is always streamed.
func WithStream(stream bool) Option { return func(c *config) { c.stream = stream } }

// WithParam passes any request parameter through as JSON, for example
// WithParam("temperature", 0.2) or WithParam("metadata", map[string]string{"lesson": "3"}).
func WithParam(key string, value any) Option {
	return func(c *config) {
		if c.params == nil {
			c.params = map[string]any{}
		}
		c.params[key] = value
	}
}

// WithTemperature sets the sampling temperature.
func WithTemperature(t float64) Option { return WithParam("temperature", t) }

// WithMaxOutputTokens caps the length of the reply.
func WithMaxOutputTokens(n int) Option { return WithParam("max_output_tokens", n) }

// WithAPIKey sets the API key instead of $OPENAI_API_KEY. The key is never saved or shown.
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// WithBaseURL points the chat at an OpenAI-compatible server (it usually ends in /v1), instead of
// $OPENAI_BASE_URL.
func WithBaseURL(url string) Option { return func(c *config) { c.baseURL = url } }

// WithProvider uses one of Providers by name ("groq", "gemini", "mistral", "together",
// "fireworks", "openai"): its base URL, its key's environment variable and its model.
func WithProvider(name string) Option {
	return func(c *config) {
		p, ok := Providers[name]
		if !ok {
			c.err = fmt.Errorf("unknown provider %q", name)
			return
		}
		c.provider = &p
		c.model = p.Model
	}
}

// WithOffline uses the offline mirror model even when a key is set.
func WithOffline() Option { return func(c *config) { c.offline = true } }

// WithOfflinePace sets the delay between the offline model's streamed pieces.
func WithOfflinePace(d time.Duration) Option { return func(c *config) { c.offlinePace = &d } }

// WithRequestOptions adds openai-go request options (headers, retries, a custom HTTP client…).
func WithRequestOptions(opts ...option.RequestOption) Option {
	return func(c *config) { c.requestOpts = append(c.requestOpts, opts...) }
}

// WithStateDir keeps the chat's state in dir instead of the kernel's directory ("" = memory).
func WithStateDir(dir string) Option {
	return func(c *config) { c.stateDirSet, c.stateDirPath = true, dir }
}

// WithQuiet stops notebook verbs from showing error lines and notices; they still return errors.
func WithQuiet() Option { return func(c *config) { c.quiet = true } }

// WithStallTimeout ends a reply with ErrStalled when the server sends nothing at all for d
// (default 5 minutes; 0 waits forever). Any event counts, so a model that is still thinking is
// not cut off. The SDK itself has no timeout.
func WithStallTimeout(d time.Duration) Option { return func(c *config) { c.stallTimeout = d } }

// WithInput makes Loop read lines from r instead of the notebook's input box or stdin.
func WithInput(r io.Reader) Option { return func(c *config) { c.input = r } }

// WithBackend chooses the API a ChatWithHistList talks to: ResponsesBackend (default) or
// completions.Backend for Chat Completions.
func WithBackend(b Backend) Option { return func(c *config) { c.backend = b } }

// WithSystem puts a system message at the head of a ChatWithHistList's history (lessons 001 and
// 003). Unless WithInstructions is also given, the default instructions are then not sent.
func WithSystem(prompt string) Option { return func(c *config) { c.system = prompt } }

// WithMaxCount caps a ChatWithHistList's history at n messages (openai2's MsgMaxCount). Trimming
// removes whole turns, oldest first, and keeps pinned messages.
func WithMaxCount(n int) Option {
	return func(c *config) { c.histOpts = append(c.histOpts, history.WithMaxCount(n)) }
}

// WithWindow keeps only the newest turns of a ChatWithHistList's history, and the system
// message (001's sliding window).
func WithWindow(turns int) Option { return WithTrim(history.SlidingWindow(turns)) }

// WithTrim adds trimming strategies to a ChatWithHistList, for example
// history.TokenBudget(2000, counter) with a counter from package history/tokens.
func WithTrim(s ...history.Strategy) Option {
	return func(c *config) { c.histOpts = append(c.histOpts, history.WithStrategy(s...)) }
}

// WithSummary makes a ChatWithHistList summarise its older turns through the model once it has
// more than after turns, keeping the newest keep turns (001's summarize_conversation). The
// summary is kept as one marked system message.
func WithSummary(after, keep int) Option { return func(c *config) { c.summary = &[2]int{after, keep} } }

func validName(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
