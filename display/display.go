// Package display shows a streamed Markdown reply in ONE updating notebook cell.
//
// In a GoNB notebook each reply gets one display_id (unique across the kernel): a "thinking…"
// indicator first, then throttled updates with the HTML rendered so far, and a final
// update_display_data with the exact full render (text/html), the Markdown source (text/plain)
// and the reply's provenance in the output metadata. There are two ways to stream:
//
//   - Replace: every update resends the whole bundle of the main display. It works in every
//     frontend (nbconvert and jupyter_client included). The interval between updates adapts to
//     the size of the document, but no delta waits more than the maximum lag (250 ms) to appear,
//     and the first delta is shown at once.
//   - Append: the main display holds a <div> that small scripts (sent through a second,
//     transient display) extend: each committed block is sent once and only the open tail block
//     is resent, so the bytes sent are about the size of the answer instead of its square. A slow
//     replace update (a safety net for frontends that run no JavaScript) and the final full
//     update keep the saved notebook exact.
//
// Outside a notebook the reply is written to standard output as plain text, or, when standard
// output is a terminal and a terminal renderer is registered (import display/term), styled.
// Like gonbui, every verb is safe to call anywhere.
//
// Both modes are checked in a real browser (Jupyter Notebook and headless Chromium) by
// `go run ./display/testdata/browsercheck` (-mode=replace for replace mode); it is not part of go
// test since it needs Jupyter, the gonb kernel and Chromium.
package display

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// Sink receives display messages. The default sends them to GoNB with gonbui.SendData. A Cell
// calls Send with its lock held, in order: Send must not call back into the Cell.
type Sink interface {
	Send(d *protocol.DisplayData)
}

type gonbSink struct{}

func (gonbSink) Send(d *protocol.DisplayData) { gonbui.SendData(d) }

// Mode is how a Cell streams into the notebook.
type Mode int

const (
	// Auto is Append when a live Jupyter server (Notebook, Lab) started the kernel, so that a
	// browser may run the scripts, and Replace otherwise: nbconvert, papermill, jupyter_client
	// scripts, a Sink given with WithSink. GONBCHAT_DISPLAY=replace|append overrides it.
	Auto Mode = iota
	// Replace resends the whole rendered reply at each (throttled) update.
	Replace
	// Append sends each committed block once through JavaScript and resends only the open tail.
	Append
)

func (m Mode) String() string {
	switch m {
	case Replace:
		return "replace"
	case Append:
		return "append"
	}
	return "auto"
}

// EnvMode is the environment variable that overrides the Auto mode: "replace" or "append".
const EnvMode = "GONBCHAT_DISPLAY"

// Defaults of the throttle.
const (
	// DefaultInterval is the minimum time between two updates (of a small document).
	DefaultInterval = 50 * time.Millisecond
	// DefaultMaxLag bounds the delay between a Write and the update that shows it. The interval
	// grows with the document up to this bound (kept under 250 ms with room for timer jitter).
	DefaultMaxLag = 240 * time.Millisecond
	// DefaultSafetyInterval is the minimum time between two whole-bundle updates in Append mode,
	// for frontends that run no JavaScript. It grows with the document.
	DefaultSafetyInterval = 2 * time.Second
)

// Option configures a Cell.
type Option func(*Cell)

// WithSink sends the cell's messages to s instead of GoNB (tests, benchmarks).
func WithSink(s Sink) Option { return func(c *Cell) { c.sink = s } }

// WithWriter makes the cell write to w as text instead of using a notebook display.
func WithWriter(w io.Writer) Option { return func(c *Cell) { c.w = w; c.sink = nil } }

// WithInterval sets the minimum time between two updates (the interval then grows with the
// document, up to the maximum lag).
func WithInterval(d time.Duration) Option { return func(c *Cell) { c.minInterval = d } }

// WithMaxLag sets the longest a delta may wait before an update shows it (default 240 ms).
func WithMaxLag(d time.Duration) Option { return func(c *Cell) { c.maxLag = d } }

// WithSafetyInterval sets the minimum time between whole-bundle updates in Append mode.
func WithSafetyInterval(d time.Duration) Option { return func(c *Cell) { c.safety = d } }

