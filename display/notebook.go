//go:build !gonbchat_kernel

package display

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"html"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// sink carries a cell's messages: GoNB (gonbSink), or a recorder in tests. A Cell calls it with
// its lock held, in order: it must not call back into the Cell.
type sink interface {
	send(d *protocol.DisplayData)
	// sync waits until every message sent is delivered (the cell program may exit next).
	sync()
	// listen asks for the page's messages to address: f gets each value, in a goroutine of its
	// own, whenever one comes (maybe never). It does not wait for anything.
	listen(address string, f func(value string))
}

// gonbSink writes to GoNB: the cell's output when the Cell was made (gonbui in a cell program,
// the cell it serves in the kernel helper).
type gonbSink struct{ out gonbio.Output }

func (s gonbSink) send(d *protocol.DisplayData) { s.out.Send(d) }
func (s gonbSink) sync()                        { s.out.Sync() }

// listen subscribes to address through GoNB's comms, when a live Jupyter server started the
// kernel: elsewhere no page can answer, and GoNB would put its comms script in the cell's output
// and hold the cell's messages for seconds waiting for one. The subscription ends with the cell
// program; no message is ever awaited.
//
// It is off unless GONBCHAT_DISPLAY_ACK=1: GoNB's comms run on a websocket of their own, and the
// Jupyter server copies every later output of the notebook to it too, so the page downloads about
// twice what it shows for the rest of the session (measured: 490 KB against 293 KB without it for
// one long reply). The acknowledgement saves kernel-side bytes; the student's network pays more.
func (s gonbSink) listen(address string, f func(string)) {
	if !kernelenv.LiveServer() || os.Getenv(envAck) != "1" {
		return
	}
	s.out.Subscribe(address, f)
}

// envAck turns on the page's acknowledgement of append-mode scripts (see gonbSink.listen).
const envAck = "GONBCHAT_DISPLAY_ACK"

// status shows line in place of the thinking indicator until the first delta ("" brings the
// indicator back).
func (n *notebook) status(line string) {
	if n.started || n.inc.Source() != "" {
		return
	}
	h := n.words.thinking
	if line != "" {
		h = `<div class="gonbchat-status" style="color:#a60;font-style:italic">` + html.EscapeString(line) + `</div>`
	}
	n.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, nil)
}

// mode is how a notebook Cell streams.
type mode int

const (
	// modeAuto is modeAppend when a live Jupyter server (Notebook, Lab) started the kernel, so
	// that a browser may run the scripts, and modeReplace otherwise: nbconvert, papermill,
	// jupyter_client scripts, a test's sink. GONBCHAT_DISPLAY=replace|append overrides it.
	modeAuto mode = iota
	// modeReplace resends the whole rendered reply at each (throttled) update.
	modeReplace
	// modeAppend extends the reply through small scripts (see append.go).
	modeAppend
)

func (m mode) String() string {
	switch m {
	case modeReplace:
		return "replace"
	case modeAppend:
		return "append"
	}
	return "auto"
}

// envMode is the environment variable that overrides the auto mode: "replace" or "append".
const envMode = "GONBCHAT_DISPLAY"

func autoMode(s sink) mode {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(envMode))) {
	case "replace":
		return modeReplace
	case "append":
		return modeAppend
	}
	if _, gonb := s.(gonbSink); gonb && kernelenv.LiveServer() {
		return modeAppend
	}
	return modeReplace
}

// Defaults of the throttle.
const (
	// defaultInterval is the minimum time between two updates (of a small document).
	defaultInterval = 50 * time.Millisecond
	// defaultMaxLag bounds the delay between a Write and the update that shows it. The interval
	// grows with the document up to this bound (kept under 250 ms with room for timer jitter).
	defaultMaxLag = 240 * time.Millisecond
	// defaultSafety is the minimum time between two whole-container updates in append mode, for
	// frontends that run no JavaScript. It grows with the document.
	defaultSafety = 2 * time.Second
)

