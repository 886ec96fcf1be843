package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// Player serves recorded exchanges back.
type Player struct {
	fallback http.RoundTripper
	speed    float64
	stateDir string
	ignore   []string

	byKey map[string][]*exchange
	n     int

	mu     sync.Mutex
	counts map[string]int // in memory, without a state directory
}

type exchange struct {
	file   string
	resp   responseLine
	chunks []chunkLine
}

// Option configures a Player.
type Option func(*Player)

// WithSpeed plays recordings f times as fast (2: twice as fast); 0 serves them at once.
// Default 1: as recorded.
func WithSpeed(f float64) Option { return func(p *Player) { p.speed = f } }

// WithStateDir keeps the count of identical requests in dir (a small JSON file, locked), so
// that it survives across processes such as GoNB's cells.
func WithStateDir(dir string) Option { return func(p *Player) { p.stateDir = dir } }

// WithIgnore sets the top-level request fields left out of matching (default DefaultIgnore).
func WithIgnore(fields ...string) Option { return func(p *Player) { p.ignore = fields } }

// NewPlayer loads the recordings in dir; requests that match none go to fallback (nil: they
// fail with an error naming the request).
func NewPlayer(dir string, fallback http.RoundTripper, opts ...Option) (*Player, error) {
	p := &Player{fallback: fallback, speed: 1, ignore: DefaultIgnore, byKey: map[string][]*exchange{}, counts: map[string]int{}}
	for _, o := range opts {
		o(p)
	}
	if p.speed < 0 {
		return nil, errors.New("replay: the speed must not be negative")
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	sort.Strings(names) // the names start with the request time
	type loaded struct {
		key  string
		when time.Time
		ex   *exchange
	}
	var all []loaded
	for _, name := range names {
		key, when, ex, err := p.load(name)
		if err != nil {
			return nil, err
		}
		all = append(all, loaded{key, when, ex})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].when.Before(all[j].when) })
	for _, l := range all {
		p.byKey[l.key] = append(p.byKey[l.key], l.ex)
	}
	p.n = len(all)
	return p, nil
}

// Len is the number of recordings loaded.
func (p *Player) Len() int { return p.n }

func (p *Player) load(name string) (key string, when time.Time, ex *exchange, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	ex = &exchange{file: name}
	var req requestLine
	line := 0
	bad := func(what string) error {
		return fmt.Errorf("replay: %s line %d: %s", filepath.Base(name), line, what)
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(b, &kind); err != nil {
			return "", when, nil, bad(err.Error())
		}
		switch kind.Kind {
		case "request":
			if line != 1 {
				return "", when, nil, bad("the request must be the first line")
			}
			if err := json.Unmarshal(b, &req); err != nil {
				return "", when, nil, bad(err.Error())
			}
			if req.Format > Format {
				return "", when, nil, bad(fmt.Sprintf("format %d is newer than this gonbchat reads (%d)", req.Format, Format))
			}
		case "response":
			if err := json.Unmarshal(b, &ex.resp); err != nil {
				return "", when, nil, bad(err.Error())
			}
		case "event", "body":
			var c chunkLine
			if err := json.Unmarshal(b, &c); err != nil {
				return "", when, nil, bad(err.Error())
			}
			ex.chunks = append(ex.chunks, c)
		default:
			return "", when, nil, bad(fmt.Sprintf("unknown kind %q", kind.Kind))
		}
	}
	if err := sc.Err(); err != nil {
		return "", when, nil, fmt.Errorf("replay: %s: %w", filepath.Base(name), err)
	}
	if req.Method == "" || ex.resp.Status == 0 {
		return "", when, nil, fmt.Errorf("replay: %s: no request or no response line", filepath.Base(name))
	}
	body := []byte(req.Body)
	if req.Text != "" {
		body = []byte(req.Text)
	}
	return matchKey(req.Method, req.Path, req.Query, body, p.ignore), req.Time, ex, nil
}

