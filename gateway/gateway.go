// Package gateway is the class gateway between students' notebooks and the model provider: an
// OpenAI-compatible server (Responses API, Chat Completions, models, the stored responses a
// chat reads and deletes) that forwards to the provider with the teacher's keys, after
// checking who the student is (a JupyterHub API token, or a token the teacher issued) and
// applying the class policy (package policy): allowed models and aliases, clamped output,
// forced store=false, a tutor instruction, budgets, the AI-off switch. Every request is a row
// in the ledger (package ledger). Streams pass through as they arrive; their usage is read on
// the way.
//
// Students never hold a provider key: their Authorization is not forwarded, the upstream
// transport (keypool's) sets the teacher's key, and every body and event sent back is passed
// through secret.Redact as a last line of defence. Only the endpoints above are forwarded:
// files, batches, fine-tuning and the rest of the provider's API are not reachable with the
// teacher's key.
package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/gateway/policy"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
)

// Config configures a Server.
type Config struct {
	// Upstream sends requests to the provider and sets the provider key on each one
	// (keypool's Pool.Transport). Required.
	Upstream http.RoundTripper
	// UpstreamURL is the provider's API base URL, e.g. https://api.openai.com/v1. Required.
	UpstreamURL string
	// Ledger records every request, the owners of stored responses and the issued tokens.
	// Required.
	Ledger *ledger.Ledger
	// Policy is the class policy (policy.NewWatcher over the teacher's file, or policy.Static).
	// Required.
	Policy *policy.Watcher
	// HubAPI is the JupyterHub API URL (JUPYTERHUB_API_URL, e.g. http://127.0.0.1:8081/hub/api).
	// With it, students authenticate with their JUPYTERHUB_API_TOKEN. Empty: issued tokens only.
	HubAPI string
	// HubClient talks to the Hub (default: a client with a 10 s timeout).
	HubClient *http.Client
	// HubCacheTTL is how long a Hub token's owner is remembered (default 1 minute).
	HubCacheTTL time.Duration
	// AdminToken protects the teacher's page under /admin/ (HTTP basic auth, any user name,
	// the token as password; or Authorization: Bearer). Empty: no teacher's page.
	AdminToken string
	// Prefix is a path prefix to strip, such as a Hub service's /services/gonbchat/
	// (JUPYTERHUB_SERVICE_PREFIX). Requests without it are served too.
	Prefix string
	// Logger gets one line per problem (never a token or key). Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the gateway. It is an http.Handler.
type Server struct {
	cfg      Config
	upstream *url.URL
	client   *http.Client
	auth     *authenticator
	budgets  budgets
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux

	mu       sync.Mutex
	draining bool
	inflight sync.WaitGroup
	hardCtx  context.Context
	hardStop context.CancelFunc
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Upstream == nil:
		return nil, errors.New("gateway: no upstream transport")
	case cfg.Ledger == nil:
		return nil, errors.New("gateway: no ledger")
	case cfg.Policy == nil:
		return nil, errors.New("gateway: no policy")
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.UpstreamURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway: upstream URL %q is not an http(s) URL", cfg.UpstreamURL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HubClient == nil {
		cfg.HubClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.HubCacheTTL <= 0 {
		cfg.HubCacheTTL = time.Minute
	}
	if cfg.Prefix != "" {
		cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
		if cfg.Prefix == "/" {
			cfg.Prefix = ""
		}
	}
	s := &Server{
		cfg:      cfg,
		upstream: u,
		// no client timeout: a stream lasts as long as the reply; cancellation comes from the
		// student's request and from Shutdown
		client: &http.Client{Transport: cfg.Upstream, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		auth: &authenticator{ledger: cfg.Ledger, hubAPI: cfg.HubAPI, client: cfg.HubClient, ttl: cfg.HubCacheTTL,
			now: cfg.Now, cache: map[string]hubEntry{}},
		log: cfg.Logger,
		now: cfg.Now,
	}
	s.hardCtx, s.hardStop = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/v1/", s.serveAPI)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("/admin/", s.serveAdmin)
	s.mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.cfg.Prefix+"/admin/", http.StatusFound)
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Prefix != "" {
		if p, ok := strings.CutPrefix(r.URL.Path, s.cfg.Prefix); ok && (p == "" || p[0] == '/') {
			r2 := r.Clone(r.Context())
			r2.URL.Path = p
			r2.URL.RawPath = ""
			if r2.URL.Path == "" {
				r2.URL.Path = "/"
			}
			r = r2
		}
	}
	s.mux.ServeHTTP(w, r)
}

// Shutdown stops taking model requests (they get a 503 "restarting" that the SDKs retry) and
// waits for those in flight to finish and be recorded. If ctx ends first, the replies still
// streaming are cut, recorded as interrupted, and Shutdown returns ctx's error once their rows
// are written. Either way no ledger row is lost. Call it alongside http.Server.Shutdown, then
// close the ledger.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.hardStop()
		<-done
		return ctx.Err()
	}
}

