package chatcell

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/mirror"
	"github.com/joho/godotenv"
	"github.com/openai/openai-go/v3/option"
)

// Source says where replies come from: a live server or the offline mirror model.
type Source string

const (
	Live    Source = "live"
	Offline Source = "offline"
)

// Provider is an OpenAI-compatible service: where it lives, which environment variable holds
// its key and a model to start with.
type Provider struct {
	Name    string
	BaseURL string
	KeyEnv  string
	Model   string
	// ChatOnly is set for providers that serve Chat Completions but not the Responses API.
	ChatOnly bool
}

// Providers are the services of the textbook's lesson 004. Pass one to WithProvider.
var Providers = map[string]Provider{
	"openai":    {Name: "openai", BaseURL: "https://api.openai.com/v1", KeyEnv: "OPENAI_API_KEY", Model: DefaultModel},
	"groq":      {Name: "groq", BaseURL: "https://api.groq.com/openai/v1", KeyEnv: "GROQ_API_KEY", Model: "llama-3.1-8b-instant", ChatOnly: true},
	"gemini":    {Name: "gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta/openai/", KeyEnv: "GEMINI_API_KEY", Model: "gemini-2.0-flash", ChatOnly: true},
	"mistral":   {Name: "mistral", BaseURL: "https://api.mistral.ai/v1", KeyEnv: "MISTRAL_API_KEY", Model: "ministral-8b-latest", ChatOnly: true},
	"together":  {Name: "together", BaseURL: "https://api.together.xyz/v1", KeyEnv: "TOGETHER_API_KEY", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", ChatOnly: true},
	"fireworks": {Name: "fireworks", BaseURL: "https://api.fireworks.ai/inference/v1", KeyEnv: "FIREWORKS_API_KEY", Model: "accounts/fireworks/models/llama-v3p1-8b-instruct", ChatOnly: true},
}

// conn is how a chat reaches its model. It never leaves the process: the key is not saved.
type conn struct {
	opts    []option.RequestOption
	source  Source
	baseURL string
	key     string // only to redact it from error text
}

var loadDotenv = sync.OnceFunc(func() {
	// A .env next to the notebook (the cell's working directory) may hold OPENAI_API_KEY. It fills
	// variables that are unset or empty, and never overrides one that has a value.
	vars, err := godotenv.Read()
	if err != nil {
		return
	}
	for k, v := range vars {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
})

// resolveConn decides, from the options and the environment, where the chat's requests go.
func resolveConn(cfg *config) *conn {
	loadDotenv()
	key, base := cfg.apiKey, cfg.baseURL
	if p := cfg.provider; p != nil {
		if key == "" {
			key = os.Getenv(p.KeyEnv)
		}
		if base == "" {
			base = p.BaseURL
		}
	}
	if key == "" && !cfg.offline {
		key = os.Getenv("OPENAI_API_KEY")
	}
	if base == "" && !cfg.offline {
		base = os.Getenv("OPENAI_BASE_URL")
	}
	if cfg.offline || (key == "" && (base == "" || cfg.provider != nil)) {
		return offlineConn(cfg)
	}
	c := &conn{source: Live, baseURL: base, key: key}
	if base != "" {
		c.opts = append(c.opts, option.WithBaseURL(base))
	}
	if key == "" {
		key = "none" // many local OpenAI-compatible servers accept any key
	}
	c.opts = append(c.opts, option.WithAPIKey(key))
	c.opts = append(c.opts, cfg.requestOpts...)
	return c
}

var offlineHandlers = struct {
	sync.Mutex
	m map[string]*mirror.Handler
}{m: map[string]*mirror.Handler{}}

// offlineConn serves the chat with the in-process mirror model. In a GoNB kernel its store is a
// directory under the kernel's state dir, so a chain started in one cell is found by the next.
func offlineConn(cfg *config) *conn {
	dir := ""
	if sd := cfg.stateDir(); sd != "" {
		dir = filepath.Join(sd, "offline-store")
	}
	offlineHandlers.Lock()
	h := offlineHandlers.m[dir]
	if h == nil {
		var opts []mirror.Option
		if dir != "" {
			opts = append(opts, mirror.WithStoreDir(dir))
		}
		if cfg.offlinePace != nil {
			opts = append(opts, mirror.WithPace(*cfg.offlinePace))
		}
		h = mirror.NewHandler(opts...)
		offlineHandlers.m[dir] = h
	}
	offlineHandlers.Unlock()
	noticeOffline(cfg)
	return &conn{
		source:  Offline,
		baseURL: mirror.BaseURL,
		opts: append([]option.RequestOption{
			option.WithBaseURL(mirror.BaseURL),
			option.WithAPIKey("offline"),
			option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
		}, cfg.requestOpts...),
	}
}

var noticeOnce sync.Once

// noticeOffline says once per kernel (once per process outside GoNB) that the offline model is
// in use and how to switch to a real one.
func noticeOffline(cfg *config) {
	noticeOnce.Do(func() {
		if sd := cfg.stateDir(); sd != "" {
			marker := filepath.Join(sd, "offline-notice-shown")
			if _, err := os.Stat(marker); err == nil {
				return
			}
			if os.MkdirAll(sd, 0o755) == nil {
				os.WriteFile(marker, nil, 0o644)
			}
		}
		if cfg.quiet {
			return
		}
		display.Info("Offline: no OPENAI_API_KEY, so replies come from the built-in \"mirror\" model, which shows what it received. " +
			"For a real model set OPENAI_API_KEY (in the environment or a .env file next to the notebook); " +
			"for another OpenAI-compatible server also set OPENAI_BASE_URL.")
	})
}

// redact removes anything that looks like an API key from s.
func (c *conn) redact(s string) string {
	if c != nil && len(c.key) >= 8 {
		s = strings.ReplaceAll(s, c.key, "[redacted key]")
	}
	return redactKeys(s)
}
