package markdown

// Math passthrough: TeX between math delimiters reaches MathJax in the notebook untouched (no
// emphasis, no escapes, no smart anything), but HTML-escaped: the hugo passthrough extension
// writes the TeX out raw, which would let `$<img src=x onerror=…>$` through, so its nodes are
// rendered here instead. Escaping does not change what MathJax sees: it reads the text of the
// DOM, where &lt; is <.
//
//	$$…$$ and \[…\]   display math. On lines of their own (the opener alone on its line, or
//	                  the whole formula on one line) they are a block, like a fence: the lines
//	                  between are math even if they look like Markdown ("- 2x", "# n"), and the
//	                  block ends at the line with the closer. It also ends at a blank line (TeX
//	                  display math has no blank lines); unclosed, it is an ordinary paragraph.
//	                  Elsewhere in a paragraph they are split out of it (the hugo extension).
//	\(…\)             inline math
//	$…$               inline math, with pandoc's rule so that money stays text: the opening $
//	                  must be followed by a non-space, the closing $ preceded by a non-space and
//	                  not followed by a digit ("$5 and $10" is not math). \$ is a literal dollar.

import (
	"bytes"

	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

var dollar = &passthrough.Delimiters{Open: "$", Close: "$"}

// mathExtension is the hugo passthrough extension configured for MathJax's delimiters, plus the
// dollar parser and the escaping renderers (or, with mathML, the MathML renderers).
type mathExtension struct{ mathML bool }

func (e mathExtension) Extend(m goldmark.Markdown) {
	passthrough.New(passthrough.Config{
		InlineDelimiters: []passthrough.Delimiters{{Open: `\(`, Close: `\)`}},
		BlockDelimiters:  []passthrough.Delimiters{{Open: "$$", Close: "$$"}, {Open: `\[`, Close: `\]`}},
	}).Extend(m)
	m.Parser().AddOptions(
		parser.WithInlineParsers(util.Prioritized(dollarParser{}, 202)),
		// Before the paragraph parser and the others that could claim a "$$" or "\[" line.
		parser.WithBlockParsers(util.Prioritized(mathBlockParser{}, 90)),
	)
	// A lower priority value registers last and wins over the extension's raw renderers (99, 101).
	var r renderer.NodeRenderer = mathRenderer{}
	if e.mathML {
		r = mathMLRenderer{}
	}
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(r, 10)))
}

// dollarParser parses $…$ inline math. It runs after the passthrough parser, which takes $$.
type dollarParser struct{}

func (dollarParser) Trigger() []byte { return []byte{'$'} }

func (dollarParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, start := block.PeekLine()
	if len(line) < 3 || line[0] != '$' || line[1] == '$' || isSpaceByte(line[1]) || block.PrecendingCharacter() == '$' {
		return nil
	}
	savedLine, savedPos := block.Position()
	block.Advance(1)
	prev := byte('$')
	for {
		line, seg := block.PeekLine()
		if line == nil {
			block.SetPosition(savedLine, savedPos)
			return nil
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\\' && i+1 < len(line):
				i++
				c = line[i]
			case c == '`':
				// A code span binds tighter than math: skip it (when it closes on this line).
				i = skipCodeSpan(line, i)
				c = line[i]
			case c == '$' && prev != '$' && !isSpaceByte(prev):
				if i+1 < len(line) && (line[i+1] == '$' || line[i+1] >= '0' && line[i+1] <= '9') {
					break
				}
				block.Advance(i + 1)
				return &passthrough.PassthroughInline{
					Segment:    start.WithStop(seg.Start + i + 1),
					Delimiters: dollar,
				}
			}
			prev = c
		}
		block.AdvanceLine()
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// mathBlock is display math parsed as a block. Its kind is the extension's (so that it renders
// the same), but its lines are raw: not parsed as inlines.
type mathBlock struct {
	passthrough.PassthroughBlock
	closer string
	closed bool
}

// IsRaw implements ast.Node.
func (*mathBlock) IsRaw() bool { return true }

var blockDelims = []passthrough.Delimiters{{Open: "$$", Close: "$$"}, {Open: `\[`, Close: `\]`}}

type mathBlockParser struct{}

func (mathBlockParser) Trigger() []byte { return []byte{'$', '\\'} }

func (mathBlockParser) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, seg := reader.PeekLine()
	pos := pc.BlockOffset()
	if pos < 0 || pos >= len(line) {
		return nil, parser.NoChildren
	}
	rest := line[pos:]
	for i := range blockDelims {
		d := &blockDelims[i]
		if !bytes.HasPrefix(rest, []byte(d.Open)) {
			continue
		}
		body := rest[len(d.Open):]
		start := seg.Start - seg.Padding + pos // line has seg.Padding spaces for a tab before seg.Start
		node := &mathBlock{closer: d.Close}
		node.Delimiters = d
		if util.IsBlank(body) { // the opener alone on its line
			node.Lines().Append(text.NewSegment(start, seg.Stop))
			reader.AdvanceToEOL()
			return node, parser.NoChildren
		}
		// The whole formula on one line, and nothing after it.
		j := bytes.Index(body, []byte(d.Close))
		if j <= 0 || !util.IsBlank(body[j+len(d.Close):]) {
			return nil, parser.NoChildren
		}
		node.Lines().Append(text.NewSegment(start, start+len(d.Open)+j+len(d.Close)))
		node.closed = true
		reader.AdvanceToEOL()
		return node, parser.NoChildren
	}
	return nil, parser.NoChildren
}