// enter registers a request in flight; false while shutting down.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.inflight.Add(1)
	return true
}

// maxBody bounds a request body (images sent inline make big ones).
const maxBody = 32 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if !s.enter() {
		writeError(w, errDraining())
		return
	}
	defer s.inflight.Done()
	ctx := r.Context()
	student, aerr := s.auth.student(ctx, r)
	if aerr != nil {
		if aerr.Status == http.StatusUnauthorized {
			s.log.Info("gateway: refused a request without a valid token", "path", path, "remote", r.RemoteAddr)
		}
		writeError(w, aerr)
		return
	}
	x := &exchange{s: s, w: w, r: r, student: student, start: s.now(), path: path}
	defer x.finish()

	switch {
	case path == "/v1/responses":
		if r.Method != http.MethodPost {
			x.fail(errMethod(r, path))
			return
		}
		x.endpoint = "responses"
		x.create()
	case path == "/v1/chat/completions":
		if r.Method != http.MethodPost {
			x.fail(errMethod(r, path))
			return
		}
		x.endpoint = "chat.completions"
		x.create()
	case strings.HasPrefix(path, "/v1/responses/"):
		id, sub, _ := strings.Cut(strings.TrimPrefix(path, "/v1/responses/"), "/")
		x.stored(id, sub)
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		if r.Method != http.MethodGet {
			x.fail(errMethod(r, path))
			return
		}
		x.endpoint = "models"
		x.models(strings.TrimPrefix(strings.TrimPrefix(path, "/v1/models"), "/"))
	default:
		x.endpoint = "other"
		x.fail(errInvalidURL(r, path))
	}
}

// exchange is one student request on its way through the gateway.
type exchange struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	student string
	start   time.Time
	path    string

	row     ledger.Row
	release func()
	// est is the usage charged when a reply is cut before its usage arrives.
	est      llm.Usage
	endpoint string
	stream   bool
	store    bool // the response will be stored (Responses API)
	// injectedUsage: the gateway asked for stream usage the student did not ask for, so the
	// usage-only chunk is not passed on.
	injectedUsage bool
	// chainTokens is what the previous response of a chain used (input and output), which
	// the provider reads again as input.
	chainTokens int64
}

func (x *exchange) fail(e *apiError) {
	x.row.Status = e.Status
	x.row.Detail = e.Message
	if x.row.Outcome == "" {
		x.row.Outcome = ledger.Refused
		if e.Status >= 500 {
			x.row.Outcome = ledger.UpstreamError
		}
	}
	writeError(x.w, e)
}

