//go:build !gonbchat_kernel

package display

import (
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// replaceWriter streams by resending the whole reply at each update: it works in every
// frontend, and costs about the square of the answer's size.
type replaceWriter struct {
	*notebook
	lastHTML string // the HTML last sent
	// The committed source rendered plain, and how much of the source that is.
	plainCommitted strings.Builder
	plainCut       int
}

func newReplaceWriter(n *notebook) *replaceWriter {
	w := &replaceWriter{notebook: n}
	n.show = w.show
	return w
}

func (w *replaceWriter) show(time.Time) {
	h := w.plainHTML()
	if h != w.lastHTML {
		w.lastHTML = h
		w.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, nil)
	}
	w.interval = w.intervalFor(len(h))
}

// plainHTML returns the document rendered so far with code left unhighlighted: inline-styled
// highlighting makes code several times bigger, and every update resends everything (the final
// update is the exact, highlighted render). Each committed part of the source is rendered once
// (display/markdown commits only where the rest of the document parses as a fresh one), so an
// update costs a render of the open tail only.
func (w *replaceWriter) plainHTML() string {
	t0 := cpuNow()
	defer func() { w.stats.renderTime += cpuNow() - t0 }()
	_, tail := w.inc.Blocks()
	if cut := w.inc.Committed(); cut > w.plainCut {
		w.plainCommitted.WriteString(renderer().RenderPlain(w.inc.Source()[w.plainCut:cut]))
		w.plainCut = cut
	}
	return w.plainCommitted.String() + tail
}
