package webchat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/persona"
)

// Model is what the page talks to. It holds the provider, the model name and the API key.
type Model interface {
	// Stream sends the whole conversation (persona start, earlier turns, the new user message
	// last) and yields text deltas. It must stop when ctx is done. An error ends the reply;
	// what was yielded before it is kept, marked as cut short.
	Stream(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error]
}

// ModelFunc adapts a function to Model.
type ModelFunc func(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error]

// Stream calls f.
func (f ModelFunc) Stream(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error] {
	return f(ctx, msgs)
}

// Limits bound what visitors can do. A zero field takes its default (DefaultLimits).
type Limits struct {
	// MaxMessageRunes is the longest message a visitor may send, in characters.
	MaxMessageRunes int
	// RequestsPerMinute is how many questions (sends and retries) one visitor may ask per
	// minute; more get "429 Too Many Requests" with a line saying when to try again.
	RequestsPerMinute int
	// MaxTurns is how many turns of a conversation are kept (and sent to the model): older
	// ones are dropped, oldest first. The greeting does not count. WithTrimming replaces it.
	MaxTurns int
	// MaxReplyRunes bounds a reply: a longer one is cut short.
	MaxReplyRunes int
	// MaxVisitors is how many conversations are kept, in memory and in the state directory;
	// past it the least recently used are dropped.
	MaxVisitors int
	// MaxStreams is how many replies may stream at once, all visitors together; more get
	// "503 Service Unavailable" with a line asking to try again.
	MaxStreams int
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageRunes:   2000,
		RequestsPerMinute: 12,
		MaxTurns:          40,
		MaxReplyRunes:     20000,
		MaxVisitors:       500,
		MaxStreams:        16,
	}
}

type config struct {
	stateDir       string
	shareToken     string
	limits         Limits
	trimming       []history.Strategy
	describe       func(error) string
	logger         *slog.Logger
	frameAncestors []string
	allowedHosts   []string
	lang           string
	addr           string        // Launch's address
	serveFor       time.Duration // how long Launch serves (0: until stopped)
}

// Option configures a Server.
type Option func(*config)

// WithStateDir keeps every visitor's conversation in dir (created 0700 if needed), so that it
// survives a restart of the server. Files are written atomically, one per visitor, named by a
// hash of the visitor's id; at most Limits.MaxVisitors are kept. Give each server its own dir.
func WithStateDir(dir string) Option { return func(c *config) { c.stateDir = dir } }

// WithShareToken allows listening beyond loopback ("share" mode): every visitor then needs
// the link with ?token=TOKEN (see Server.URL) once; the server keeps it in a cookie. The token
// must be at least 16 letters, digits, '-' or '_'; NewToken makes one.
func WithShareToken(token string) Option { return func(c *config) { c.shareToken = token } }

// WithLimits sets the per-visitor and server limits; zero fields keep their defaults.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithTrimming replaces the sliding window of Limits.MaxTurns by history strategies, for
// example history.TokenBudget. Strategies run on every change of a conversation
// (history.Summarize, which calls a model, does not run: it needs List.Trim). The greeting is
// pinned, so no strategy removes it.
func WithTrimming(s ...history.Strategy) Option {
	return func(c *config) { c.trimming = append([]history.Strategy(nil), s...) }
}

// WithDescribe sets how a model error becomes the one line shown in the bot's bubble (for
// example "The provider is down; try again in a minute."). Its result is redacted with the
// project's key detector all the same. The default is DescribeError.
func WithDescribe(f func(error) string) Option { return func(c *config) { c.describe = f } }

// WithLogger sets where the server logs (its URL, model errors, refused requests); nil
// discards. The default logs to standard error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// WithFrameAncestors allows pages of these origins (such as "http://localhost:8888", a
// Jupyter server) to show the chat in an iframe. By default only the chat's own origin may.
func WithFrameAncestors(origins ...string) Option {
	return func(c *config) { c.frameAncestors = append(c.frameAncestors, origins...) }
}

// WithAllowedHosts adds host names the server answers to when it is not shared (for example
// the name a reverse proxy uses). Without a share token, the server otherwise answers only to
// localhost names and IP addresses, so that a web page cannot reach it by DNS rebinding.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) { c.allowedHosts = append(c.allowedHosts, hosts...) }
}

