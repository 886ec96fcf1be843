//go:build !gonbchat_kernel

package display

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Terminal renders replies for a terminal. The glamour-based one lives in display/term (which
// registers itself when imported), so notebook cells, which never need it, do not link it.
type Terminal interface {
	// NewStream starts rendering one reply to w, or returns nil when w is not a terminal it
	// renders to: the reply is then written as plain text.
	NewStream(w io.Writer) TermStream
}

// TermStream renders one streamed reply.
type TermStream interface {
	// Write adds a delta of the Markdown source.
	Write(delta string)
	// Close finishes the reply (the output ends with a newline).
	Close()
}

var (
	termMu  sync.Mutex
	termReg Terminal
)

// RegisterTerminal sets the Terminal that replies and Markdown blocks are offered to outside a
// notebook.
func RegisterTerminal(t Terminal) {
	termMu.Lock()
	termReg = t
	termMu.Unlock()
}

func registeredTerminal() Terminal {
	termMu.Lock()
	defer termMu.Unlock()
	return termReg
}

// terminalStream returns a stream of the registered Terminal for w, or nil.
func terminalStream(w io.Writer) TermStream {
	if t := registeredTerminal(); t != nil {
		return t.NewStream(w)
	}
	return nil
}

// textWriter writes a reply outside a notebook: through a terminal renderer when there is one
// for the output, else as plain Markdown as it arrives.
type textWriter struct{ s TermStream }

func newTextWriter(w io.Writer, t Terminal) *textWriter {
	var s TermStream
	if t != nil {
		s = t.NewStream(w)
	} else {
		s = terminalStream(w)
	}
	if s == nil {
		s = &plainStream{w: w}
	}
	return &textWriter{s: s}
}

func (t *textWriter) write(delta string) { t.s.Write(delta) }
func (t *textWriter) status(line string) {
	if line != "" {
		fmt.Fprintln(os.Stderr, "… "+line)
	}
}
func (t *textWriter) close(bool, map[string]any) { t.s.Close() }

// plainStream writes the Markdown source as it arrives.
type plainStream struct {
	w    io.Writer
	last byte
}

func (p *plainStream) Write(delta string) {
	io.WriteString(p.w, delta)
	p.last = delta[len(delta)-1]
}

func (p *plainStream) Close() {
	if p.last != 0 && p.last != '\n' {
		io.WriteString(p.w, "\n")
	}
}
