//go:build !gonbchat_kernel

package chatcell

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/registry"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/mirror"
	"github.com/gonbchat/gonbchat/replay"
	"github.com/joho/godotenv"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/net/http/httpproxy"
)

// Source says where replies come from: a live server or the offline mirror model.
type Source string

const (
	Live    Source = "live"
	Offline Source = "offline"
	// Replayed replies come from answers a real model gave once, recorded (GONBCHAT_RECORD)
	// and played back (GONBCHAT_REPLAY).
	Replayed Source = "replayed"
)

// Environment variables gonbchat reads besides the providers' keys.
const (
	// EnvGateway is the class gateway's base URL (ending in /v1), set for every student by
	// JupyterHub; the students' requests go there with their Hub token instead of a key.
	EnvGateway = "GONBCHAT_GATEWAY_URL"
	// EnvGatewayToken is the token for a gateway outside JupyterHub (a teacher issues them);
	// on a Hub, JUPYTERHUB_API_TOKEN is used.
	EnvGatewayToken = "GONBCHAT_GATEWAY_TOKEN"
	// EnvRecord names a directory where every live exchange is recorded, for replay.
	EnvRecord = "GONBCHAT_RECORD"
	// EnvReplay names a directory of recorded exchanges to play back instead of a live model;
	// anything not recorded is answered by the offline mirror model.
	EnvReplay = "GONBCHAT_REPLAY"
)

// OpenAIBaseURL is where requests go when only a key is set.
const OpenAIBaseURL = "https://api.openai.com/v1"

// Provider is an OpenAI-compatible service: where it lives, which environment variable holds
// its key and a model to start with.
type Provider struct {
	Name    string
	BaseURL string
	KeyEnv  string
	Model   string
	// ChatOnly is set for providers that serve Chat Completions but no stored responses: a Chat
	// (whose thread lives on the server) cannot use them, a ChatWithHistList or Create uses Chat
	// Completions there by itself.
	ChatOnly bool
}