func (mathBlockParser) Continue(node ast.Node, reader text.Reader, pc parser.Context) parser.State {
	m := node.(*mathBlock)
	if m.closed {
		return parser.Close
	}
	line, seg := reader.PeekLine()
	if util.IsBlank(line) {
		return parser.Close // unclosed: see Close
	}
	m.Lines().Append(seg)
	reader.AdvanceToEOL()
	if bytes.Contains(line, []byte(m.closer)) {
		m.closed = true
		return parser.Close
	}
	return parser.Continue | parser.NoChildren
}

// Close turns an unclosed block into the paragraph it would have been.
func (mathBlockParser) Close(node ast.Node, reader text.Reader, pc parser.Context) {
	m := node.(*mathBlock)
	if m.closed || m.Parent() == nil {
		return
	}
	p := ast.NewParagraph()
	p.SetPos(m.Pos())
	for i := 0; i < m.Lines().Len(); i++ {
		seg := m.Lines().At(i)
		seg = seg.TrimLeftSpace(reader.Source())
		if i == m.Lines().Len()-1 {
			seg = seg.TrimRightSpace(reader.Source())
		}
		p.Lines().Append(seg)
	}
	p.SetBlankPreviousLines(m.HasBlankPreviousLines())
	m.Parent().ReplaceChild(m.Parent(), m, p)
}

func (mathBlockParser) CanInterruptParagraph() bool { return true }
func (mathBlockParser) CanAcceptIndentedLine() bool { return false }

// mathRenderer writes passthrough math HTML-escaped.
type mathRenderer struct{}

func (mathRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(passthrough.KindPassthroughInline, renderMathInline)
	reg.Register(passthrough.KindPassthroughBlock, renderMathBlock)
}

func renderMathInline(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		if p, ok := n.(*passthrough.PassthroughInline); ok {
			_, _ = w.Write(util.EscapeHTML(p.Segment.Value(source)))
		}
	}
	return ast.WalkSkipChildren, nil
}

func renderMathBlock(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		lines := n.Lines()
		var last []byte
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			last = seg.Value(source)
			_, _ = w.Write(util.EscapeHTML(last))
		}
		if len(last) == 0 || last[len(last)-1] != '\n' {
			_ = w.WriteByte('\n')
		}
	}
	return ast.WalkSkipChildren, nil
}

// skipCodeSpan returns the index of the last backtick of the code span that opens at line[i], or
// of the last backtick of the opening run if the span does not close on this line.
func skipCodeSpan(line []byte, i int) int {
	n := 0
	for i+n < len(line) && line[i+n] == '`' {
		n++
	}
	for j := i + n; j < len(line); {
		if line[j] != '`' {
			j++
			continue
		}
		k := 0
		for j+k < len(line) && line[j+k] == '`' {
			k++
		}
		if k == n {
			return j + k - 1
		}
		j += k
	}
	return i + n - 1
}

// mathMLRenderer writes math as MathML (WithMathML), or, where the converter fails, as its TeX
// in a code span (inline) or a code block (display).
type mathMLRenderer struct{}

func (mathMLRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(passthrough.KindPassthroughInline, renderMathMLInline)
	reg.Register(passthrough.KindPassthroughBlock, renderMathMLBlock)
}

// splitMath returns the TeX between the delimiters of a formula's source, and what follows the
// closer (only a display block's last line can have something there).
func splitMath(src []byte, d *passthrough.Delimiters) (tex, after []byte, ok bool) {
	src = bytes.TrimSpace(src)
	if d == nil || !bytes.HasPrefix(src, []byte(d.Open)) {
		return nil, nil, false
	}
	body := src[len(d.Open):]
	i := bytes.Index(body, []byte(d.Close))
	if i < 0 {
		return nil, nil, false
	}
	return body[:i], body[i+len(d.Close):], true
}

func renderMathMLInline(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	p, ok := n.(*passthrough.PassthroughInline)
	if !entering || !ok {
		return ast.WalkSkipChildren, nil
	}
	src := p.Segment.Value(source)
	display := p.Delimiters != nil && (p.Delimiters.Open == "$$" || p.Delimiters.Open == `\[`)
	if tex, after, ok := splitMath(src, p.Delimiters); ok && len(bytes.TrimSpace(after)) == 0 {
		if out, ok := texToMathML(string(tex), display); ok {
			_, _ = w.WriteString(out)
			return ast.WalkSkipChildren, nil
		}
	}
	_, _ = w.WriteString(`<code class="tex">`)
	_, _ = w.Write(util.EscapeHTML(src))
	_, _ = w.WriteString(`</code>`)
	return ast.WalkSkipChildren, nil
}

func renderMathMLBlock(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	var src []byte
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		src = append(src, seg.Value(source)...)
	}
	var d *passthrough.Delimiters
	switch n := n.(type) {
	case *mathBlock:
		d = n.Delimiters
	case *passthrough.PassthroughBlock:
		d = n.Delimiters
	}
	if tex, after, ok := splitMath(src, d); ok {
		if out, ok := texToMathML(string(tex), true); ok {
			_, _ = w.WriteString(out)
			if after = bytes.TrimSpace(after); len(after) > 0 {
				_, _ = w.Write(util.EscapeHTML(after))
			}
			_ = w.WriteByte('\n')
			return ast.WalkSkipChildren, nil
		}
	}
	_, _ = w.WriteString(`<pre class="tex"><code>`)
	_, _ = w.Write(util.EscapeHTML(bytes.TrimRight(src, " \t\n")))
	_, _ = w.WriteString("</code></pre>\n")
	return ast.WalkSkipChildren, nil
}
