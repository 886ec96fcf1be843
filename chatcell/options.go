//go:build !gonbchat_kernel

package chatcell

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/openai/openai-go/v3/option"
)

const (
	// DefaultModel is the textbook's model.
	DefaultModel = "gpt-4.1-nano"
	// DefaultInstructions is the textbook's instructions: "use Traditional Chinese". They are
	// sent in the Responses API's instructions field (Chat, Create, and a ChatWithHistList on the
	// Responses API whose history has no system message), never as a message of a list.
	DefaultInstructions = "使用繁體中文"
	// DefaultName names a chat created without WithName.
	DefaultName = "default"
	// DefaultStartTimeout bounds the wait for the server's first answer (see WithStartTimeout).
	DefaultStartTimeout = 60 * time.Second
	// DefaultStallTimeout bounds the silence inside a reply (see WithStallTimeout).
	DefaultStallTimeout = 5 * time.Minute
)

// Where an option can be given. Every option's type says where it works, and the compiler
// refuses it anywhere else:
//
//	option type      New   NewHistList   one call (Ask, Reply, Stream, Go, Loop)   Create, ShowEvents, Loop()   NewGroupChat
//	Option            ✓        ✓             ✓                                          ✓                           ✓
//	ConnOption        ✓        ✓                                                        ✓                           ✓
//	NameOption        ✓        ✓                                                                                    ✓
//	ThreadOption      ✓                                                                 ✓
//	ListOption                 ✓
//	MessagesOption             ✓                                                        ✓                           ✓
//
// A value an option cannot take (a bad name, an unknown provider, a negative cap) is an error
// at New, NewHistList or Create: it is shown once, and the chat returns it from every verb.
type (
	// ChatOption configures New.
	ChatOption interface{ forNew(*config) }
	// HistOption configures NewHistList.
	HistOption interface{ forNewHistList(*config) }
	// CallOption configures one call: Ask, Reply, Stream, Go or a chat's Loop.
	CallOption interface{ forOneCall(*config) }
	// CreateOption configures Create, CreateContext, ShowEvents and the package's Loop.
	CreateOption interface{ forCreate(*config) }
)

// Option works everywhere: on a chat (New, NewHistList) for all its turns, on one call for that
// call only (as the textbook passes **kwargs), and on Create.
type Option struct{ set func(*config) }

func (o Option) forNew(c *config)         { o.set(c) }
func (o Option) forNewHistList(c *config) { o.set(c) }
func (o Option) forOneCall(c *config)     { o.set(c) }
func (o Option) forCreate(c *config)      { o.set(c) }

// ConnOption says how a chat reaches its model: given to New, NewHistList or Create, not to one
// call (a chat keeps one connection; ResetAPIKey changes its key).
type ConnOption struct{ set func(*config) }

func (o ConnOption) forNew(c *config)         { o.set(c) }
func (o ConnOption) forNewHistList(c *config) { o.set(c) }
func (o ConnOption) forCreate(c *config)      { o.set(c) }

// NameOption names a chat and says where its state lives: given to New or NewHistList.
type NameOption struct{ set func(*config) }

func (o NameOption) forNew(c *config)         { o.set(c) }
func (o NameOption) forNewHistList(c *config) { o.set(c) }

// ThreadOption chains onto a stored response (previous_response_id): given to New or Create.
// A ChatWithHistList sends its own history instead.
type ThreadOption struct{ set func(*config) }

func (o ThreadOption) forNew(c *config)    { o.set(c) }
func (o ThreadOption) forCreate(c *config) { o.set(c) }

// ListOption shapes a history we keep (caps, windows, trimming, summaries): given to
// NewHistList.
type ListOption struct{ set func(*config) }

func (o ListOption) forNewHistList(c *config) { o.set(c) }

// MessagesOption shapes the message list of a request (a system message, the API that takes
// it): given to NewHistList or Create. A Chat's history is on the server: it takes
// WithInstructions instead.
type MessagesOption struct{ set func(*config) }

func (o MessagesOption) forNewHistList(c *config) { o.set(c) }
func (o MessagesOption) forCreate(c *config)      { o.set(c) }