// finish writes the ledger row (even when the student went away or the gateway is shutting
// down), then releases the budget reservation.
func (x *exchange) finish() {
	r := &x.row
	r.Time = x.start
	r.Student = x.student
	r.Endpoint = x.endpoint
	r.Stream = x.stream
	r.Duration = x.s.now().Sub(x.start)
	if r.Outcome == "" {
		r.Outcome = ledger.OK
	}
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	if r.CostUSD == 0 && r.InputTokens+r.OutputTokens > 0 {
		r.CostUSD, _ = llm.Cost(r.Model, llm.Usage{InputTokens: r.InputTokens, OutputTokens: r.OutputTokens})
	}
	r.Detail = truncate(secret.Redact(r.Detail), 300)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.r.Context()), 30*time.Second)
	defer cancel()
	if err := x.s.cfg.Ledger.Record(ctx, *r); err != nil {
		x.s.log.Error("gateway: ledger row not written", "student", x.student, "err", err)
	}
	x.s.budgets.recorded(r.Student, r.Time, r.InputTokens+r.OutputTokens, r.CostUSD)
	if x.release != nil {
		x.release()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// create handles POST /v1/responses and /v1/chat/completions.
func (x *exchange) create() {
	p := x.s.cfg.Policy.Current()
	body, err := io.ReadAll(io.LimitReader(x.r.Body, maxBody+1))
	if err != nil {
		x.row.Outcome = ledger.Interrupted
		x.fail(&apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "Could not read the request body."})
		return
	}
	if len(body) > maxBody {
		x.fail(&apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
			Message: fmt.Sprintf("The request is larger than the class gateway accepts (%d MB).", maxBody>>20)})
		return
	}
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil || req == nil {
		x.fail(errBadJSON())
		return
	}
	chat := x.endpoint == "chat.completions"
	var requested string
	if raw, ok := req["model"]; ok && json.Unmarshal(raw, &requested) != nil {
		x.fail(&apiError{Status: 400, Type: "invalid_request_error", Param: "model", Code: "invalid_type",
			Message: "Invalid type for 'model': expected a string."})
		return
	}
	x.row.Model = requested
	if ref := p.CheckOn(); ref != nil {
		x.fail(fromRefusal(ref))
		return
	}
	model, ref := p.ResolveModel(requested)
	if ref != nil {
		x.fail(fromRefusal(ref))
		return
	}
	if model != "" {
		req["model"] = mustJSON(model)
		x.row.Model = model
	}
	if _, ok := req["conversation"]; ok && !chat {
		x.fail(&apiError{Status: 400, Type: "invalid_request_error", Param: "conversation", Code: "unsupported_parameter",
			Message: "Conversations are not available through the class gateway; chain responses with previous_response_id."})
		return
	}
	x.stream = jsonBool(req["stream"])

	// store
	switch p.Store {
	case "never":
		req["store"] = mustJSON(false)
	case "always":
		if !chat {
			req["store"] = mustJSON(true)
		}
	}
	x.store = !chat && jsonBoolDefault(req["store"], true)

	// a chain may only continue the student's own responses
	if !chat {
		if raw, ok := req["previous_response_id"]; ok && string(raw) != "null" {
			var prev string
			if json.Unmarshal(raw, &prev) != nil {
				x.fail(&apiError{Status: 400, Type: "invalid_request_error", Param: "previous_response_id", Code: "invalid_type",
					Message: "Invalid type for 'previous_response_id': expected a string."})
				return
			}
			if !x.owns(prev) {
				x.fail(errPreviousNotFound(prev))
				return
			}
			// the chain is input again: about what the previous response used in all
			if u, err := x.s.cfg.Ledger.ResponseUsage(x.r.Context(), prev); err == nil {
				x.chainTokens = u.Tokens
			}
		}
	}

	// one answer per request: n answers would each take the clamped output, n times the budget's
	// estimate and past its "exceeded by at most one request" promise
	if chat {
		if raw, ok := req["n"]; ok && string(raw) != "null" && jsonInt(raw) != 1 {
			x.fail(&apiError{Status: 400, Type: "invalid_request_error", Param: "n", Code: "unsupported_value",
				Message: "The class gateway gives one answer per request: leave out n, or set it to 1."})
			return
		}
	}

	// clamp the output
	maxOut := int64(0)
	if chat {
		for _, k := range []string{"max_completion_tokens", "max_tokens"} {
			if raw, ok := req[k]; ok {
				c := p.Clamp(jsonInt(raw))
				if c > 0 {
					req[k] = mustJSON(c)
				}
				maxOut = max(maxOut, c)
			}
		}
		if maxOut == 0 {
			if c := p.Clamp(0); c > 0 {
				req["max_completion_tokens"] = mustJSON(c)
				maxOut = c
			}
		}
	} else {
		if c := p.Clamp(jsonInt(req["max_output_tokens"])); c > 0 {
			req["max_output_tokens"] = mustJSON(c)
			maxOut = c
		}
	}

	// the tutor's instruction comes first
	if tutor := strings.TrimSpace(p.Tutor); tutor != "" {
		if chat {
			var msgs []json.RawMessage
			if json.Unmarshal(req["messages"], &msgs) == nil {
				sys := mustJSON(map[string]string{"role": "system", "content": tutor})
				req["messages"] = mustJSON(append([]json.RawMessage{sys}, msgs...))
			}
		} else {
			var own string
			_ = json.Unmarshal(req["instructions"], &own)
			if own != "" {
				tutor += "\n\n" + own
			}
			req["instructions"] = mustJSON(tutor)
		}
	}

	// usage for the ledger: ask for it in a Chat Completions stream
	if chat && x.stream {
		var so map[string]json.RawMessage
		_ = json.Unmarshal(req["stream_options"], &so)
		if !jsonBool(so["include_usage"]) {
			if so == nil {
				so = map[string]json.RawMessage{}
			}
			so["include_usage"] = mustJSON(true)
			req["stream_options"] = mustJSON(so)
			x.injectedUsage = true
		}
	}

	// the budget
	if maxOut == 0 {
		maxOut = 4096
	}
	x.est = llm.Usage{InputTokens: int64(len(body)/3+1) + x.chainTokens, OutputTokens: maxOut}
	estUSD, _ := llm.Cost(model, x.est)
	release, ref, err := x.s.budgets.admit(x.r.Context(), x.s.cfg.Ledger, p, x.student, x.s.now(),
		estimate{tokens: x.est.InputTokens + x.est.OutputTokens, usd: estUSD})
	if err != nil {
		x.s.log.Error("gateway: budget check failed", "err", err)
		x.fail(errInternal("its database could not be read"))
		return
	}
	if ref != nil {
		x.fail(fromRefusal(ref))
		return
	}
	x.release = release

	out, err := json.Marshal(req)
	if err != nil {
		x.fail(errInternal("the request could not be encoded"))
		return
	}
	x.forward(http.MethodPost, bytes.NewReader(out))
}

