// Package markdown renders model output (untrusted Markdown) to safe HTML for notebook cells.
//
// It is goldmark in its safe default (no raw HTML, no dangerous link schemes) with GFM, and an
// incremental mode for streaming: completed top-level blocks are rendered once and cached, only
// the open tail is re-rendered as deltas arrive, and the final render is always a full one.
//
// On top of goldmark's GFM the configuration adds:
//
//   - CJK: soft line breaks between CJK characters are not rendered as spaces, and emphasis
//     follows the CommonMark CJK-friendly amendments, so `**注意：**这个` is bold (cjk.go).
//   - math passthrough for MathJax: $…$, $$…$$, \(…\), \[…\] reach the page untouched but
//     HTML-escaped, and "$5 and $10" stays text (math.go). With WithMathML, the same formulas
//     are rendered as MathML instead, for pages without MathJax (mathml.go).
//   - chroma highlighting of fenced code with inline styles (no CSS classes, so it survives
//     JupyterLab's sanitizer and nbconvert). Only the full render and committed blocks are
//     highlighted; the streamed tail is rendered plain (RenderPlain), which is much cheaper.
//   - GFM tables aligned with align= attributes rather than style=.
//
// API: Render is the reference (final) render; RenderPlain is the same without highlighting.
// NewIncremental streams: Append deltas, then Blocks returns the committed blocks (HTML that
// never changes again, rendered like Render) and the open tail (rendered like RenderPlain);
// Committed tells how much of the source the committed blocks cover, and Final is Render of the
// whole source. See incremental.go for when a block is committed.
package markdown

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	highlighting "github.com/yuin/goldmark-highlighting/v2"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// HighlightStyle is the chroma style used for fenced code blocks.
const HighlightStyle = "github"

// codeStyle is HighlightStyle without a colour for whitespace (the background's own colour), so
// that spaces and newlines are not each wrapped in a span.
var codeStyle = func() *chroma.Style {
	base := styles.Get(HighlightStyle)
	s, err := base.Builder().Add(chroma.TextWhitespace, "noinherit").Build()
	if err != nil {
		return base
	}
	return s
}()

// codePre is the opening of a highlighted block: chroma's own <pre> for the style, written once
// here because chroma's per-line wrappers (a <span style="display:flex;"> and a <span> around
// every line, for line highlighting, which we do not use) are left out: they were a third of a
// code block's bytes on GoNB's wire.
var codePre = func() string {
	var b strings.Builder
	if err := chromahtml.New(chromahtml.WithClasses(false)).Format(&b, codeStyle, chroma.Literator()); err != nil {
		return "<pre><code>"
	}
	pre, _, _ := strings.Cut(b.String(), "</code>") // chroma's <pre …><code>, with nothing in it
	return pre
}()

// codeWrapper writes the <pre><code> around a fenced block: codePre around a highlighted one,
// and <pre><code class="language-…"> (goldmark's own form) around one that is not.
func codeWrapper(w util.BufWriter, c highlighting.CodeBlockContext, entering bool) {
	switch {
	case !entering:
		_, _ = w.WriteString("</code></pre>")
		if !c.Highlighted() {
			_ = w.WriteByte('\n')
		}
	case c.Highlighted():
		_, _ = w.WriteString(codePre)
	default:
		_, _ = w.WriteString("<pre><code")
		if lang, ok := c.Language(); ok && lang != nil {
			_, _ = w.WriteString(` class="language-`)
			_, _ = w.Write(util.EscapeHTML(lang))
			_ = w.WriteByte('"')
		}
		_ = w.WriteByte('>')
	}
}

// Renderer renders Markdown to HTML. The zero value is not usable; call New.
// A Renderer is safe for concurrent use.
type Renderer struct {
	parser    parser.Parser     // shared by both renderers: highlighting is a render-time concern only
	highlight renderer.Renderer // full renders and committed blocks
	plain     renderer.Renderer // the streamed tail: fenced code as plain <pre><code>
}

// An Option changes a Renderer's configuration from the default (the one notebooks use).
type Option func(*options)

type options struct {
	mathML bool
}