// DescribeError is the default WithDescribe: the first line of err's message, keys redacted,
// at most 300 characters.
func DescribeError(err error) string {
	if err == nil {
		return ""
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	s = secret.Redact(s)
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	if s == "" {
		s = "the model failed without saying why"
	}
	return s
}

// NewToken returns a random share token (22 characters).
func NewToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Server serves one persona bot. It is an http.Handler; its methods are safe for concurrent
// use.
type Server struct {
	p     persona.Persona
	model Model
	cfg   config
	start []llm.Message
	log   *slog.Logger
	mux   *http.ServeMux
	page  *template.Template
	csp   string
	cop   *http.CrossOriginProtection
	post  http.Handler // mux behind the cross-origin check
	md    *markdown.Renderer
	lang  string  // the page's language: zh-TW, zh-CN or en
	tx    *uiText // the page's words in lang

	scriptText string // the lines of the page's script, as JSON

	// Test hooks.
	now           func() time.Time
	flushInterval time.Duration

	streams chan struct{} // semaphore of MaxStreams

	mu       sync.Mutex
	sessions map[string]*session // by id
	files    map[string]time.Time
	url      string
	serving  bool
}

//go:embed static
var staticFS embed.FS

// New makes a Server for persona p, answered by m.
func New(p persona.Persona, m Model, opts ...Option) (*Server, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("webchat: %w", err)
	}
	if m == nil {
		return nil, errors.New("webchat: no Model: give the model that answers (it holds the provider and the key)")
	}
	cfg := config{describe: DescribeError, logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	lang, err := resolveLanguage(cfg.lang)
	if err != nil {
		return nil, err
	}
	s := &Server{
		p: p, model: m, cfg: cfg, log: cfg.logger,
		now: time.Now, flushInterval: 50 * time.Millisecond,
		streams:  make(chan struct{}, cfg.limits.MaxStreams),
		sessions: map[string]*session{},
		files:    map[string]time.Time{},
		md:       markdown.New(markdown.WithMathML()), // no MathJax on the page: MathML, which browsers lay out natively
		cop:      http.NewCrossOriginProtection(),
		lang:     lang,
		tx:       uiTexts[lang],
	}
	if b, err := marshalJSON(s.tx.script()); err == nil {
		s.scriptText = string(b)
	}
	s.start = p.Start()
	for i := range s.start {
		if s.start[i].Role == llm.Assistant {
			s.start[i].Pinned = true // the greeting is never trimmed
		}
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusForbidden, "This request came from another site; it was refused.")
	}))
	s.csp = contentSecurityPolicy(cfg.frameAncestors)
	if s.page, err = parsePage(); err != nil {
		return nil, fmt.Errorf("webchat: %w", err)
	}
	if cfg.stateDir != "" {
		if err := s.scanStateDir(); err != nil {
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

func (c *config) fill() error {
	d := DefaultLimits()
	l := &c.limits
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMessageRunes", &l.MaxMessageRunes, d.MaxMessageRunes},
		{"RequestsPerMinute", &l.RequestsPerMinute, d.RequestsPerMinute},
		{"MaxTurns", &l.MaxTurns, d.MaxTurns},
		{"MaxReplyRunes", &l.MaxReplyRunes, d.MaxReplyRunes},
		{"MaxVisitors", &l.MaxVisitors, d.MaxVisitors},
		{"MaxStreams", &l.MaxStreams, d.MaxStreams},
	} {
		if *f.v < 0 {
			return fmt.Errorf("webchat: Limits.%s is %d; give a positive number, or 0 for the default (%d)", f.name, *f.v, f.def)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.shareToken != "" {
		if len(c.shareToken) < 16 || strings.IndexFunc(c.shareToken, func(r rune) bool {
			return !(r == '-' || r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
		}) >= 0 {
			return errors.New("webchat: the share token must be at least 16 letters, digits, '-' or '_' (webchat.NewToken makes one)")
		}
	}
	if c.describe == nil {
		c.describe = DescribeError
	}
	if c.serveFor < 0 {
		return fmt.Errorf("webchat: WithServeFor(%s): give a positive duration, or 0 to serve until stopped", c.serveFor)
	}
	for _, o := range c.frameAncestors {
		if strings.ContainsAny(o, " ;,'\"") || o == "" {
			return fmt.Errorf("webchat: frame ancestor %q is not an origin such as http://localhost:8888", o)
		}
	}
	if c.stateDir != "" {
		abs, err := filepath.Abs(c.stateDir)
		if err != nil {
			return fmt.Errorf("webchat: state directory %s: %w", c.stateDir, err)
		}
		c.stateDir = abs
	}
	return nil
}

func contentSecurityPolicy(frameAncestors []string) string {
	fa := "'self'"
	for _, o := range frameAncestors {
		fa += " " + o
	}
	// style-src-attr allows the inline colours of highlighted code (chroma's style="…"); the
	// renderer lets no HTML of the model's through, so styles come from chroma only.
	return "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
		"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors " + fa
}

// staticVersion tags the URLs of the embedded files, so that browsers may cache them.
var staticVersion = func() string {
	h := sha256.New()
	for _, name := range []string{"static/app.js", "static/app.css"} {
		b, _ := staticFS.ReadFile(name)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /static/{file}", s.handleStatic)
	mux.HandleFunc("GET /api/log", s.handleLog)
	mux.HandleFunc("POST /api/send", s.handleSend)
	mux.HandleFunc("POST /api/retry", s.handleRetry)
	mux.HandleFunc("POST /api/stop", s.handleStop)
	mux.HandleFunc("POST /api/undo", s.handleUndo)
	mux.HandleFunc("POST /api/clear", s.handleClear)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux = mux
	s.post = s.cop.Handler(mux)
}

// ServeHTTP serves the page and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if len(s.cfg.frameAncestors) == 0 {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	if !s.hostAllowed(r) {
		s.log.Warn("webchat: refused a request for an unknown host name", "host", r.Host)
		const line = "This chat answers on localhost only. To share it on the network, start it with a share token."
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
			failPage(w, http.StatusMisdirectedRequest, line)
		} else {
			s.fail(w, http.StatusMisdirectedRequest, line)
		}
		return
	}
	if !s.access(w, r) {
		return
	}
	if r.Method == http.MethodPost {
		s.post.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var ctype string
	switch name {
	case "app.js":
		ctype = "text/javascript; charset=utf-8"
	case "app.css":
		ctype = "text/css; charset=utf-8"
	default:
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.URL.Query().Get("v") == staticVersion {
		w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(b)
}

// URL returns the address of the page while the server listens ("" before and after): with
// the token in share mode, so that it can be handed to visitors as it is.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Start listens on addr and serves in the background until ctx ends; it returns the page's
// URL. An empty addr is "127.0.0.1:0": loopback, on a free port chosen by the system. An
// address beyond loopback (such as ":7860") needs WithShareToken.
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	ln, err := s.listen(addr)
	if err != nil {
		return "", err
	}
	ready := make(chan struct{})
	go func() {
		if err := s.serve(ctx, ln, ready); err != nil {
			s.log.Error("webchat: serving stopped", "err", err)
		}
	}()
	<-ready
	return s.URL(), nil
}

// ListenAndServe listens on addr (see Start) and serves until ctx ends, then shuts down
// gracefully: replies in progress are cut short and kept.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := s.listen(addr)
	if err != nil {
		return err
	}
	return s.serve(ctx, ln, nil)
}

// Serve serves on ln until ctx ends (see ListenAndServe). It refuses a listener beyond
// loopback without a share token.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.checkExposure(ln.Addr().String(), ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	return s.serve(ctx, ln, nil)
}

func (s *Server) listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("webchat: address %q: %w (want host:port, such as 127.0.0.1:7860)", addr, err)
	}
	if err := s.checkHost(addr, host); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webchat: %w", err)
	}
	if err := s.checkExposure(addr, ln.Addr()); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// checkHost refuses, before listening, an address beyond loopback without a token.