// stats is what a notebook cell did so far (tests and benchmarks read it).
type stats struct {
	mode mode
	// updates counts every message sent, on any display id.
	updates int
	// replaces counts whole messages of the main display (thinking and final included).
	replaces int
	// scripts counts append-mode script messages.
	scripts int
	// renderTime is the time spent in the Markdown renderer (see cpuNow).
	renderTime time.Duration
	// maxLag is the worst delay, on the cell's clock, between a Write and the update showing it.
	maxLag time.Duration
}

// notebook is what the two notebook writers share: the display, the sink, the source rendered
// so far, the throttle that decides when an update is due, and the final update. The writer
// embedding it supplies show, which sends an update of everything written so far.
type notebook struct {
	mu    *sync.Mutex // the Cell's; timers take it
	key   string      // random, names the reply's displays and elements
	id    string      // the main display: "gonbchat-" + key (also the container's element id)
	jsID  string      // append mode's script display: "gc" + key (short: it is in every script)
	sink  sink
	clock clock
	inc   *markdown.Incremental
	show  func(now time.Time)
	words words // the indicator and the cut-short notice, in the cell's language

	minInterval, maxLag, safety time.Duration

	started      bool          // the first delta has been shown
	lastFlush    time.Time     // when the last update was decided
	interval     time.Duration // current throttle interval (adaptive)
	pendingSince time.Time     // arrival of the oldest delta not shown yet; zero if none
	timer        timer
	timerGen     int
	jsShown      bool // the script display exists

	stats stats
}

// newNotebook starts a notebook reply: it shows the thinking indicator.
func newNotebook(mu *sync.Mutex, cfg config) *notebook {
	n := &notebook{
		mu: mu, key: newKey(), sink: cfg.sink, clock: cfg.clock, inc: renderer().NewIncremental(),
		minInterval: orDefault(cfg.interval, defaultInterval), maxLag: orDefault(cfg.maxLag, defaultMaxLag),
		safety: orDefault(cfg.safety, defaultSafety), words: wordsIn(cfg.lang),
	}
	n.id, n.jsID = "gonbchat-"+n.key, "gc"+n.key
	n.maxLag = max(n.maxLag, n.minInterval)
	n.interval = n.minInterval
	n.stats.mode = cfg.mode
	n.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: n.words.thinking}, nil)
	return n
}

// orDefault is d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// newKey returns ten random letters and digits (51 bits): display ids made with it are unique
// across the kernel (every cell is a new process) and the page.
func newKey() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano())^uint64(os.Getpid())<<40)
	}
	k := strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 36)
	return (strings.Repeat("0", 13) + k)[len(k)+3:] // the last 10 digits
}

// words are what a cell shows of its own: the thinking indicator and the cut-short notice.
type words struct{ thinking, interrupted string }

// wordsIn is the cell's words in lang (zh-TW, zh-CN; anything else: English), as chatcell's
// usage line under the reply.
func wordsIn(lang string) words {
	thinking, cut := "thinking…", "reply cut short"
	switch lang {
	case "zh-TW":
		thinking, cut = "思考中…", "回覆被截斷"
	case "zh-CN":
		thinking, cut = "思考中…", "回复被截断"
	}
	return words{
		thinking:    `<div class="gonbchat-thinking" style="color:#888;font-style:italic">` + thinking + `</div>`,
		interrupted: `<div class="gonbchat-interrupted" style="color:#a60">⚠ ` + cut + `</div>`,
	}
}

// thinkingHTML and interruptedHTML are the English words (the default).
var (
	thinkingHTML    = wordsIn("en").thinking
	interruptedHTML = wordsIn("en").interrupted
)

// write takes a delta: the first one, and one after a quiet interval, are shown at once; others
// one interval after the oldest delta not shown yet.
func (n *notebook) write(delta string) {
	t0 := cpuNow()
	n.inc.Append(delta)
	n.stats.renderTime += cpuNow() - t0
	now := n.clock.Now()
	idle := n.pendingSince.IsZero()
	if idle {
		n.pendingSince = now
	}
	if !n.started || idle && now.Sub(n.lastFlush) >= n.interval {
		n.flush(now)
		return
	}
	if n.timer == nil {
		// Due one interval after the oldest delta not shown (not after the last update): as
		// few updates as the lag bound allows.
		n.arm(n.pendingSince.Add(n.interval).Sub(now))
	}
}

