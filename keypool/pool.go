package keypool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/gonbchat/gonbchat/internal/secret"
)

const (
	// DefaultCooldown is how long a 429 without Retry-After cools a key.
	DefaultCooldown = 5 * time.Second
	// DefaultMaxWait is how long a request may wait for a cooling key to recover.
	DefaultMaxWait = 20 * time.Second

	// minCooldown is the shortest cooldown: a 429 saying "retry in 0 ms" must not make the pool
	// hammer the key in a loop.
	minCooldown = 250 * time.Millisecond
	// maxCooldown bounds what a Retry-After can ask for; Reset ends any cooldown earlier.
	maxCooldown = 24 * time.Hour
	// maxSendsPerKey bounds how often one request is sent with the same key (after it
	// recovered from a cooldown) before the request gives up.
	maxSendsPerKey = 3
)

// Option configures a Pool.
type Option func(*config)

type config struct {
	name     string
	stateDir string
	cooldown time.Duration
	maxWait  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	notify   func(Event)
	err      error
}

// WithName sets the pool's identity for its shared state: Pools with the same name and state
// directory share rotation, cooldowns and taken-out keys. Names are letters, digits, '.', '_'
// and '-' (at most 64). The default is derived from the keys' fingerprints, so the same keys
// give the same pool.
func WithName(name string) Option {
	return func(c *config) {
		if !validName.MatchString(name) || secret.Contains(name) {
			c.err = errors.New("keypool: a pool name is 1 to 64 letters, digits, '.', '_' or '-' (and not a key)")
			return
		}
		c.name = name
	}
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// WithStateDir keeps the pool's state (rotation position, cooldowns, taken-out keys, use
// counts) in a JSON file under dir, shared by every process using the same pool name. The
// directory is created if needed. Without it, inside a GoNB kernel ($GONB_TMP_DIR set) the
// state is in $GONB_TMP_DIR/.gonbchat/keypool, so that each cell (a new process) continues where the previous
// one left off; elsewhere it is in memory, for this Pool only.
func WithStateDir(dir string) Option {
	return func(c *config) {
		if dir == "" {
			c.err = errors.New("keypool: WithStateDir needs a directory")
			return
		}
		c.stateDir = dir
	}
}

// WithCooldown sets how long a 429 without Retry-After cools a key (default [DefaultCooldown]).
func WithCooldown(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("keypool: WithCooldown(%v): the cooldown must be positive", d)
			return
		}
		c.cooldown = d
	}
}

// WithMaxWait sets how long a request may wait for a cooling key to recover before it fails
// with an *ExhaustedError (default [DefaultMaxWait]; 0 never waits).
func WithMaxWait(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.err = fmt.Errorf("keypool: WithMaxWait(%v): the wait cannot be negative", d)
			return
		}
		c.maxWait = d
	}
}

// WithClock sets the pool's clock (default time.Now). Cooldowns in the state file are wall
// clock times, so processes sharing a state directory must share a clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithSleep sets how a request waits for a cooling key (default: a timer that stops early, with
// the context's error, when ctx is done).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *config) { c.sleep = sleep }
}

// WithNotify calls f on every failover, cooldown, taken-out key, wait, exhaustion and state file
// problem (see [Event]); events name keys by fingerprint only. f is called from the goroutine
// sending the request, possibly from several at once, and must not block for long.
func WithNotify(f func(Event)) Option {
	return func(c *config) { c.notify = f }
}

// Pool is a set of API keys handed out in turn. It is safe for concurrent use. Printing a Pool
// (with any fmt verb, or slog) shows its name and its keys' fingerprints and states, never a
// key.
type Pool struct {
	c *core
}

// core is the Pool's state; Pool only points to it, so that fmt's reflection on a Pool value
// sees a pointer, never a key.
type core struct {
	name     string
	keys     []poolKey
	index    map[string]int // fingerprint → position in keys
	cooldown time.Duration
	maxWait  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	notify   func(Event)
	store    store
}

// poolKey is one key and its fingerprint. It prints as its fingerprint.
type poolKey struct {
	value string
	fp    string
}

