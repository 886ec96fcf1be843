// Package display shows a streamed Markdown reply in ONE updating notebook cell.
//
// In a GoNB notebook each reply gets one display_id: a "thinking…" indicator first, then
// throttled update_display_data messages with the HTML rendered so far, and a final update with
// the exact full render plus the Markdown source as text/plain. Outside a notebook the reply is
// written to standard output as it streams. Like gonbui, every verb is safe to call anywhere.
package display

import (
	"fmt"
	"html"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// Meta is the provenance recorded in the final update's output metadata.
type Meta struct {
	Model        string
	ResponseID   string
	InputTokens  int64
	OutputTokens int64
	TotalTokens  int64
	// Source says where the answer came from: "live", "offline" or "replayed".
	Source string
	// Interrupted is set when the reply was cut short (interrupt, dropped stream, error).
	Interrupted bool
}

// Sink receives display messages. The default sends them to GoNB with gonbui.SendData.
type Sink interface {
	Send(d *protocol.DisplayData)
}

type gonbSink struct{}

func (gonbSink) Send(d *protocol.DisplayData) { gonbui.SendData(d) }

// Option configures a Cell.
type Option func(*Cell)

// WithSink sends the cell's messages to s instead of GoNB (tests, benchmarks).
func WithSink(s Sink) Option { return func(c *Cell) { c.sink = s } }

// WithWriter makes the cell write to w as plain text instead of using a notebook display.
func WithWriter(w io.Writer) Option { return func(c *Cell) { c.w = w; c.sink = nil } }

// WithInterval sets the minimum time between two updates in replace mode.
func WithInterval(d time.Duration) Option { return func(c *Cell) { c.interval = d } }

var renderer = sync.OnceValue(markdown.New)

// Render renders Markdown to safe HTML exactly as the final update of a Cell does.
func Render(md string) string { return renderer().Render(md) }

// Cell is one reply's output. Create it with NewCell, feed it with Write, end it with Close.
type Cell struct {
	id       string
	sink     Sink
	w        io.Writer
	inc      *markdown.Incremental
	interval time.Duration
	last     time.Time
	dirty    bool
	closed   bool
	updates  int
}

// NewCell starts a reply. In a notebook it shows the thinking indicator at once.
func NewCell(opts ...Option) *Cell {
	c := &Cell{id: "gonbchat_" + gonbui.UniqueId(), interval: 120 * time.Millisecond, inc: renderer().NewIncremental()}
	if gonbui.IsNotebook {
		c.sink = gonbSink{}
	} else {
		c.w = os.Stdout
	}
	for _, o := range opts {
		o(c)
	}
	if c.sink != nil {
		c.send(map[protocol.MIMEType]any{protocol.MIMETextHTML: thinkingHTML}, nil)
	}
	return c
}

const thinkingHTML = `<div class="gonbchat-thinking" style="color:#888;font-style:italic">thinking…</div>`

// ID returns the cell's display_id.
func (c *Cell) ID() string { return c.id }

// Text returns the Markdown received so far.
func (c *Cell) Text() string { return c.inc.Source() }

// Updates returns how many messages the cell has sent.
func (c *Cell) Updates() int { return c.updates }

// Write appends a delta of the reply.
func (c *Cell) Write(delta string) {
	if c.closed || delta == "" {
		return
	}
	c.inc.Append(delta)
	if c.sink == nil {
		io.WriteString(c.w, delta)
		return
	}
	c.dirty = true
	if now := time.Now(); now.Sub(c.last) >= c.interval {
		c.last = now
		c.dirty = false
		c.send(map[protocol.MIMEType]any{protocol.MIMETextHTML: c.inc.HTML()}, nil)
	}
}

// Close sends the final update: the exact full render and the Markdown source, with m as metadata.
func (c *Cell) Close(m Meta) {
	if c.closed {
		return
	}
	c.closed = true
	src := c.inc.Source()
	if c.sink == nil {
		if src != "" && src[len(src)-1] != '\n' {
			io.WriteString(c.w, "\n")
		}
		return
	}
	htm := c.inc.Final()
	if m.Interrupted {
		htm += `<div class="gonbchat-interrupted" style="color:#a60">⚠ reply cut short</div>`
	}
	c.send(map[protocol.MIMEType]any{protocol.MIMETextHTML: htm, protocol.MIMETextPlain: src}, map[string]any{
		"gonbchat": map[string]any{
			"model": m.Model, "response_id": m.ResponseID, "source": m.Source, "interrupted": m.Interrupted,
			"usage":   map[string]any{"input_tokens": m.InputTokens, "output_tokens": m.OutputTokens, "total_tokens": m.TotalTokens},
			"updates": c.updates + 1,
		},
	})
	gonbui.Sync()
}

func (c *Cell) send(data map[protocol.MIMEType]any, meta map[string]any) {
	c.updates++
	c.sink.Send(&protocol.DisplayData{Data: data, Metadata: meta, DisplayID: c.id})
}

// Markdown shows a Markdown block (rendered safely) in the notebook, or prints it outside one.
func Markdown(md string) {
	if gonbui.IsNotebook {
		gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
			protocol.MIMETextHTML: Render(md), protocol.MIMETextPlain: md}})
		return
	}
	fmt.Fprintln(os.Stdout, md)
}

// Info shows a small grey note line (usage, notices).
func Info(line string) {
	if gonbui.IsNotebook {
		gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
			protocol.MIMETextHTML:  `<div class="gonbchat-info" style="color:#888;font-size:smaller">` + html.EscapeString(line) + `</div>`,
			protocol.MIMETextPlain: line}})
		return
	}
	fmt.Fprintln(os.Stdout, line)
}

// Error shows one readable error line. It never panics and never shows a stack trace.
func Error(line string) {
	if gonbui.IsNotebook {
		gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
			protocol.MIMETextHTML:  `<div class="gonbchat-error" style="color:#c00">✖ ` + html.EscapeString(line) + `</div>`,
			protocol.MIMETextPlain: "✖ " + line}})
		return
	}
	fmt.Fprintln(os.Stderr, "✖ "+line)
}