// Providers are the services of the textbook's lesson 004, with current models (lesson 004's
// llama-3.2-3b-preview, gemini-1.5-flash and others have been retired since). Pass a name to
// WithProvider.
var Providers = map[string]Provider{
	"openai":    {Name: "openai", BaseURL: OpenAIBaseURL, KeyEnv: "OPENAI_API_KEY", Model: DefaultModel},
	"groq":      {Name: "groq", BaseURL: "https://api.groq.com/openai/v1", KeyEnv: "GROQ_API_KEY", Model: "llama-3.1-8b-instant", ChatOnly: true},
	"gemini":    {Name: "gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta/openai/", KeyEnv: "GEMINI_API_KEY", Model: "gemini-2.5-flash", ChatOnly: true},
	"mistral":   {Name: "mistral", BaseURL: "https://api.mistral.ai/v1", KeyEnv: "MISTRAL_API_KEY", Model: "ministral-8b-latest", ChatOnly: true},
	"together":  {Name: "together", BaseURL: "https://api.together.xyz/v1", KeyEnv: "TOGETHER_API_KEY", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", ChatOnly: true},
	"fireworks": {Name: "fireworks", BaseURL: "https://api.fireworks.ai/inference/v1", KeyEnv: "FIREWORKS_API_KEY", Model: "accounts/fireworks/models/llama-v3p1-8b-instruct", ChatOnly: true},
}

func providerNames() []string {
	var names []string
	for n := range Providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// conn is how a chat reaches its model. It never leaves the process: the key is not saved.
type conn struct {
	opts     []option.RequestOption
	source   Source
	baseURL  string
	provider string // the preset's name, "" for OpenAI or a base URL
	chatOnly bool
	// gatewayToken names the variable of the token a class gateway was given ("" otherwise).
	gatewayToken string
}

var loadDotenv = sync.OnceFunc(func() {
	// A .env next to the notebook (the cell's working directory) may hold OPENAI_API_KEY. It fills
	// variables that are unset or empty, and never overrides one that has a value.
	if vars, err := godotenv.Read(); err == nil {
		for k, v := range vars {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
	}
})

// registerEnvKeys hides every key the environment holds wherever text leaves the library. It
// runs for every connection, not once: in kernel mode one helper process serves every cell, and
// a key set with %env in a later cell must be hidden too (known values cost a map lookup).
func registerEnvKeys() {
	secret.RegisterEnv(os.Getenv, "OPENAI_API_KEY", EnvGatewayToken, "JUPYTERHUB_API_TOKEN")
	for _, p := range Providers {
		secret.Register(os.Getenv(p.KeyEnv))
	}
}

// resolveConn decides, from the options and the environment, where the chat's requests go and
// with which key. A key only ever goes to the host it belongs to: OPENAI_API_KEY to OpenAI (or
// OPENAI_BASE_URL), a provider's variable to that provider, WithAPIKey to the chat's server.
func resolveConn(cfg *config) *conn {
	loadDotenv()
	registerEnvKeys()
	secret.Register(cfg.apiKey)
	if cfg.err() != nil {
		return &conn{} // the chat reports its error at every verb and sends nothing
	}
	if cfg.offline {
		return offlineConn(cfg, "")
	}
	if dir := os.Getenv(EnvReplay); dir != "" {
		return replayConn(cfg, dir)
	}
	key, base, name, gatewayToken := cfg.apiKey, cfg.baseURL, "", ""
	if cfg.pool != nil {
		key = poolKey // the pool sets each request's key
	}
	if p := cfg.provider; p != nil {
		name = p.Name
		if key == "" {
			key = os.Getenv(p.KeyEnv)
		}
		if base == "" {
			base = p.BaseURL
		}
		if key == "" {
			return offlineConn(cfg, p.KeyEnv)
		}
	} else {
		if gw := os.Getenv(EnvGateway); gw != "" && key == "" && base == "" {
			// A class: the gateway holds the teacher's keys; the student's token names the student.
			base, key, gatewayToken = gw, os.Getenv(EnvGatewayToken), EnvGatewayToken
			if key == "" {
				key, gatewayToken = os.Getenv("JUPYTERHUB_API_TOKEN"), "JUPYTERHUB_API_TOKEN"
			}
		}
		if key == "" {
			key = os.Getenv("OPENAI_API_KEY")
		}
		if base == "" {
			base = os.Getenv("OPENAI_BASE_URL")
		}
		switch {
		case key == "" && base == "":
			return offlineConn(cfg, "OPENAI_API_KEY")
		case base == "":
			base = OpenAIBaseURL
		case key == "":
			key = "none" // a local OpenAI-compatible server (Ollama, vLLM…) that takes any key
		}
	}
	c := &conn{source: Live, baseURL: base, provider: name, chatOnly: cfg.provider != nil && cfg.provider.ChatOnly, gatewayToken: gatewayToken}
	c.opts = append(c.opts, option.WithBaseURL(base), option.WithAPIKey(key))
	if base == OpenAIBaseURL {
		if org := os.Getenv("OPENAI_ORG_ID"); org != "" {
			c.opts = append(c.opts, option.WithOrganization(org))
		}
		if proj := os.Getenv("OPENAI_PROJECT_ID"); proj != "" {
			c.opts = append(c.opts, option.WithProject(proj))
		}
	}
	rt := liveTransport
	if key == poolKey {
		rt = cfg.pool.Transport(liveTransport)
	}
	if dir := os.Getenv(EnvRecord); dir != "" {
		if rec, err := replay.NewRecorder(dir, rt); err == nil {
			rt = rec
		} else if !cfg.quiet {
			display.Error(EnvRecord + ": " + err.Error())
		}
	}
	c.opts = append(c.opts, option.WithHTTPClient(&http.Client{Transport: rt}))
	c.opts = append(c.opts, cfg.requestOpts...)
	return c
}

// liveTransport is http.DefaultTransport reading the proxy variables (HTTPS_PROXY, NO_PROXY…) at
// every request. http.ProxyFromEnvironment reads them once per process: in kernel mode one
// helper process serves every cell of a kernel, and a proxy set with %env after a first request
// was ignored until the kernel restarted (each cell is a new process without kernel mode).
var liveTransport http.RoundTripper = func() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.Proxy = proxyNow
	return t
}()

// proxyNow is the proxy for req by the environment as it is now.
func proxyNow(req *http.Request) (*url.URL, error) {
	return httpproxy.FromEnvironment().ProxyFunc()(req.URL)
}

// poolKey stands for "a key of the chat's pool" until the pool's transport sets the real one.
const poolKey = "key-from-pool"

// completions returns the Chat Completions backend if package chatcell/completions is linked.
func completions() Backend {
	b, _ := registry.Completions.(Backend)
	return b
}

// replayConn plays recorded answers back (GONBCHAT_REPLAY=dir); what was not recorded is
// answered by the offline mirror model, labelled as such.
func replayConn(cfg *config, dir string) *conn {
	off := offlineConn(cfg, "")
	var opts []replay.Option
	if sd := cfg.stateDir(); sd != "" {
		opts = append(opts, replay.WithStateDir(filepath.Join(sd, "replay")))
	}
	p, err := replay.NewPlayer(dir, offlineTransport(cfg), opts...)
	if err != nil {
		if !cfg.quiet {
			display.Error(EnvReplay + ": " + err.Error())
		}
		return off
	}
	c := &conn{source: Replayed, baseURL: mirror.BaseURL, provider: off.provider, chatOnly: off.chatOnly}
	c.opts = append([]option.RequestOption{
		option.WithBaseURL(mirror.BaseURL),
		option.WithAPIKey("replay"),
		option.WithHTTPClient(&http.Client{Transport: p}),
	}, cfg.requestOpts...)
	return c
}

var offlineHandlers = struct {
	sync.Mutex
	m map[string]*mirror.Handler
}{m: map[string]*mirror.Handler{}}

// offlineConn serves the chat with the in-process mirror model. In a GoNB kernel its store is a
// directory under the kernel's state dir, so a chain started in one cell is found by the next.
// missing names the key variable whose absence made the chat offline ("" for WithOffline).
func offlineConn(cfg *config, missing string) *conn {
	rt := offlineTransport(cfg)
	if missing != "" {
		noticeOffline(cfg, missing)
	}
	c := &conn{
		source:  Offline,
		baseURL: mirror.BaseURL,
		opts: append([]option.RequestOption{
			option.WithBaseURL(mirror.BaseURL),
			option.WithAPIKey("offline"),
			option.WithHTTPClient(&http.Client{Transport: rt}),
		}, cfg.requestOpts...),
	}
	if cfg.provider != nil {
		c.provider, c.chatOnly = cfg.provider.Name, cfg.provider.ChatOnly
	}
	return c
}

// offlineTransport is the mirror model's in-process transport for the chat's state directory.
func offlineTransport(cfg *config) http.RoundTripper {
	dir := ""
	if sd := cfg.stateDir(); sd != "" {
		dir = filepath.Join(sd, "offline-store")
	}
	key := dir + "\x00" + cfg.lang // the mirror's labels follow the chat's language
	if cfg.offlinePace != nil {
		key += "\x00" + cfg.offlinePace.String() // a handler per pace: the option must not be lost to a cached one
	}
	offlineHandlers.Lock()
	h := offlineHandlers.m[key]
	if h == nil {
		opts := []mirror.Option{mirror.WithLanguage(cfg.lang)}
		if dir != "" {
			opts = append(opts, mirror.WithStoreDir(dir))
		}
		if cfg.offlinePace != nil {
			opts = append(opts, mirror.WithPace(*cfg.offlinePace))
		}
		h = mirror.NewHandler(opts...)
		offlineHandlers.m[key] = h
	}
	offlineHandlers.Unlock()
	return h.Transport()
}

var noticed sync.Map

// noticeOffline says once per kernel (once per process outside GoNB), for each missing key
// variable, that the offline model is in use and what to set for a real one.
func noticeOffline(cfg *config, missing string) {
	if _, dup := noticed.LoadOrStore(missing, true); dup {
		return
	}
	if sd := cfg.stateDir(); sd != "" {
		sum := sha256.Sum256([]byte(missing))
		marker := filepath.Join(sd, "notices", "offline-"+hex.EncodeToString(sum[:6]))
		if _, err := os.Stat(marker); err == nil {
			return
		}
		if os.MkdirAll(filepath.Dir(marker), 0o755) == nil {
			os.WriteFile(marker, nil, 0o644)
		}
	}
	if cfg.quiet {
		return
	}
	where := tr(cfg.lang, msgEnvWhereTerminal)
	if gonbio.IsNotebook() {
		where = tr(cfg.lang, msgEnvWhereNotebook)
	}
	display.Info(tr(cfg.lang, msgOffline, missing, where))
}