func (k poolKey) String() string             { return k.fp }
func (k poolKey) GoString() string           { return k.fp }
func (k poolKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.fp) }
func (k poolKey) LogValue() slog.Value       { return slog.StringValue(k.fp) }
func (c *core) Format(f fmt.State, _ rune)   { fmt.Fprint(f, c.describe()) }
func (c *core) fingerprint(i int) string     { return c.keys[i].fp }
func (c *core) emit(e Event) {
	if c.notify != nil {
		c.notify(e)
	}
}

// New returns a pool of keys. Duplicate keys are dropped (surrounding spaces do not count), and
// every key is registered with the secret package so that nothing gonbchat shows can hold it.
// An empty list, a blank key and a key holding spaces or control characters are errors (which
// name the key by position, never by value).
func New(keys []string, opts ...Option) (*Pool, error) {
	cfg := config{cooldown: DefaultCooldown, maxWait: DefaultMaxWait, now: time.Now, sleep: sleepCtx}
	for _, o := range opts {
		o(&cfg)
		if cfg.err != nil {
			return nil, cfg.err
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("keypool: the pool needs at least one key")
	}
	c := &core{
		index:    map[string]int{},
		cooldown: cfg.cooldown,
		maxWait:  cfg.maxWait,
		now:      cfg.now,
		sleep:    cfg.sleep,
		notify:   cfg.notify,
	}
	seen := map[string]bool{}
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, fmt.Errorf("keypool: key %d of %d is blank", i+1, len(keys))
		}
		if strings.IndexFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("keypool: key %d of %d holds a space or a control character", i+1, len(keys))
		}
		secret.Register(k)
		if seen[k] {
			continue
		}
		seen[k] = true
		fp := secret.Fingerprint(k)
		if j, dup := c.index[fp]; dup {
			return nil, fmt.Errorf("keypool: keys %d and %d are different but share the fingerprint %s; drop one of them", j+1, i+1, fp)
		}
		c.index[fp] = len(c.keys)
		c.keys = append(c.keys, poolKey{value: k, fp: fp})
	}
	c.name = cfg.name
	if c.name == "" {
		c.name = defaultName(c.keys)
	}
	if cfg.stateDir == "" {
		cfg.stateDir = kernelStateDir()
	}
	if cfg.stateDir == "" {
		c.store = &memStore{st: newState(c.name)}
	} else {
		if err := os.MkdirAll(cfg.stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("keypool: state directory: %w", err)
		}
		c.store = &fileStore{
			name: c.name,
			path: filepath.Join(cfg.stateDir, "keypool-"+c.name+".json"),
			now:  c.now,
			onReset: func(err error) {
				c.emit(Event{Kind: StateReset, At: c.now(), Err: err})
			},
		}
		// Read the state once now, so that a broken file is reported (and moved aside) by New.
		if err := c.store.update(func(*state) bool { return false }); err != nil {
			return nil, err
		}
	}
	return &Pool{c: c}, nil
}

// kernelStateDir is where pools keep their state by default inside a GoNB kernel:
// $GONB_TMP_DIR/.gonbchat/keypool (beside the chats' state), or "" outside a kernel.
func kernelStateDir() string {
	if d := kernelenv.StateDir(); d != "" {
		return filepath.Join(d, "keypool")
	}
	return ""
}

// defaultName names a pool by its keys' fingerprints, in any order.
func defaultName(keys []poolKey) string {
	fps := make([]string, len(keys))
	for i, k := range keys {
		fps[i] = k.fp
	}
	slices.Sort(fps)
	sum := sha256.Sum256([]byte(strings.Join(fps, ",")))
	return "keys-" + hex.EncodeToString(sum[:6])
}

// Name is the pool's identity for its shared state.
func (p *Pool) Name() string { return p.c.name }

// Len is the number of distinct keys in the pool.
func (p *Pool) Len() int { return len(p.c.keys) }

// State is what a key of the pool can do now.
type State int

const (
	// Ready keys are handed out in turn.
	Ready State = iota
	// Cooling keys answered 429; they are ready again after KeyStatus.Until.
	Cooling
	// Disabled keys were rejected (401, 403, insufficient_quota); Reset brings them back.
	Disabled
)