// WithMathML renders math as MathML (<math> elements, which browsers lay out natively, with no
// script) rather than passing the TeX through for MathJax: for pages that have no MathJax, such
// as webchat's. A formula the converter does not understand (an unknown command, unbalanced
// braces, …) is shown as its TeX, in <code class="tex"> (inline) or <pre class="tex"> (display).
func WithMathML() Option { return func(o *options) { o.mathML = true } }

// New returns a Renderer with the project's configuration, changed by opts.
func New(opts ...Option) *Renderer {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	hl := newGoldmark(true, o)
	return &Renderer{parser: hl.Parser(), highlight: hl.Renderer(), plain: newGoldmark(false, o).Renderer()}
}

func newGoldmark(highlight bool, o options) goldmark.Markdown {
	// goldmark's emphasis parser (CommonMark flanking) is replaced by the CJK-friendly one.
	var inlines []util.PrioritizedValue
	for _, v := range parser.DefaultInlineParsers() {
		if v.Value != parser.NewEmphasisParser() {
			inlines = append(inlines, v)
		}
	}
	inlines = append(inlines,
		util.Prioritized(cjkEmphasisParser{}, 500),
		util.Prioritized(cjkStrikeParser{}, 500))
	p := parser.NewParser(
		parser.WithBlockParsers(parser.DefaultBlockParsers()...),
		parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
	)
	exts := []goldmark.Extender{
		// GFM, spelled out: extension.Strikethrough's parser is replaced by cjkStrikeParser.
		extension.Linkify,
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		strikethroughRenderer{},
		extension.TaskList,
		extension.CJK,
		mathExtension{mathML: o.mathML},
	}
	if highlight {
		exts = append(exts, highlighting.NewHighlighting(
			highlighting.WithCustomStyle(codeStyle),
			highlighting.WithFormatOptions(chromahtml.WithClasses(false), chromahtml.PreventSurroundingPre(true)),
			highlighting.WithWrapperRenderer(codeWrapper),
		))
	}
	return goldmark.New(goldmark.WithParser(p), goldmark.WithExtensions(exts...))
}

// strikethroughRenderer registers goldmark's strikethrough HTML renderer (the parser is ours).
type strikethroughRenderer struct{}

func (strikethroughRenderer) Extend(m goldmark.Markdown) {
	m.Renderer().AddOptions(renderer.WithNodeRenderers(
		util.Prioritized(extension.NewStrikethroughHTMLRenderer(), 500)))
}

// Render renders the whole document. It is the reference result: streaming must end in exactly this.
func (r *Renderer) Render(src string) string { return r.render(r.highlight, []byte(src)) }

// RenderPlain renders like Render but leaves fenced code unhighlighted (<pre><code class=
// "language-go">). It is what the streamed tail uses: a few times cheaper on code-heavy text.
func (r *Renderer) RenderPlain(src string) string { return r.render(r.plain, []byte(src)) }

func (r *Renderer) render(rd renderer.Renderer, src []byte) string {
	src = validUTF8(src)
	doc := r.parse(src, parser.NewContext())
	var buf bytes.Buffer
	if err := rd.Render(&buf, src, doc); err != nil {
		return "<pre>" + escape(string(src)) + "</pre>"
	}
	return buf.String()
}

// validUTF8 returns src with each byte that is not part of valid UTF-8 replaced by '?' (src
// itself if it is valid). goldmark can panic on invalid UTF-8 (its CJK line-break code reads
// runes backwards), and the replacement keeps every offset, which streaming relies on. Model
// output arrives as JSON strings, so this only matters for deltas cut inside a character: the
// open tail shows a '?' until the rest of the character arrives.
func validUTF8(src []byte) []byte {
	if utf8.Valid(src) {
		return src
	}
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, '?')
		} else {
			out = append(out, src[i:i+n]...)
		}
		i += n
	}
	return out
}

func (r *Renderer) parse(src []byte, pc parser.Context) ast.Node {
	return r.parser.Parse(text.NewReader(src), parser.WithContext(pc))
}

// renderNodes renders the consecutive top-level nodes [from, to) of a parsed document.
func (r *Renderer) renderNodes(rd renderer.Renderer, src []byte, from, to ast.Node) string {
	var buf bytes.Buffer
	for n := from; n != to; n = n.NextSibling() {
		if err := rd.Render(&buf, src, n); err != nil {
			return "<pre>" + escape(string(src)) + "</pre>"
		}
	}
	return buf.String()
}

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
