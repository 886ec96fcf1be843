package markdown

// Math passthrough: TeX between math delimiters reaches MathJax in the notebook untouched (no
// emphasis, no escapes, no smart anything), but HTML-escaped: the hugo passthrough extension
// writes the TeX out raw, which would let `$<img src=x onerror=…>$` through, so its nodes are
// rendered here instead. Escaping does not change what MathJax sees: it reads the text of the
// DOM, where &lt; is <.
//
//	$$…$$ and \[…\]   display math (split out of the paragraph, like a block)
//	\(…\)             inline math
//	$…$               inline math, with pandoc's rule so that money stays text: the opening $
//	                  must be followed by a non-space, the closing $ preceded by a non-space and
//	                  not followed by a digit ("$5 and $10" is not math). \$ is a literal dollar.

import (
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
// dollar parser and the escaping renderers.
type mathExtension struct{}

func (mathExtension) Extend(m goldmark.Markdown) {
	passthrough.New(passthrough.Config{
		InlineDelimiters: []passthrough.Delimiters{{Open: `\(`, Close: `\)`}},
		BlockDelimiters:  []passthrough.Delimiters{{Open: "$$", Close: "$$"}, {Open: `\[`, Close: `\]`}},
	}).Extend(m)
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(dollarParser{}, 202)))
	// A lower priority value registers last and wins over the extension's raw renderers (99, 101).
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(mathRenderer{}, 10)))
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
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
		_ = w.WriteByte('\n')
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
