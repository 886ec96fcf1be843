//go:build !gonbchat_kernel

package display

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/lang"
)

// Cell is one streamed reply. Create it with NewCell, feed it with Write, end it with Close.
// Its methods are safe for concurrent use.
type Cell struct {
	mu       sync.Mutex
	w        writer
	cutShort bool
	closed   bool
	lang     string // the language of its own words
}

// writer is one way of showing a reply: the notebook's replace and append modes
// (replaceWriter, appendWriter) and text (textWriter). The Cell calls it with its lock held, never
// after close.
type writer interface {
	// write shows that the reply grew by delta (at once, or when the throttle says so).
	write(delta string)
	// close shows the whole reply for good; cutShort marks it as cut short, and meta is recorded
	// with it where the output keeps metadata.
	close(cutShort bool, meta map[string]any)
	// status shows a line while the reply waits, before any text ("" clears it).
	status(line string)
}

// NewCell starts a reply. In a notebook it shows the thinking indicator at once. Its own words
// (the indicator, the cut-short notice) are in the language of $GONBCHAT_LANG, else English.
func NewCell() *Cell { return NewCellIn("") }

// NewCellIn is NewCell with its own words in language ("zh-TW", "zh-CN" or "en"; "" or a tag it
// does not know: $GONBCHAT_LANG, else English). A chat passes its own language.
func NewCellIn(language string) *Cell {
	l := lang.Or(language)
	if out := gonbio.Current(); out.Notebook() {
		return newCell(config{sink: gonbSink{out}, lang: l})
	}
	return newCell(config{out: os.Stdout, lang: l})
}

// config is how a Cell is made. NewCell uses the defaults; tests and benchmarks set the rest.
type config struct {
	sink  sink      // in a notebook: where the display messages go
	out   io.Writer // else: where the text goes
	term  Terminal  // the terminal renderer (default: the registered one)
	clock clock     // default: the real clock
	mode  mode      // default: auto
	lang  string    // the language of the cell's own words (default: English)

	// The throttle (zero: the defaults).
	interval time.Duration // minimum time between two updates
	maxLag   time.Duration // longest a delta waits before an update shows it
	safety   time.Duration // minimum time between whole-container updates in append mode
}

func newCell(cfg config) *Cell {
	c := &Cell{lang: cfg.lang}
	if cfg.sink == nil {
		c.w = newTextWriter(cfg.out, cfg.term)
		return c
	}
	if cfg.clock == nil {
		cfg.clock = realClock{}
	}
	if cfg.mode == modeAuto {
		cfg.mode = autoMode(cfg.sink)
	}
	nb := newNotebook(&c.mu, cfg)
	if cfg.mode == modeAppend {
		c.w = newAppendWriter(nb)
	} else {
		c.w = newReplaceWriter(nb)
	}
	return c
}

// Write appends a delta of the reply's Markdown. In a notebook the first delta is shown at
// once, later ones within at most 250 ms; outside one, at once.
func (c *Cell) Write(delta string) {
	if delta == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.w.write(delta)
}

// Status shows line in place of the thinking indicator while the reply waits before any text
// (a retry's wait: "rate limited, retrying in 20 s (1/2)…"); "" brings the indicator back. Once
// text has arrived it shows nothing.
func (c *Cell) Status(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.w.status(line)
	}
}

// CutShort marks the reply as cut short (an interrupt, a dropped stream, an error): its final
// render ends with a notice, and its metadata records "interrupted": true.
func (c *Cell) CutShort() {
	c.mu.Lock()
	c.cutShort = true
	c.mu.Unlock()
}

// Close ends the reply. In a notebook it sends the final update: the exact full render and the
// Markdown source, with meta in the output metadata under "gonbchat" (as JSON has it: numbers
// become float64, values JSON cannot encode are replaced by a "meta_error" key), next to the
// cell's own keys ("interrupted", "updates" and "mode", which win over the same keys in meta).
// Nothing written is lost: the final update holds every delta. A second Close, and a Write after
// Close, do nothing.
func (c *Cell) Close(meta map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.w.close(c.cutShort, meta)
}