// WithMode chooses how the cell streams. An explicit Replace or Append wins over GONBCHAT_DISPLAY.
func WithMode(m Mode) Option { return func(c *Cell) { c.mode = m } }

var renderer = sync.OnceValue(markdown.New)

// Render renders Markdown to safe HTML exactly as the final update of a Cell does.
func Render(md string) string { return renderer().Render(md) }

// Stats describes what a Cell did so far.
type Stats struct {
	Mode Mode
	// Updates counts every message sent, on any display id.
	Updates int
	// Replaces counts whole-bundle messages of the main display (thinking and final included).
	Replaces int
	// Scripts counts append-mode script messages.
	Scripts int
	// RenderTime is the (real) time spent in the Markdown renderer.
	RenderTime time.Duration
	// MaxLag is the worst delay, on the cell's clock, between a Write and the update showing it.
	MaxLag time.Duration
}

// Cell is one reply's output. Create it with NewCell, feed it with Write, end it with Close.
// Its methods are safe for concurrent use.
type Cell struct {
	mu    sync.Mutex
	id    string
	jsID  string
	sink  Sink
	w     io.Writer
	tw    TermStream
	term  Terminal
	clock Clock
	mode  Mode
	inc   *markdown.Incremental

	minInterval, maxLag, safety time.Duration

	started      bool          // the first delta has been shown
	lastFlush    time.Time     // when the last update was decided
	interval     time.Duration // current throttle interval (adaptive)
	pendingSince time.Time     // arrival of the oldest delta not shown yet; zero if none
	timer        Timer
	timerGen     int
	lastHTML     string // Replace: the HTML last sent
	// Replace: the committed source rendered plain.
	plainCommitted strings.Builder
	plainCut       int

	// Append mode.
	sentBlocks  int       // committed blocks the frontend has
	lastTail    string    // tail the frontend has
	tailVer     int       // version of lastTail (the tail element's data-v)
	needDef     bool      // the next script defines the apply function (first after a container)
	lastReplace time.Time // last whole-bundle update of the container
	lastSize    int       // size of the last container
	jsShown     bool      // the script display exists

	closed bool
	stats  Stats
}

// NewCell starts a reply. In a notebook it shows the thinking indicator at once.
func NewCell(opts ...Option) *Cell {
	c := &Cell{
		id: newID(), clock: realClock{}, inc: renderer().NewIncremental(),
		minInterval: DefaultInterval, maxLag: DefaultMaxLag, safety: DefaultSafetyInterval,
	}
	if gonbui.IsNotebook {
		c.sink = gonbSink{}
	} else {
		c.w = os.Stdout
	}
	for _, o := range opts {
		o(c)
	}
	c.jsID = c.id + "-js"
	if c.maxLag < c.minInterval {
		c.maxLag = c.minInterval
	}
	c.interval = c.minInterval
	if c.mode == Auto {
		c.mode = autoMode(c.sink)
	}
	c.stats.Mode = c.mode
	if c.sink != nil {
		c.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: thinkingHTML}, nil)
		return c
	}
	t := c.term
	if t == nil && isTerminal(c.w) {
		t = registeredTerminal()
	}
	if t != nil {
		c.tw = t.NewStream(c.w)
	} else {
		c.tw = &plainStream{w: c.w}
	}
	return c
}

func autoMode(s Sink) Mode {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvMode))) {
	case "replace":
		return Replace
	case "append":
		return Append
	}
	if _, gonb := s.(gonbSink); gonb && kernelenv.LiveServer() {
		return Append
	}
	return Replace
}

// newID returns a display id unique across the kernel (every cell is a new process).
func newID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "gonbchat-" + gonbui.UniqueId() + fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return "gonbchat-" + hex.EncodeToString(b[:])
}

const (
	thinkingHTML    = `<div class="gonbchat-thinking" style="color:#888;font-style:italic">thinking…</div>`
	interruptedHTML = `<div class="gonbchat-interrupted" style="color:#a60">⚠ reply cut short</div>`
)

// ID returns the cell's display_id.
func (c *Cell) ID() string { return c.id }

// Mode returns the mode the cell streams in (never Auto).
func (c *Cell) Mode() Mode { return c.mode }