// RoundTrip implements http.RoundTripper.
func (p *Player) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	key := matchKey(req.Method, req.URL.Path, req.URL.RawQuery, body, p.ignore)
	list := p.byKey[key]
	var ex *exchange
	if len(list) > 0 {
		n, err := p.next(key)
		if err != nil {
			return nil, err
		}
		if n < len(list) {
			ex = list[n]
		}
	}
	if ex == nil {
		if p.fallback == nil {
			return nil, fmt.Errorf("replay: no recording for %s %s", req.Method, normPath(req.URL.Path))
		}
		return p.fallback.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close()
	}
	if !p.sleep(req.Context(), ex.resp.AfterMS) {
		return nil, req.Context().Err()
	}
	hdr := ex.resp.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set(SourceHeader, Replayed)
	size := 0
	for _, c := range ex.chunks {
		size += len(c.Data)
	}
	hdr.Set("Content-Length", strconv.Itoa(size))
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", ex.resp.Status, http.StatusText(ex.resp.Status)),
		StatusCode:    ex.resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        hdr,
		ContentLength: int64(size),
		Request:       req,
		Body:          &pacedBody{p: p, ctx: req.Context(), chunks: ex.chunks, start: time.Now(), closed: make(chan struct{})},
	}
	return resp, nil
}

// next returns how many times key was seen before, and counts this time.
func (p *Player) next(key string) (int, error) {
	if p.stateDir == "" {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := p.counts[key]
		p.counts[key] = n + 1
		return n, nil
	}
	path := filepath.Join(p.stateDir, "replay-counts.json")
	unlock, err := fsutil.Lock(path)
	if err != nil {
		return 0, err
	}
	defer unlock()
	counts := map[string]int{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &counts); err != nil {
			return 0, fmt.Errorf("replay: %s: %w (delete it to start the counts afresh)", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	h := keyHash(key)
	n := counts[h]
	counts[h] = n + 1
	b, _ := json.Marshal(counts)
	if err := fsutil.WriteFileAtomic(path, b, 0o644); err != nil {
		return 0, err
	}
	return n, nil
}

// Reset forgets how many times each request was seen (the state directory's counts too).
func (p *Player) Reset() error {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.mu.Unlock()
	if p.stateDir == "" {
		return nil
	}
	err := os.Remove(filepath.Join(p.stateDir, "replay-counts.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (p *Player) scaled(msec float64) time.Duration {
	if p.speed == 0 {
		return 0
	}
	return time.Duration(msec / p.speed * float64(time.Millisecond))
}

func (p *Player) sleep(ctx context.Context, msec float64) bool {
	return apiwire.Sleep(ctx, p.scaled(msec))
}

// pacedBody gives out the recorded chunks, each not before its recorded time.
type pacedBody struct {
	p      *Player
	ctx    context.Context
	chunks []chunkLine
	start  time.Time
	cur    string
	i      int

	once   sync.Once
	closed chan struct{}
}

var errClosed = errors.New("replay: read on a closed body")

func (b *pacedBody) Read(buf []byte) (int, error) {
	for b.cur == "" {
		if b.i >= len(b.chunks) {
			return 0, io.EOF
		}
		c := b.chunks[b.i]
		if wait := time.Until(b.start.Add(b.p.scaled(c.AtMS))); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-b.closed:
				t.Stop()
				return 0, errClosed
			case <-b.ctx.Done():
				t.Stop()
				return 0, b.ctx.Err()
			}
		}
		b.cur = c.Data
		b.i++
	}
	n := copy(buf, b.cur)
	b.cur = b.cur[n:]
	return n, nil
}

func (b *pacedBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// String describes the player, for a notice.
func (p *Player) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "replay: %d recordings", p.n)
	if p.speed != 1 {
		fmt.Fprintf(&s, " at %gx", p.speed)
	}
	return s.String()
}
