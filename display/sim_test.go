//go:build !gonbchat_kernel

package display

import (
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// simClock is a simulated Clock: time moves only when the test advances it, and timers run in
// the advancing goroutine, in time order.
type simClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*simTimer
}

type simTimer struct {
	c       *simClock
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func newSimClock() *simClock { return &simClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &simTimer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *simTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// AdvanceTo moves time to at, running every timer due on the way at its own time.
func (c *simClock) AdvanceTo(at time.Time) {
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(at) {
			if at.After(c.now) {
				c.now = at
			}
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

func (c *simClock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// msg is one message a Cell sent, as the recorder saw it.
type msg struct {
	at      time.Time
	covered int // bytes of the source written when the message was sent
	d       *protocol.DisplayData
	wire    int // bytes of the iopub content as GoNB encodes it
}

// recorder is a sink that records messages with the simulated time and how much of the source
// had been written. With a page, it also shows them there as they are sent.
type recorder struct {
	mu        sync.Mutex
	clock     *simClock
	covered   int
	msgs      []msg
	page      *frontend
	listeners map[string]func(string) // what the cell listens to, by address
}

func (r *recorder) sync() {}

func (r *recorder) listen(address string, f func(string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listeners == nil {
		r.listeners = map[string]func(string){}
	}
	r.listeners[address] = f
}

func (r *recorder) send(d *protocol.DisplayData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var at time.Time
	if r.clock != nil {
		at = r.clock.Now()
	}
	m := msg{at: at, covered: r.covered, d: d, wire: wireSize(d)}
	r.msgs = append(r.msgs, m)
	if r.page != nil {
		r.page.apply(m)
	}
}

// pageSays delivers the page's message to the cell after delay (simulated time), as GoNB's comms
// would, if the cell listens to address.
func (r *recorder) pageSays(address, value string, delay time.Duration) {
	f := r.listeners[address] // r.mu is held: the page speaks from send
	if f == nil {
		return
	}
	r.clock.AfterFunc(delay, func() { f(value) })
}

func (r *recorder) setCovered(n int) {
	r.mu.Lock()
	r.covered = n
	r.mu.Unlock()
}

func (r *recorder) messages() []msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]msg(nil), r.msgs...)
}

// wireSize is the size of the iopub content GoNB publishes for d: {"data":…,"metadata":…,
// "transient":{"display_id":…}} encoded with Go's encoding/json (which escapes <, > and &).
func wireSize(d *protocol.DisplayData) int {
	data := map[string]any{}
	for k, v := range d.Data {
		data[string(k)] = v
	}
	meta := d.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	b, err := json.Marshal(struct {
		Data      map[string]any `json:"data"`
		Metadata  map[string]any `json:"metadata"`
		Transient map[string]any `json:"transient"`
	}{data, meta, map[string]any{"display_id": d.DisplayID}})
	if err != nil {
		panic(err)
	}
	return len(b)
}

// seedWire is what the textbook approach sends for the same deltas: at every delta an update of
// the display with the whole accumulated text as text/markdown (and IPython's text/plain repr of
// a Markdown object), encoded likewise.
func seedWire(deltas []string) (total int64) {
	const plain = "<IPython.core.display.Markdown object>"
	empty := wireSize(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMETextMarkdown: "", protocol.MIMETextPlain: plain}, DisplayID: "0123456789abcdef0123456789abcdef"})
	acc := 0 // escaped length of the accumulated text; escaping is per rune and deltas hold whole runes
	for _, d := range deltas {
		b, _ := json.Marshal(d)
		acc += len(b) - 2
		total += int64(empty + acc)
	}
	return total
}

// splitDeltas cuts src into deltas of 2 to 8 bytes (deterministic PRNG), never splitting a rune.
func splitDeltas(src string, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var out []string
	for len(src) > 0 {
		n := 2 + rng.IntN(7)
		if n >= len(src) {
			out = append(out, src)
			break
		}
		cut := n
		for cut > 0 && !utf8.RuneStart(src[cut]) {
			cut--
		}
		if cut < 2 { // extend to the next rune boundary instead
			cut = n
			for cut < len(src) && !utf8.RuneStart(src[cut]) {
				cut++
			}
		}
		out = append(out, src[:cut])
		src = src[cut:]
	}
	return out
}

// streamDoc is the long Chinese answer the benchmarks stream: testdata/answer-zh.md when it is
// there, else testdata/stream-zh.md.
func streamDoc(tb testing.TB) string {
	for _, p := range []string{"testdata/answer-zh.md", "testdata/stream-zh.md"} {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	tb.Fatal("no testdata document")
	return ""
}

// simResult is one simulated stream.
type simResult struct {
	t        testing.TB
	cell     *Cell
	rec      *recorder
	src      string
	deltas   []string
	arrive   []time.Time // arrival of each delta
	ends     []int       // source offset after each delta
	closeAt  time.Time
	cutShort bool
	meta     map[string]any
}

// nb is the cell's notebook writer.
func (r *simResult) nb() *notebook { return nbOf(r.cell) }

func nbOf(c *Cell) *notebook {
	switch w := c.w.(type) {
	case *replaceWriter:
		return w.notebook
	case *appendWriter:
		return w.notebook
	}
	panic(fmt.Sprintf("not a notebook cell: %T", c.w))
}

// simOpt changes how simulate makes and ends the cell.
type simOpt func(*config, *simResult)

// withSafety sets the safety-net interval of append mode.
func withSafety(d time.Duration) simOpt { return func(c *config, _ *simResult) { c.safety = d } }

// cutShort ends the reply as cut short.
func cutShort() simOpt { return func(_ *config, r *simResult) { r.cutShort = true } }

// withPage shows the messages in a page that runs the scripts (a frontend); when ack is set,
// the page answers over comms, delay later, as applyFunc does.
func withPage(ack bool, delay time.Duration) simOpt {
	return func(_ *config, r *simResult) {
		r.rec.page = &frontend{t: r.t}
		if ack {
			r.rec.page.tell = func(key, state string) { r.rec.pageSays(ackAddress, key+" "+state, delay) }
		}
	}
}

// ackDelay is how long the page's answer takes to reach the cell in the simulations: a comms
// round trip through the browser, the Jupyter server and GoNB.
const ackDelay = 200 * time.Millisecond

// simulate streams deltas at tps deltas per second into a cell in mode m, on a simulated clock,
// and closes it with testMeta right after the last delta (plus linger of quiet time).
func simulate(t testing.TB, src string, deltas []string, tps float64, m mode, linger time.Duration, opts ...simOpt) *simResult {
	clk := newSimClock()
	rec := &recorder{clock: clk}
	cfg := config{sink: rec, clock: clk, mode: m}
	r := &simResult{t: t, rec: rec, src: src, deltas: deltas, meta: testMeta}
	for _, o := range opts {
		o(&cfg, r)
	}
	c := newCell(cfg)
	r.cell = c
	start := clk.Now()
	step := time.Duration(float64(time.Second) / tps)
	off := 0
	for i, d := range deltas {
		at := start.Add(time.Duration(i+1) * step)
		clk.AdvanceTo(at)
		off += len(d)
		rec.setCovered(off)
		c.Write(d)
		r.arrive = append(r.arrive, at)
		r.ends = append(r.ends, off)
	}
	clk.Advance(linger)
	r.closeAt = clk.Now()
	if r.cutShort {
		c.CutShort()
	}
	c.Close(r.meta)
	return r
}

func (r *simResult) wire() (total int64) {
	for _, m := range r.rec.messages() {
		total += int64(m.wire)
	}
	return total
}

// maxLag is the worst delay between a delta's arrival and the first message showing a source at
// least that long. A delta that changes nothing visible (say a trailing newline) needs no
// message: it counts as shown when the HTML it produces equals what is already shown.
func (r *simResult) maxLag(bound time.Duration) time.Duration {
	msgs := r.rec.messages()
	var worst time.Duration
	j := 0 // first message not before the delta
	shownOff := 0
	for i, at := range r.arrive {
		for j < len(msgs) && msgs[j].at.Before(at) {
			shownOff = max(shownOff, msgs[j].covered)
			j++
		}
		// first message (at or after at) covering the delta
		k := j
		for k < len(msgs) && msgs[k].covered < r.ends[i] {
			k++
		}
		var lag time.Duration
		if k < len(msgs) {
			lag = msgs[k].at.Sub(at)
		} else {
			lag = r.closeAt.Sub(at)
		}
		if lag > bound {
			// excused if the delta changed nothing visible before a covering message arrived in time
			seen := shownOff
			for q := j; q < len(msgs) && !msgs[q].at.After(at.Add(bound)); q++ {
				seen = max(seen, msgs[q].covered)
			}
			if seen < r.ends[i] && render(r.src[:seen]) == render(r.src[:r.ends[i]]) {
				lag = 0
			}
		}
		worst = max(worst, lag)
	}
	return worst
}

// frontend applies a cell's messages the way a JavaScript-running notebook page would: it
// mirrors applyFunc, and answers "ok" and "stale" as it does when tell is set.
type frontend struct {
	t       testing.TB
	tell    func(key, state string)
	id      string // the main display (the first message's)
	main    string // the main display's text/html
	inDOM   bool   // the append-mode container is in the DOM
	defined bool   // gonbchat_v2 is defined
	blocks  strings.Builder
	tail    string
	tailV   int
	tailH   bool   // the tail element has gcH
	said    string // the container's gcS
	js      string
	drop    func(m msg) bool // the page misses m (a lost message)
	applied int              // scripts that changed the container
}

func (f *frontend) apply(m msg) {
	t := f.t
	if f.id == "" {
		f.id = m.d.DisplayID
	}
	if f.drop != nil && f.drop(m) {
		return
	}
	id := f.id
	h, _ := m.d.Data[protocol.MIMETextHTML].(string)
	switch m.d.DisplayID {
	case id:
		f.main = h
		f.inDOM = false
		key := strings.TrimPrefix(id, "gonbchat-")
		head := `<div id="` + id + `" class="gonbchat-reply">` + defineScript(key)
		const tailOpen = `<div class="gonbchat-tail" data-v="`
		const tailOpen2 = `" style="display:contents">`
		if rest, ok := strings.CutPrefix(h, head); ok {
			ti := strings.LastIndex(rest, tailOpen)
			if ti < 0 || !strings.HasSuffix(rest, `</div></div>`) {
				t.Fatalf("bad container %.300q", h)
			}
			vs, tail, ok := strings.Cut(strings.TrimSuffix(rest[ti+len(tailOpen):], `</div></div>`), tailOpen2)
			v, err := strconv.Atoi(vs)
			if !ok || err != nil {
				t.Fatalf("bad tail element in %.300q", h)
			}
			f.inDOM, f.defined, f.said = true, true, ""
			f.blocks.Reset()
			f.blocks.WriteString(rest[:ti])
			f.tail, f.tailV, f.tailH = tail, v, false
		} else if strings.Contains(h, "gonbchat-reply") {
			t.Fatalf("container not understood: %.300q", h)
		}
	case "gc" + strings.TrimPrefix(id, "gonbchat-"):
		f.js = h
		if h == "" {
			return
		}
		key, v, p, q, c, s := parseScript(t, h)
		if !f.defined || "gonbchat-"+key != id || !f.inDOM {
			return // nothing to call, or getElementById finds nothing
		}
		if p >= 0 && (f.tailV != v-1 || !f.tailH) {
			f.say(key, "stale")
			return
		}
		u := utf16.Encode([]rune(f.tail))
		var nu []uint16
		if p < 0 {
			nu = utf16.Encode([]rune(s))
		} else {
			if p+q > len(u) {
				t.Fatalf("tail prefix %d and suffix %d beyond %d units", p, q, len(u))
			}
			nu = append(append(append([]uint16(nil), u[:p]...), utf16.Encode([]rune(s))...), u[len(u)-q:]...)
		}
		if c > len(nu) {
			t.Fatalf("commit of %d units beyond %d", c, len(nu))
		}
		f.blocks.WriteString(string(utf16.Decode(nu[:c])))
		f.tail, f.tailV, f.tailH = string(utf16.Decode(nu[c:])), v, true
		f.applied++
		f.say(key, "ok")
	default:
		t.Fatalf("message to unknown display id %q", m.d.DisplayID)
	}
}

func (f *frontend) say(key, state string) {
	if f.tell != nil && f.said != state {
		f.said = state
		f.tell(key, state)
	}
}

// visible is the reply's HTML as the frontend shows it.
func (f *frontend) visible() string {
	if f.inDOM {
		return f.blocks.String() + f.tail
	}
	return f.main
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// textContent is the text of an HTML fragment, spaces collapsed (what a reader sees, styling and
// the blank line chroma leaves out of a highlighted block aside).
func textContent(h string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(h, ""))), " ")
}