// owns reports whether the student created the stored response id through the gateway.
func (x *exchange) owns(id string) bool {
	owner, err := x.s.cfg.Ledger.Owner(x.r.Context(), id)
	if err != nil {
		x.s.log.Error("gateway: ledger read failed", "err", err)
		return false
	}
	return owner != "" && owner == x.student
}

// stored handles GET and DELETE /v1/responses/{id}, GET .../input_items and POST .../cancel:
// only the student who created a response may touch it; anyone else gets the 404 of a
// response that does not exist.
func (x *exchange) stored(id, sub string) {
	switch {
	case sub == "" && x.r.Method == http.MethodGet:
		x.endpoint = "responses.get"
	case sub == "" && x.r.Method == http.MethodDelete:
		x.endpoint = "responses.delete"
	case sub == "input_items" && x.r.Method == http.MethodGet:
		x.endpoint = "responses.input_items"
	case sub == "cancel" && x.r.Method == http.MethodPost:
		x.endpoint = "responses.cancel"
	case sub == "" || sub == "input_items" || sub == "cancel":
		x.endpoint = "responses"
		x.fail(errMethod(x.r, x.path))
		return
	default:
		x.endpoint = "other"
		x.fail(errInvalidURL(x.r, x.path))
		return
	}
	x.row.ResponseID = id
	if id == "" || !x.owns(id) {
		x.fail(errNotFoundResponse(id))
		return
	}
	x.forward(x.r.Method, nil)
	if x.endpoint == "responses.delete" && x.row.Status == http.StatusOK {
		if err := x.s.cfg.Ledger.Disown(context.WithoutCancel(x.r.Context()), id); err != nil {
			x.s.log.Error("gateway: ledger write failed", "err", err)
		}
	}
}