type config struct {
	name            string
	stateDirSet     bool
	stateDirPath    string
	model           string
	modelSet        bool
	instructions    string
	instructionsSet bool
	seed            string // WithLastID / WithPreviousResponseID
	store           *bool
	stream          bool
	params          map[string]any
	apiKey, baseURL string
	provider        *Provider
	offline         bool
	offlinePace     *time.Duration
	requestOpts     []option.RequestOption
	pool            *keypool.Pool
	input           io.Reader // Loop reads from it instead of the notebook or stdin (tests)
	quiet           bool
	stallTimeout    time.Duration
	startTimeout    time.Duration
	lang            string
	backend         Backend
	system          string
	systemSet       bool
	histOpts        []history.Option
	summary         *[2]int
	start           []llm.Message // WithPersona: the messages a conversation starts with
	errs            []error       // values the options could not take
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func defaults() *config {
	return &config{name: DefaultName, model: DefaultModel, stream: true,
		stallTimeout: DefaultStallTimeout, startTimeout: DefaultStartTimeout, lang: envLanguage()}
}

// clone returns a copy of c that per-call options may change.
func (c *config) clone() *config {
	cp := *c
	cp.params = maps.Clone(c.params)
	cp.errs = nil
	return &cp
}

// err joins what the options could not take into one error ("" when all is well).
func (c *config) err() error {
	switch len(c.errs) {
	case 0:
		return nil
	case 1:
		return c.errs[0]
	}
	var parts []string
	for _, e := range c.errs {
		parts = append(parts, e.Error())
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// stateDir is where the chat's kernel-scoped state lives: $GONB_TMP_DIR/.gonbchat inside a GoNB
// kernel, or "" (memory) elsewhere.
func (c *config) stateDir() string {
	if c.stateDirSet {
		return c.stateDirPath
	}
	return kernelenv.StateDir()
}

// instructionsFor decides the instructions of a request: what WithInstructions gave, else the
// default instructions when the request goes to the Responses API and carries no system
// message of its own, else none. The default never becomes a message of a list.
func (c *config) instructionsFor(hasSystem bool) string {
	switch {
	case c.instructionsSet:
		return c.instructions
	case hasSystem || !isResponses(c.backend):
		return ""
	}
	return DefaultInstructions
}

// WithName names the chat: letters and digits of any script, '_', '-' and '.', at most 64
// characters ("ch3", "async甲", "小明的聊天"). Chats with different names in one notebook are
// independent; a chat declared again with the same name (as GoNB does in every cell) continues
// where it was.
func WithName(name string) NameOption {
	return NameOption{func(c *config) {
		if err := validName(name); err != nil {
			c.fail("%v", err)
			return
		}
		c.name = name
	}}
}

// WithStateDir keeps the chat's state in dir instead of the kernel's directory ("" = memory).
func WithStateDir(dir string) NameOption {
	return NameOption{func(c *config) { c.stateDirSet, c.stateDirPath = true, dir }}
}

// WithModel sets the model (default DefaultModel, or the provider's).
func WithModel(model string) Option {
	return Option{func(c *config) {
		if strings.TrimSpace(model) == "" {
			c.fail("WithModel: the model name is empty")
			return
		}
		c.model, c.modelSet = model, true
	}}
}

// WithInstructions sets the instructions (the Responses API's system prompt; on Chat
// Completions a leading system message). An empty string sends none. Without it, Chat and
// Create send DefaultInstructions.
func WithInstructions(s string) Option {
	return Option{func(c *config) { c.instructions, c.instructionsSet = s, true }}
}

// WithStore sets the store flag (the Responses API's default is true; a ChatWithHistList sends
// false unless told otherwise). With store=false the server keeps nothing, so the next turn
// cannot chain onto this one.
func WithStore(store bool) Option { return Option{func(c *config) { c.store = &store }} }

// WithStream chooses whether Ask shows the reply as it streams (default) or all at once when it
// is complete. The request itself is always streamed.
func WithStream(stream bool) Option { return Option{func(c *config) { c.stream = stream }} }

// WithParam passes any request parameter through as JSON, for example
// WithParam("top_p", 0.9) or WithParam("metadata", map[string]string{"lesson": "3"}).
func WithParam(key string, value any) Option {
	return Option{func(c *config) {
		if key == "" {
			c.fail("WithParam: the parameter name is empty")
			return
		}
		if c.params == nil {
			c.params = map[string]any{}
		}
		c.params[key] = value
	}}
}

// WithTemperature sets the sampling temperature (0 to 2).
func WithTemperature(t float64) Option {
	return Option{func(c *config) {
		if t < 0 || t > 2 {
			c.fail("WithTemperature(%g): the temperature goes from 0 to 2", t)
			return
		}
		WithParam("temperature", t).set(c)
	}}
}

// WithMaxOutputTokens caps the length of the reply (max_tokens on Chat Completions).
func WithMaxOutputTokens(n int) Option {
	return Option{func(c *config) {
		if n < 1 {
			c.fail("WithMaxOutputTokens(%d): give at least 1", n)
			return
		}
		WithParam("max_output_tokens", n).set(c)
	}}
}

// WithQuiet stops notebook verbs from showing error lines and notices; they still return errors.
func WithQuiet() Option { return Option{func(c *config) { c.quiet = true }} }

// WithStartTimeout bounds the wait for the server's response and its first event (default
// DefaultStartTimeout); past it the reply ends with ErrNoResponse. A reasoning model on Chat
// Completions may think before its first event: give it more. 0 waits forever.
func WithStartTimeout(d time.Duration) Option {
	return Option{func(c *config) { c.startTimeout = max(d, 0) }}
}

// WithStallTimeout ends a reply with ErrStalled when the server, once it started, sends nothing
// at all for d (default DefaultStallTimeout; 0 waits forever). Any event counts, so a model that
// is still thinking is not cut off.
func WithStallTimeout(d time.Duration) Option {
	return Option{func(c *config) { c.stallTimeout = max(d, 0) }}
}

// WithLanguage sets the language of what gonbchat itself shows (usage lines, notices, errors):
// "zh-TW", "zh-CN" or "en" (the default, or $GONBCHAT_LANG).
func WithLanguage(lang string) Option {
	return Option{func(c *config) {
		l, ok := language(lang)
		if !ok {
			c.fail("WithLanguage(%q): use %s", lang, strings.Join(languages(), ", "))
			return
		}
		c.lang = l
	}}
}

// WithAPIKey sets the API key instead of the environment's ($OPENAI_API_KEY, or the provider's
// variable). The key is only sent to the chat's server, and never saved or shown.
func WithAPIKey(key string) ConnOption {
	return ConnOption{func(c *config) {
		if strings.TrimSpace(key) == "" {
			c.fail("WithAPIKey: the key is empty")
			return
		}
		c.apiKey, c.pool = strings.TrimSpace(key), nil // the last of WithAPIKey and WithKeyPool wins
	}}
}

// KeyPool is a pool of API keys made by keypool.New. (In kernel mode, where package keypool
// is not linked unless the cell imports it, it is an interface that *keypool.Pool satisfies.)
type KeyPool = *keypool.Pool

// WithKeyPool gives every request the next usable key of p (openai2's AKPool): keys rotate,
// a rate-limited key cools down while the request goes on with another, a rejected one is
// taken out. The pool's keys go where WithAPIKey's would (the chat's server, or the provider's).
func WithKeyPool(p KeyPool) ConnOption {
	return ConnOption{func(c *config) {
		if p == nil || p.Len() == 0 {
			c.fail("WithKeyPool: the pool is empty")
			return
		}
		c.pool, c.apiKey = p, "" // the last of WithAPIKey and WithKeyPool wins
	}}
}

// WithBaseURL points the chat at an OpenAI-compatible server (it usually ends in /v1), instead of
// $OPENAI_BASE_URL or the provider's.
func WithBaseURL(url string) ConnOption {
	return ConnOption{func(c *config) {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			c.fail("WithBaseURL(%q): give a URL starting with http:// or https://", url)
			return
		}
		c.baseURL = url
	}}
}

// WithProvider uses one of Providers by name ("groq", "gemini", "mistral", "together",
// "fireworks", "openai"): its base URL, its model, and its own key variable (GROQ_API_KEY…)
// or WithAPIKey. Without its key the chat talks to the offline mirror model and says which
// variable to set; a key of another provider is never sent there.
func WithProvider(name string) ConnOption {
	return ConnOption{func(c *config) {
		p, ok := Providers[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			c.fail("unknown provider %q: use one of %s", name, strings.Join(providerNames(), ", "))
			return
		}
		c.provider = &p
	}}
}

// WithOffline uses the offline mirror model even when a key is set.
func WithOffline() ConnOption { return ConnOption{func(c *config) { c.offline = true }} }

// WithOfflinePace sets the delay between the offline model's streamed pieces.
func WithOfflinePace(d time.Duration) ConnOption {
	return ConnOption{func(c *config) { c.offlinePace = &d }}
}

// RequestOption is an openai-go request option (package option of github.com/openai/openai-go/v3).
// In a GoNB kernel installed with gonbchat's kernel mode (see internal/kernel) the chats run in the
// kernel's helper process, where such options cannot go: there it is any value, and
// WithRequestOptions is an error.
type RequestOption = option.RequestOption

// WithRequestOptions adds openai-go request options (headers, a custom HTTP client…). They
// work in-process only: in kernel mode they are an error (see RequestOption).
func WithRequestOptions(opts ...RequestOption) ConnOption {
	return ConnOption{func(c *config) { c.requestOpts = append(c.requestOpts, opts...) }}
}

// WithLastID starts a new chat from an existing response id, such as another chat's LastID, as
// the textbook's Chat(client, last_id=...) does. A chat that already exists in this kernel keeps
// its own thread (use SetLastID to move it). On Create it is WithPreviousResponseID.
func WithLastID(id string) ThreadOption {
	return ThreadOption{func(c *config) { c.seed = strings.TrimSpace(id) }}
}

// WithPreviousResponseID chains a Create onto an earlier response (the API's
// previous_response_id). On New it is WithLastID.
func WithPreviousResponseID(id string) ThreadOption { return WithLastID(id) }

// WithSystem puts a system message at the head of a ChatWithHistList's history, or of a
// Create's message list (lessons 001 and 003). A request with a system message gets no
// default instructions.
func WithSystem(prompt string) MessagesOption {
	return MessagesOption{func(c *config) { c.system, c.systemSet = prompt, true }}
}

// WithBackend chooses the API: ResponsesBackend (the default) or completions.Backend for Chat
// Completions. Providers that serve only Chat Completions get it by themselves.
func WithBackend(b Backend) MessagesOption {
	return MessagesOption{func(c *config) {
		if b == nil {
			c.fail("WithBackend(nil): give a backend, such as completions.Backend{}")
			return
		}
		c.backend = b
	}}
}

// WithMaxCount caps a ChatWithHistList's history at n messages (openai2's MsgMaxCount). Trimming
// removes whole turns, oldest first, and keeps pinned messages.
func WithMaxCount(n int) ListOption {
	return ListOption{func(c *config) {
		if n < 1 {
			c.fail("WithMaxCount(%d): give at least 1", n)
			return
		}
		c.histOpts = append(c.histOpts, history.WithMaxCount(n))
	}}
}

// WithWindow keeps only the newest turns of a ChatWithHistList's history, and the system
// message (001's sliding window).
func WithWindow(turns int) ListOption {
	return ListOption{func(c *config) {
		if turns < 1 {
			c.fail("WithWindow(%d): keep at least 1 turn", turns)
			return
		}
		c.histOpts = append(c.histOpts, history.WithStrategy(history.SlidingWindow(turns)))
	}}
}

// WithTrim adds trimming strategies to a ChatWithHistList, for example
// history.TokenBudget(2000, counter) with a counter from package history/tokens.
func WithTrim(s ...history.Strategy) ListOption {
	return ListOption{func(c *config) { c.histOpts = append(c.histOpts, history.WithStrategy(s...)) }}
}

// WithSummary makes a ChatWithHistList summarise its older turns through the model once it has
// more than after turns, keeping the newest keep turns (001's summarize_conversation). The
// summary is kept as one marked system message.
func WithSummary(after, keep int) ListOption {
	return ListOption{func(c *config) {
		if keep < 1 || after <= keep {
			c.fail("WithSummary(%d, %d): keep at least 1 turn, and fewer than after", after, keep)
			return
		}
		c.summary = &[2]int{after, keep}
	}}
}

// A Starter gives the messages a conversation starts with, such as a persona.Persona: its
// character as the system message and its description as the assistant's greeting (lesson 004).
type Starter interface{ Start() []llm.Message }

// WithPersona starts a ChatWithHistList's history with p's messages (lesson 004's
// messages = [system, assistant]): the system message, then the greeting, pinned so that
// trimming keeps it. Declaring the chat again in a later cell does not repeat the greeting;
// Reset brings the chat back to it.
func WithPersona(p Starter) ListOption {
	return ListOption{func(c *config) {
		if p == nil {
			c.fail("WithPersona(nil): give a persona")
			return
		}
		start := p.Start()
		for i, m := range start {
			if err := m.Validate(); err != nil {
				c.fail("WithPersona: message %d: %v", i, err)
				return
			}
		}
		c.start = start
	}}
}

// validName checks a chat name: it becomes a file name under the kernel's state directory, in
// a file-safe encoding (see stateName).
func validName(s string) error {
	ok := s != "" && s != "." && s != ".." && len([]rune(s)) <= 64
	for _, r := range s {
		ok = ok && (r == '-' || r == '_' || r == '.' || isLetterOrDigit(r))
	}
	if !ok {
		return fmt.Errorf("chat name %q: use letters or digits (any script), '-', '_' or '.', at most 64", s)
	}
	return nil
}