// parseScript reads back the arguments of an appendScript, checking that nothing in it can end
// the script element or start an HTML comment.
func parseScript(t testing.TB, s string) (key string, v, p, q, c int, tail string) {
	rest, ok := strings.CutPrefix(s, "<script>self.gc")
	if !ok || !strings.HasSuffix(rest, ")</script>") {
		t.Fatalf("not an append script: %.200q", s)
	}
	rest = strings.TrimSuffix(rest, ")</script>")
	if strings.Contains(rest, "<") {
		t.Fatalf("script data has a '<': %.200q", s)
	}
	key, rest, ok = strings.Cut(rest, "?.(")
	if !ok {
		t.Fatalf("not an append script: %.200q", s)
	}
	nums := func(s string) []int {
		var out []int
		for _, f := range strings.Split(strings.Trim(s, ","), ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("script: bad number %q in %.200q", f, s)
			}
			out = append(out, n)
		}
		return out
	}
	head, lit, ok := strings.Cut(rest, "`")
	if !ok {
		t.Fatalf("script without a template literal: %.200q", s)
	}
	if n := nums(head); len(n) != 2 {
		t.Fatalf("script: want v,p before the text in %.200q", s)
	} else {
		v, p = n[0], n[1]
	}
	// The literal, up to its unescaped closing backtick.
	var b strings.Builder
	i := 0
	for ; i < len(lit) && lit[i] != '`'; i++ {
		if lit[i] != '\\' {
			b.WriteByte(lit[i])
			continue
		}
		i++
		switch {
		case i < len(lit) && strings.IndexByte("`\\$", lit[i]) >= 0:
			b.WriteByte(lit[i])
		case i+2 < len(lit) && lit[i] == 'x':
			n, err := strconv.ParseUint(lit[i+1:i+3], 16, 8)
			if err != nil {
				t.Fatalf("script: bad escape in %.200q", s)
			}
			b.WriteByte(byte(n))
			i += 2
		default:
			t.Fatalf("script: unexpected escape at %d in %.200q", i, s)
		}
	}
	if i == len(lit) {
		t.Fatalf("script: unterminated template literal in %.200q", s)
	}
	tail = b.String()
	if more := lit[i+1:]; more != "" {
		n := nums(more)
		if len(n) > 2 {
			t.Fatalf("script: too many arguments in %.200q", s)
		}
		n = append(n, 0, 0)
		q, c = n[0], n[1]
	}
	return
}
