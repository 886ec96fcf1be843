package markdown

// Incremental rendering.
//
// The streamed document is split at a byte offset cut: src[:cut] is committed (its HTML was
// rendered once, highlighted, and will never change) and src[cut:] is the open tail, re-parsed
// and re-rendered (plain) on each call. cut only moves forward, and only to the start of a line
// where a new top-level block begins and every block before it is closed for good.
//
// Why that is safe. goldmark parses block structure line by line, and once a complete line has
// closed a top-level block nothing later can reopen or reinterpret it; the document after that
// line parses exactly as a fresh document (every block is closed, so the parser is back in its
// initial state). What later text can still change:
//
//   - the last block (a paragraph may become a setext heading or a table, a list may get another
//     item and become loose, an unclosed fence swallows everything): never committed, unless it
//     is final by itself (below);
//   - a block whose closing line is not complete yet ("2" may become "2. item" and join the list
//     above): a block is committed only when the next block starts on a complete line;
//   - links by reference: a definition anywhere resolves [label] anywhere. A block whose text
//     still contains a literal ] (outside code) is never committed, since a definition later
//     could turn it into a link; and while the tail contains a definition nothing is committed
//     (the tail, rendered on its own, must keep seeing it);
//   - one source paragraph that became several top-level nodes (the math passthrough splits out
//     display math; a GFM table keeps the lines before its header row as a paragraph): such a
//     run of nodes is one group, committed together or not at all.
//
// The unit of commitment is therefore a group of top-level nodes, and Blocks returns one HTML
// string per group. As a safety net, each commit is checked when it is made: the committed part
// and the rest, each rendered as a document of its own, must give exactly the HTML of the nodes
// of the whole; if not, nothing is committed (and the tests count such refusals: there are none
// on the test documents and on thousands of random ones).
//
// A last block is final by itself when its closing line is complete and it is a fenced code
// block with its closing fence, display math with its closer, an ATX or setext heading, or a
// thematic break: those are committed at once, so a finished code block is highlighted while
// the answer goes on.

import (
	"bytes"

	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
)

// Incremental renders a document that grows by appended deltas. It is not safe for concurrent use.
type Incremental struct {
	r         *Renderer
	src       []byte
	committed []string // HTML of committed blocks, append-only
	cut       int      // src[:cut] is committed
	tail      string   // HTML of src[cut:], valid when fresh
	fresh     bool     // committed and tail reflect all of src
	rejected  int      // commits refused by the clean-split check (tests expect 0)
}

// NewIncremental starts an empty streamed document.
func (r *Renderer) NewIncremental() *Incremental { return &Incremental{r: r, fresh: true} }

// Append adds a delta to the document.
func (inc *Incremental) Append(delta string) {
	if delta == "" {
		return
	}
	inc.src = append(inc.src, delta...)
	inc.fresh = false
}

// Source returns the Markdown received so far.
func (inc *Incremental) Source() string { return string(inc.src) }