func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Cooling:
		return "cooling"
	case Disabled:
		return "disabled"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// KeyStatus describes one key of the pool, by fingerprint.
type KeyStatus struct {
	Fingerprint string
	State       State
	// Until is when a Cooling key is ready again (zero otherwise).
	Until time.Time
	// Uses counts the requests sent with the key (by every process sharing the state).
	Uses int64
	// Reason is why the key is cooling or disabled: the status and the server's error code,
	// such as "429 rate_limit_exceeded" or "401 invalid_api_key".
	Reason string
}

// Status returns the state of every key, in the pool's order.
func (p *Pool) Status() []KeyStatus {
	st, err := p.c.snapshot()
	if err != nil {
		// The state file cannot be read: say so rather than show stale states.
		out := make([]KeyStatus, len(p.c.keys))
		for i, k := range p.c.keys {
			out[i] = KeyStatus{Fingerprint: k.fp, State: Disabled, Reason: "state unavailable"}
		}
		return out
	}
	return p.c.statuses(st, p.c.now())
}

func (c *core) snapshot() (*state, error) {
	var snap *state
	err := c.store.update(func(st *state) bool {
		snap = st.clone()
		return false
	})
	return snap, err
}

func (c *core) statuses(st *state, now time.Time) []KeyStatus {
	out := make([]KeyStatus, len(c.keys))
	for i, k := range c.keys {
		out[i] = st.status(k.fp, now)
	}
	return out
}

// Reset brings every cooling and disabled key of the pool back (for every process sharing the
// state). Use counts are kept.
func (p *Pool) Reset() error {
	return p.c.store.update(func(st *state) bool {
		changed := false
		for _, k := range p.c.keys {
			if ks := st.Keys[k.fp]; ks != nil && (ks.Disabled || !ks.CoolingUntil.IsZero() || ks.Reason != "") {
				ks.Disabled, ks.CoolingUntil, ks.Reason = false, time.Time{}, ""
				changed = true
			}
		}
		return changed
	})
}

// String describes the pool by name and its keys by fingerprint and state.
func (p Pool) String() string {
	if p.c == nil {
		return "keypool.Pool(nil)"
	}
	return p.c.describe()
}

// GoString is String: %#v of a Pool never shows a key.
func (p Pool) GoString() string { return p.String() }

// Format prints String for every verb, so %v, %+v, %#v, %s and %q never show a key.
func (p Pool) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", p.String())
		return
	}
	fmt.Fprint(f, p.String())
}

// LogValue keeps slog on String.
func (p Pool) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (c *core) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keypool.Pool(%s: ", c.name)
	st, err := c.snapshot()
	now := c.now()
	for i, k := range c.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if err != nil {
			b.WriteString(k.fp)
			continue
		}
		b.WriteString(describeKey(st.status(k.fp, now), now))
	}
	if err != nil {
		b.WriteString("; state unavailable")
	}
	b.WriteString(")")
	return secret.Redact(b.String())
}

// describeKey is "key#a1b2c3 ready (3 uses)", "key#… cooling for 12 s (429 rate_limit_exceeded)"
// or "key#… disabled (401 invalid_api_key)".
func describeKey(s KeyStatus, now time.Time) string {
	switch s.State {
	case Cooling:
		return fmt.Sprintf("%s cooling for %s%s", s.Fingerprint, humanDuration(s.Until.Sub(now)), paren(s.Reason))
	case Disabled:
		return fmt.Sprintf("%s disabled%s", s.Fingerprint, paren(s.Reason))
	}
	uses := "uses"
	if s.Uses == 1 {
		uses = "use"
	}
	return fmt.Sprintf("%s ready (%d %s)", s.Fingerprint, s.Uses, uses)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// humanDuration rounds up to whole seconds ("12 s"), or minutes or hours for long waits.
func humanDuration(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "1 s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", (d+time.Second-1)/time.Second)
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", (d+time.Minute-1)/time.Minute)
	}
	return fmt.Sprintf("%d h", (d+time.Hour-1)/time.Hour)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