// models handles GET /v1/models and /v1/models/{id}: with a list of allowed models, the class
// sees those and the aliases; otherwise the provider's list.
func (x *exchange) models(id string) {
	p := x.s.cfg.Policy.Current()
	names := p.ModelNames()
	if len(names) == 0 {
		x.forward(http.MethodGet, nil)
		return
	}
	obj := func(n string) map[string]any {
		return map[string]any{"id": n, "object": "model", "created": 0, "owned_by": "class"}
	}
	w := x.w
	w.Header().Set("Content-Type", "application/json")
	if id == "" {
		data := make([]any, 0, len(names))
		for _, n := range names {
			data = append(data, obj(n))
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		return
	}
	for _, n := range names {
		if n == id {
			json.NewEncoder(w).Encode(obj(n))
			return
		}
	}
	x.fail(&apiError{Status: 404, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", id)})
}

// upstreamURL maps a gateway path (/v1/...) onto the provider's base URL.
func (s *Server) upstreamURL(path, rawQuery string) string {
	u := *s.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + strings.TrimPrefix(path, "/v1")
	u.RawPath = ""
	u.RawQuery = rawQuery
	return u.String()
}

// passHeaders are the provider's response headers a student gets; the rest (cookies, the
// organisation and project of the teacher's account, rate-limit details) stay here.
var passHeaders = []string{"Content-Type", "X-Request-Id", "Openai-Processing-Ms", "Openai-Version", "Retry-After", "X-Should-Retry"}

// forward sends the (rewritten) request upstream and passes the answer back.
func (x *exchange) forward(method string, body io.Reader) {
	ctx, cancel := context.WithCancel(x.r.Context())
	defer cancel()
	stop := context.AfterFunc(x.s.hardCtx, cancel)
	defer stop()

	req, err := http.NewRequestWithContext(ctx, method, x.s.upstreamURL(x.path, x.r.URL.RawQuery), body)
	if err != nil {
		x.fail(errInternal("the upstream request could not be made"))
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if x.stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "gonbchat-gateway")
	resp, err := x.s.client.Do(req)
	if err != nil {
		if x.r.Context().Err() != nil || x.s.hardCtx.Err() != nil {
			x.row.Outcome = ledger.Interrupted
			x.chargeEstimate()
			x.fail(errDraining())
			return
		}
		x.s.log.Warn("gateway: upstream unreachable", "err", secret.Redact(err.Error()))
		x.fail(&apiError{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_unreachable", Retry: true,
			Message: "The class gateway could not reach the model provider; try again in a moment."})
		return
	}
	defer resp.Body.Close()

	h := x.w.Header()
	for _, k := range passHeaders {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, secret.Redact(v))
		}
	}
	x.row.Status = resp.StatusCode
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// the provider refused the teacher's key: not the student's business to see its message
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		x.s.log.Error("gateway: the provider refused the upstream key", "status", resp.Status)
		x.row.Outcome = ledger.UpstreamError
		x.fail(&apiError{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_key_refused",
			Message: "The class gateway's access to the model provider was refused; tell your teacher."})
		return
	}
	if resp.StatusCode >= 400 {
		x.row.Outcome = ledger.UpstreamError
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") && resp.StatusCode == http.StatusOK {
		x.passStream(resp.Body)
		return
	}
	x.passBody(resp)
}

// chargeEstimate records the estimate as the usage of a reply cut before its usage came.
func (x *exchange) chargeEstimate() {
	if x.endpoint != "responses" && x.endpoint != "chat.completions" {
		return
	}
	if x.row.InputTokens+x.row.OutputTokens == 0 {
		x.row.InputTokens, x.row.OutputTokens = x.est.InputTokens, x.est.OutputTokens
		x.row.Detail = strings.TrimSpace(x.row.Detail + " usage estimated (reply cut before its usage)")
	}
}

// passBody passes a whole (non-stream) body back, reading its usage and id.
func (x *exchange) passBody(resp *http.Response) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		x.row.Outcome = ledger.Interrupted
		x.chargeEstimate()
		x.fail(&apiError{Status: http.StatusBadGateway, Type: "server_error", Retry: true,
			Message: "The model provider's answer was cut off; try again."})
		return
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil {
			x.row.Detail = e.Error.Message
		}
	} else if x.endpoint == "responses" || x.endpoint == "chat.completions" {
		var o probe
		if json.Unmarshal(b, &o) == nil {
			x.observe(&o)
		}
	}
	out := []byte(secret.Redact(string(b)))
	x.w.Header().Del("Content-Length")
	x.w.WriteHeader(resp.StatusCode)
	x.w.Write(out)
}