// Text returns the Markdown received so far.
func (c *Cell) Text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inc.Source()
}

// Updates returns how many messages the cell has sent.
func (c *Cell) Updates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Updates
}

// Stats returns what the cell did so far.
func (c *Cell) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Write appends a delta of the reply. The first delta is shown at once; later ones within the
// current interval (at most the maximum lag).
func (c *Cell) Write(delta string) {
	if delta == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	t0 := cpuNow()
	c.inc.Append(delta)
	c.stats.RenderTime += cpuNow() - t0
	if c.sink == nil {
		c.tw.Write(delta)
		return
	}
	now := c.clock.Now()
	idle := c.pendingSince.IsZero()
	if idle {
		c.pendingSince = now
	}
	// The first delta, and a delta after a quiet interval, are shown at once.
	if !c.started || idle && now.Sub(c.lastFlush) >= c.interval {
		c.flushLocked(now)
		return
	}
	if c.timer == nil {
		// Due one interval after the oldest delta not shown (not after the last update): as
		// few updates as the lag bound allows.
		c.armLocked(c.pendingSince.Add(c.interval).Sub(now))
	}
}

func (c *Cell) armLocked(d time.Duration) {
	c.timerGen++
	gen := c.timerGen
	c.timer = c.clock.AfterFunc(d, func() { c.onTimer(gen) })
}

func (c *Cell) stopTimerLocked() {
	c.timerGen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

func (c *Cell) onTimer(gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.timerGen || c.closed {
		return // stale
	}
	c.timer = nil
	if c.pendingSince.IsZero() {
		return
	}
	now := c.clock.Now()
	if d := c.pendingSince.Add(c.interval).Sub(now); d > 0 {
		c.armLocked(d)
		return
	}
	c.flushLocked(now)
}

// intervalFor is the throttle interval after an update that resent n bytes of HTML: it grows
// with n (bytes sent per second stay bounded) up to the maximum lag.
func (c *Cell) intervalFor(n int) time.Duration {
	d := c.minInterval + time.Duration(n)*intervalPerByte
	return min(d, c.maxLag)
}

// safetyFor is the time between whole-bundle updates in Append mode for n bytes of HTML.
func (c *Cell) safetyFor(n int) time.Duration {
	return max(c.safety, time.Duration(n)*safetyPerByte)
}

const (
	intervalPerByte = 100 * time.Microsecond // 50 ms + 100 µs/B: the cap (240 ms) at ~1.9 KB
	safetyPerByte   = 500 * time.Microsecond // 2 KB/s of safety net at most, past 4 KB
)

// flushLocked shows everything written so far.
func (c *Cell) flushLocked(now time.Time) {
	if lag := now.Sub(c.pendingSince); lag > c.stats.MaxLag {
		c.stats.MaxLag = lag
	}
	c.pendingSince = time.Time{}
	c.stopTimerLocked()
	c.started = true
	c.lastFlush = now
	if c.mode == Append {
		c.flushAppendLocked(now)
		return
	}
	h := c.plainHTMLLocked()
	if h != c.lastHTML {
		c.lastHTML = h
		c.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, nil)
	}
	c.interval = c.intervalFor(len(h))
}

// plainHTMLLocked returns the document rendered so far with code left unhighlighted, for the
// updates of replace mode: inline-styled highlighting makes code several times bigger, and every
// update resends everything (the final update is the exact, highlighted render). Each committed
// part of the source is rendered once (display/markdown commits only where the rest of the
// document parses as a fresh one), so an update costs a render of the open tail only.
func (c *Cell) plainHTMLLocked() string {
	t0 := cpuNow()
	defer func() { c.stats.RenderTime += cpuNow() - t0 }()
	_, tail := c.inc.Blocks()
	if cut := c.inc.Committed(); cut > c.plainCut {
		c.plainCommitted.WriteString(renderer().RenderPlain(c.inc.Source()[c.plainCut:cut]))
		c.plainCut = cut
	}
	return c.plainCommitted.String() + tail
}