// Blocks returns the HTML of the committed blocks (final: they never change again) and of the open
// tail (may change as more deltas arrive). Committed grows append-only between calls: a caller
// may send committed[k:] once, for the k it has already sent, and re-send only the tail. Each
// committed string is one top-level block, or a few that came from one source block.
//
// The committed blocks are rendered as Render would render them (code highlighted); the tail is
// rendered as RenderPlain would (code not highlighted). The cost is one parse and render of the
// tail, not of the whole document; calling Blocks again without an Append is free.
func (inc *Incremental) Blocks() (committed []string, tail string) {
	if !inc.fresh {
		inc.update()
	}
	return inc.committed[:len(inc.committed):len(inc.committed)], inc.tail
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

// Final returns the full, exact render of the whole document: Render(Source()).
func (inc *Incremental) Final() string { return inc.r.Render(string(inc.src)) }

// Committed returns how many bytes of the source are committed (rendered once, never again).
func (inc *Incremental) Committed() int {
	if !inc.fresh {
		inc.update()
	}
	return inc.cut
}

func (inc *Incremental) update() {
	src := validUTF8(inc.src[inc.cut:])
	pc := parser.NewContext()
	doc := inc.r.parse(src, pc)
	first := doc.FirstChild()
	upTo, advance := commitPoint(doc, src, len(pc.References()) > 0)
	tail := inc.r.renderNodes(inc.r.plain, src, upTo, nil)
	if upTo != first {
		// Belt and braces: the split must be clean, i.e. the two sides rendered as documents of
		// their own give the same HTML as the nodes of the whole. If not (a block whose start was
		// misjudged), commit nothing now; the next call tries again with more text.
		// Checked with the plain renderer: highlighting renders the same nodes either way, and
		// chroma is the expensive part.
		if inc.r.renderNodes(inc.r.plain, src, first, upTo) == inc.r.render(inc.r.plain, src[:advance]) &&
			tail == inc.r.render(inc.r.plain, src[advance:]) {
			for g := first; g != upTo; {
				next := groupEnd(g, src)
				inc.committed = append(inc.committed, inc.r.renderNodes(inc.r.highlight, src, g, next))
				g = next
			}
			inc.cut += advance
		} else {
			inc.rejected++
			tail = inc.r.renderNodes(inc.r.plain, src, first, nil)
		}
	}
	inc.tail = tail
	inc.fresh = true
}

// commitPoint decides how much of the parsed tail src can be committed: the top-level nodes before
// upTo (nil: all of them), which end before byte offset advance of src, where the remaining nodes
// start (at a line start). upTo == doc.FirstChild() commits nothing.
func commitPoint(doc ast.Node, src []byte, hasRefs bool) (upTo ast.Node, advance int) {
	upTo = doc.FirstChild()
	if hasRefs {
		return upTo, 0
	}
	lastNL := bytes.LastIndexByte(src, '\n')
	for g := upTo; g != nil; {
		next := groupEnd(g, src)
		for n := g; n != next; n = n.NextSibling() {
			if mayBecomeLink(n, src) {
				return upTo, advance
			}
		}
		if next == nil {
			// The last group: commit it only if it can no longer change at all.
			if g.NextSibling() == nil && finalByItself(g, src, lastNL) {
				return nil, lastNL + 1
			}
			return upTo, advance
		}
		start := lineStart(src, nodeStart(next, src))
		if start < 0 || start <= advance || start > lastNL {
			// The next block's first line is not complete yet (or its position is unknown).
			return upTo, advance
		}
		upTo, advance = next, start
		g = next
	}
	return upTo, advance
}

// groupEnd returns the node after the run of top-level nodes that starts at g and came from one
// source block. Two transformations split one source paragraph into several top-level nodes:
// the math passthrough (paragraphs and math blocks, which carry the extension's marks) and GFM
// tables (a paragraph followed by a table that takes the paragraph's position). A node joins the
// group if it starts on a line the group's content reaches, or if it and the group's last node
// are pieces of a split paragraph with no blank line between them. Merging more than one source
// block into a group is only conservative.
func groupEnd(g ast.Node, src []byte) ast.Node {
	_, end := nodeSpan(g, src)
	piece := mathPiece(g)
	n := g.NextSibling()
	for n != nil {
		nStart, nEnd := nodeSpan(n, src)
		start := lineStart(src, nStart)
		joins := start < end
		if !joins && piece && mathPiece(n) && start >= 0 && end >= 0 {
			joins = bytes.Count(src[end:start], []byte{'\n'}) < 2 // no blank line between
		}
		if !joins {
			break
		}
		end = max(end, nEnd)
		piece = mathPiece(n)
		n = n.NextSibling()
	}
	return n
}

// mathPiece reports a top-level node made by the math passthrough's split of a paragraph (not
// display math parsed as a block of its own).
func mathPiece(n ast.Node) bool {
	if _, ok := n.(*mathBlock); ok {
		return false
	}
	if n.Kind() == passthrough.KindPassthroughBlock {
		return true
	}
	_, ok := n.AttributeString("passthrough_processed")
	return ok
}

// finalByItself reports whether the last top-level block n is complete and closed by a complete
// line, so that no appended text can change it.
func finalByItself(n ast.Node, src []byte, lastNL int) bool {
	if lastNL < 0 || len(bytes.TrimLeft(src[lastNL+1:], " \t")) != 0 {
		// An unfinished last line: it may still continue the block.
		return false
	}
	switch n := n.(type) {
	case *ast.Heading, *ast.ThematicBreak:
		return true
	case *mathBlock:
		return n.closed
	case *ast.FencedCodeBlock:
		// Without its closing fence a fenced block runs to the end of the document, so all lines
		// after its content are content. Anything non-blank after the content is the closing fence.
		end := lineEnd(src, nodeStart(n, src))
		if l := n.Lines(); l.Len() > 0 {
			end = l.At(l.Len() - 1).Stop
		}
		return end >= 0 && end <= len(src) && len(bytes.TrimSpace(src[end:])) > 0
	}
	return false
}

// mayBecomeLink reports whether the text of n contains a literal ], outside code: a link reference
// definition appended later could turn it into a link. Every link by reference ends in a ] that,
// while the reference is unresolved, is text (code spans, autolinks and raw HTML bind tighter).
func mayBecomeLink(n ast.Node, src []byte) bool {
	found := false
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.CodeSpan, *ast.CodeBlock, *ast.FencedCodeBlock, *ast.HTMLBlock, *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			if bytes.IndexByte(c.Segment.Value(src), ']') >= 0 {
				found = true
				return ast.WalkStop, nil
			}
		case *ast.String:
			if bytes.IndexByte(c.Value, ']') >= 0 {
				found = true
				return ast.WalkStop, nil
			}
		}
		return ast.WalkContinue, nil
	})
	return found
}

// nodeSpan returns the smallest source offset and the largest end offset (exclusive) found in
// n's subtree (positions, lines, text), in one walk; -1 where there is none.
func nodeSpan(n ast.Node, src []byte) (start, end int) {
	start, end = -1, -1
	take := func(lo, hi int) {
		if lo >= 0 && lo <= len(src) && (start < 0 || lo < start) {
			start = lo
		}
		if hi >= 0 && hi <= len(src) && hi > end {
			end = hi
		}
	}
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if p := c.Pos(); p >= 0 {
			take(p, p+1)
		}
		if c.Type() == ast.TypeBlock {
			if l := c.Lines(); l != nil && l.Len() > 0 {
				take(l.At(0).Start, l.At(l.Len()-1).Stop)
			}
		}
		switch c := c.(type) {
		case *ast.Text:
			take(c.Segment.Start, c.Segment.Stop)
		case *passthrough.PassthroughInline:
			take(c.Segment.Start, c.Segment.Stop)
		}
		return ast.WalkContinue, nil
	})
	return start, end
}

func nodeStart(n ast.Node, src []byte) int { start, _ := nodeSpan(n, src); return start }

// lineStart returns the offset of the start of the line containing offset i (-1 if i < 0).
func lineStart(src []byte, i int) int {
	if i < 0 {
		return -1
	}
	return bytes.LastIndexByte(src[:i], '\n') + 1
}

// lineEnd returns the offset just after the newline ending the line containing offset i, or
// len(src) if that line is not finished (-1 if i < 0).
func lineEnd(src []byte, i int) int {
	if i < 0 {
		return -1
	}
	if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(src)
}