// probe reads what the ledger needs from a response object, a chat completion, or a stream
// event of either.
type probe struct {
	Type     string            `json:"type"`
	ID       string            `json:"id"`
	Model    string            `json:"model"`
	Status   string            `json:"status"`
	Usage    *usageJSON        `json:"usage"`
	Response *probe            `json:"response"`
	Choices  []json.RawMessage `json:"choices"`
	Error    *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"error"`
}

type usageJSON struct {
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// observe takes usage, model, id and status from a response object or chat completion.
func (x *exchange) observe(o *probe) {
	if o.Model != "" {
		x.row.Model = o.Model
	}
	if u := o.Usage; u != nil {
		x.row.InputTokens = u.InputTokens + u.PromptTokens
		x.row.OutputTokens = u.OutputTokens + u.CompletionTokens
	}
	if x.endpoint == "responses" && o.ID != "" {
		x.row.ResponseID = o.ID
		if x.store {
			x.own(o.ID)
		}
	}
	if o.Status == "failed" {
		x.row.Outcome = ledger.Failed
	}
}

func (x *exchange) own(id string) {
	if err := x.s.cfg.Ledger.Own(context.WithoutCancel(x.r.Context()), id, x.student); err != nil {
		x.s.log.Error("gateway: ledger write failed", "err", err)
	}
}

// passStream passes server-sent events back one by one as they arrive (each flushed at once),
// reading the usage and the response id on the way.
func (x *exchange) passStream(body io.Reader) {
	w := x.w
	w.Header().Del("Content-Length")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // tell a proxy in front not to buffer
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	br := bufio.NewReaderSize(body, 32<<10)
	var event []byte // the lines of the event so far
	var name, data []byte
	gotUsage := false
	clientGone := false
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			event = append(event, line...)
			trimmed := bytes.TrimRight(line, "\r\n")
			switch {
			case len(trimmed) == 0:
				// end of an event
				pass := x.streamEvent(name, data, &gotUsage)
				if pass && !clientGone {
					if _, werr := io.WriteString(w, secret.Redact(string(event))); werr != nil {
						clientGone = true
					} else if ferr := rc.Flush(); ferr != nil {
						clientGone = true
					}
				}
				event, name, data = event[:0], nil, data[:0]
			case bytes.HasPrefix(trimmed, []byte("event:")):
				name = bytes.TrimSpace(trimmed[len("event:"):])
			case bytes.HasPrefix(trimmed, []byte("data:")):
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, bytes.TrimPrefix(trimmed[len("data:"):], []byte(" "))...)
			}
		}
		if clientGone {
			break
		}
		if err != nil {
			if err != io.EOF {
				x.row.Outcome = ledger.Interrupted
				x.row.Detail = "the stream was cut"
			} else if len(event) > 0 && !clientGone {
				io.WriteString(w, secret.Redact(string(event)))
				rc.Flush()
			}
			break
		}
	}
	if clientGone || x.r.Context().Err() != nil {
		x.row.Outcome = ledger.Interrupted
		x.row.Detail = "the student went away mid-reply"
	}
	if x.s.hardCtx.Err() != nil && x.row.Outcome == ledger.Interrupted {
		x.row.Detail = "the gateway shut down mid-reply"
	}
	if !gotUsage {
		x.chargeEstimate()
	}
}

// streamEvent reads one event; it reports whether the event goes on to the student.
func (x *exchange) streamEvent(name, data []byte, gotUsage *bool) bool {
	if len(data) == 0 || bytes.Equal(data, []byte("[DONE]")) {
		return true
	}
	if x.endpoint != "responses" && x.endpoint != "chat.completions" {
		return true // e.g. a streamed GET of a stored response: its usage was counted when it was made
	}
	if x.endpoint == "responses" {
		switch string(name) {
		case "", "response.created", "response.completed", "response.incomplete", "response.failed", "error":
		default:
			return true // deltas and the like: nothing to read
		}
	}
	var o probe
	if json.Unmarshal(data, &o) != nil {
		return true
	}
	switch {
	case o.Response != nil:
		x.observe(o.Response)
		if o.Response.Usage != nil {
			*gotUsage = true
		}
		if o.Type == "response.failed" {
			x.row.Outcome = ledger.Failed
			if o.Response.Error != nil {
				x.row.Detail = o.Response.Error.Message
			}
		}
	case o.Type == "error" || (o.Error != nil && o.Type == ""):
		x.row.Outcome = ledger.Failed
		if o.Error != nil {
			x.row.Detail = o.Error.Message
		}
	case x.endpoint == "chat.completions":
		if o.Model != "" {
			x.row.Model = o.Model
		}
		if o.Usage != nil {
			x.row.InputTokens, x.row.OutputTokens = o.Usage.PromptTokens, o.Usage.CompletionTokens
			*gotUsage = true
			if x.injectedUsage && len(o.Choices) == 0 {
				return false // the usage chunk the student did not ask for
			}
		}
	}
	return true
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func jsonBool(raw json.RawMessage) bool {
	var b bool
	return json.Unmarshal(raw, &b) == nil && b
}

func jsonBoolDefault(raw json.RawMessage, def bool) bool {
	var b *bool
	if raw == nil || json.Unmarshal(raw, &b) != nil || b == nil {
		return def
	}
	return *b
}

func jsonInt(raw json.RawMessage) int64 {
	var n float64
	if raw == nil || json.Unmarshal(raw, &n) != nil {
		return 0
	}
	return int64(n)
}