// Status shows line in place of the thinking indicator while the reply waits (a retry's
// countdown); "" brings the indicator back. Once text has arrived it shows nothing.
func (c *Cell) Status(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inc.Source() != "" {
		return
	}
	if c.sink == nil {
		if line != "" {
			fmt.Fprintln(os.Stderr, "… "+line)
		}
		return
	}
	htm := thinkingHTML
	if line != "" {
		htm = `<div class="gonbchat-status" style="color:#a60;font-style:italic">` + html.EscapeString(line) + `</div>`
	}
	c.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: htm}, nil)
}

// Close sends the final update: the exact full render and the Markdown source, with meta as
// the output metadata (under "gonbchat"; an "interrupted": true marks the reply cut short). Pending deltas are never lost: the final update contains everything written.
func (c *Cell) Close(meta map[string]any) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.stopTimerLocked()
	src := c.inc.Source()
	if c.sink == nil {
		c.tw.Close()
		c.mu.Unlock()
		return
	}
	t0 := cpuNow()
	htm := Render(src)
	c.stats.RenderTime += cpuNow() - t0
	if cut, _ := meta["interrupted"].(bool); cut {
		htm += interruptedHTML
	}
	updates := c.stats.Updates + 1
	if c.jsShown {
		updates++
	}
	if !c.pendingSince.IsZero() {
		if lag := c.clock.Now().Sub(c.pendingSince); lag > c.stats.MaxLag {
			c.stats.MaxLag = lag
		}
		c.pendingSince = time.Time{}
	}
	md := map[string]any{}
	for k, v := range meta {
		md[k] = v
	}
	md["updates"], md["mode"] = updates, c.mode.String()
	c.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: htm, protocol.MIMETextPlain: src}, map[string]any{"gonbchat": md})
	if c.jsShown {
		// Leave no script behind in the saved notebook.
		c.sendJS("")
	}
	_, live := c.sink.(gonbSink)
	c.mu.Unlock()
	if live {
		gonbui.Sync()
	}
}

func (c *Cell) sendMain(data map[protocol.MIMEType]any, meta map[string]any) {
	c.stats.Updates++
	c.stats.Replaces++
	c.sink.Send(&protocol.DisplayData{Data: data, Metadata: meta, DisplayID: c.id})
}

func (c *Cell) sendJS(h string) {
	c.stats.Updates++
	if h != "" {
		c.stats.Scripts++
	}
	c.jsShown = true
	c.sink.Send(&protocol.DisplayData{Data: map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, DisplayID: c.jsID})
}

// Markdown shows a Markdown block (rendered safely) in the notebook, or prints it outside one.
func Markdown(md string) {
	if gonbui.IsNotebook {
		send(Render(md), md)
		return
	}
	if t := registeredTerminal(); t != nil && isTerminal(os.Stdout) {
		s := t.NewStream(os.Stdout)
		s.Write(md)
		s.Close()
		return
	}
	fmt.Fprintln(os.Stdout, md)
}

// MarkdownBlocks shows several Markdown documents in one output, each rendered on its own (an
// open code fence or HTML comment in one cannot swallow the next).
func MarkdownBlocks(blocks ...string) {
	if gonbui.IsNotebook {
		var h strings.Builder
		for _, b := range blocks {
			h.WriteString(`<div class="gonbchat-block">` + Render(b) + `</div>`)
		}
		send(h.String(), strings.Join(blocks, "\n\n"))
		return
	}
	for _, b := range blocks {
		Markdown(b)
	}
}

// Info shows a small grey note line (usage, notices).
func Info(line string) {
	if gonbui.IsNotebook {
		send(`<div class="gonbchat-info" style="color:#888;font-size:smaller">`+html.EscapeString(line)+`</div>`, line)
		return
	}
	fmt.Fprintln(os.Stdout, line)
}

// Error shows one readable error line. It never panics and never shows a stack trace.
func Error(line string) {
	if gonbui.IsNotebook {
		send(`<div class="gonbchat-error" style="color:#c00">✖ `+html.EscapeString(line)+`</div>`, "✖ "+line)
		return
	}
	fmt.Fprintln(os.Stderr, "✖ "+line)
}

// send shows a one-off output and waits until GoNB has it: a message still in the pipe when the
// cell program exits is lost, and these lines are often a cell's last words.
func send(htm, plain string) {
	gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMETextHTML: htm, protocol.MIMETextPlain: plain}})
	gonbui.Sync()
}