func (s *Server) checkHost(addr, host string) error {
	if s.cfg.shareToken != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return s.exposureError(addr)
}

func (s *Server) checkExposure(addr string, a net.Addr) error {
	if s.cfg.shareToken != "" {
		return nil
	}
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.IsLoopback() {
			return nil
		}
	case *net.UnixAddr:
		return nil // a socket file: this machine only
	}
	return s.exposureError(addr)
}

func (s *Server) exposureError(addr string) error {
	return fmt.Errorf("webchat: %q listens beyond this machine, which shares the chat (and the API key's budget) "+
		"with the network; listen on 127.0.0.1, or share it with WithShareToken(webchat.NewToken())", addr)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, ready chan<- struct{}) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		ln.Close()
		if ready != nil {
			close(ready)
		}
		return errors.New("webchat: the server is already serving; make another Server for another address")
	}
	s.serving = true
	s.url = s.pageURL(ln.Addr())
	url := s.url
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving, s.url = false, ""
		s.mu.Unlock()
	}()

	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	cancel := func() { cancelBase(errServerStopped) }
	defer cancel()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.shareToken != "" {
		s.log.Info("webchat: sharing "+s.p.Title+" with the network; anyone with this link can chat (the API key stays on this machine)", "url", url)
	} else {
		s.log.Info("webchat: serving "+s.p.Title, "url", url)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-base.Done():
			return
		}
		cancel() // replies in progress end now, cut short, and are kept
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	}()
	if ready != nil {
		close(ready)
	}
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		s.log.Info("webchat: stopped " + s.p.Title)
		return nil
	}
	cancel()
	<-stopped
	return err
}

// pageURL is the URL visitors use: the listener's address, a reachable address of this
// machine for one that listens on all interfaces, and the token in share mode.
func (s *Server) pageURL(a net.Addr) string {
	host, port := "127.0.0.1", ""
	if ta, ok := a.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
		switch {
		case ta.IP.IsUnspecified():
			host = outboundHost()
		default:
			host = ta.IP.String()
		}
	} else if h, p, err := net.SplitHostPort(a.String()); err == nil {
		host, port = h, p
	}
	u := "http://" + net.JoinHostPort(host, port) + "/"
	if s.cfg.shareToken != "" {
		u += "?token=" + s.cfg.shareToken
	}
	return u
}

// outboundHost returns an address other machines may reach this one at: the first
// non-loopback IPv4 address of an interface that is up, else the host name.
func outboundHost() string {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "127.0.0.1"
}

// fail answers with one readable line, as JSON {"error": line}.
func (s *Server) fail(w http.ResponseWriter, code int, line string) {
	writeJSON(w, code, map[string]string{"error": line})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b)
	io.WriteString(w, "\n")
}
