package display

import (
	"io"
	"os"
	"sync"
)

// Terminal renders replies for a terminal. The glamour-based one lives in display/term (which
// registers itself when imported), so notebook cells, which never need it, do not link it.
type Terminal interface {
	// NewStream starts rendering one reply to w.
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

// RegisterTerminal sets the Terminal used when standard output is a terminal.
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

// WithTerminal renders the reply with t outside a notebook, even when the writer is not a
// terminal.
func WithTerminal(t Terminal) Option { return func(c *Cell) { c.term = t } }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

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