func (n *notebook) arm(d time.Duration) {
	n.timerGen++
	gen := n.timerGen
	n.timer = n.clock.AfterFunc(d, func() { n.onTimer(gen) })
}

func (n *notebook) stopTimer() {
	n.timerGen++
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
}

func (n *notebook) onTimer(gen int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if gen != n.timerGen {
		return // stopped, or closed
	}
	n.timer = nil
	if n.pendingSince.IsZero() {
		return
	}
	now := n.clock.Now()
	if d := n.pendingSince.Add(n.interval).Sub(now); d > 0 {
		n.arm(d)
		return
	}
	n.flush(now)
}

// flush shows everything written so far.
func (n *notebook) flush(now time.Time) {
	if lag := now.Sub(n.pendingSince); lag > n.stats.maxLag {
		n.stats.maxLag = lag
	}
	n.pendingSince = time.Time{}
	n.stopTimer()
	n.started = true
	n.lastFlush = now
	n.show(now)
}

// intervalFor is the throttle interval after an update that resent n bytes of HTML: it grows
// with b (bytes sent per second stay bounded) up to the maximum lag.
func (n *notebook) intervalFor(b int) time.Duration {
	return min(n.minInterval+time.Duration(b)*intervalPerByte, n.maxLag)
}

const intervalPerByte = 100 * time.Microsecond // 50 ms + 100 µs/B: the cap (240 ms) at ~1.9 KB

// close sends the final update: the exact full render and the Markdown source, with meta and
// the cell's own keys as output metadata, then empties the script display if there is one.
func (n *notebook) close(cutShort bool, meta map[string]any) {
	n.stopTimer()
	if !n.pendingSince.IsZero() {
		if lag := n.clock.Now().Sub(n.pendingSince); lag > n.stats.maxLag {
			n.stats.maxLag = lag
		}
		n.pendingSince = time.Time{}
	}
	src := n.inc.Source()
	t0 := cpuNow()
	htm := render(src)
	n.stats.renderTime += cpuNow() - t0
	if cutShort {
		htm += n.words.interrupted
	}
	g := metadata(meta)
	g["interrupted"] = cutShort
	g["updates"] = n.stats.updates + 1 + btoi(n.jsShown) // this one, and the script display's last
	g["mode"] = n.stats.mode.String()
	n.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: htm, protocol.MIMETextPlain: src},
		map[string]any{"gonbchat": g})
	if n.jsShown {
		// Leave no script behind in the saved notebook.
		n.sendJS("")
	}
	n.sink.sync()
}

// metadata returns a copy of meta made of JSON's types only (map[string]any, []any, string,
// float64, bool, nil), which is what the saved notebook keeps anyway and what gob carries to
// GoNB: a type gob does not know would close the pipe, and nothing more would reach the
// notebook. When JSON cannot encode meta, the copy says why in "meta_error" instead.
func metadata(meta map[string]any) map[string]any {
	g := map[string]any{}
	if len(meta) == 0 {
		return g
	}
	b, err := json.Marshal(meta)
	if err == nil {
		err = json.Unmarshal(b, &g)
	}
	if err != nil {
		return map[string]any{"meta_error": err.Error()}
	}
	return g
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (n *notebook) sendMain(data map[protocol.MIMEType]any, meta map[string]any) {
	n.stats.updates++
	n.stats.replaces++
	n.sink.send(&protocol.DisplayData{Data: data, Metadata: meta, DisplayID: n.id})
}

func (n *notebook) sendJS(h string) {
	n.stats.updates++
	if h != "" {
		n.stats.scripts++
	}
	n.jsShown = true
	n.sink.send(&protocol.DisplayData{Data: map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, DisplayID: n.jsID})
}
