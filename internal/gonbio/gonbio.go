// Package gonbio is the one way packages display and chatcell talk to GoNB: display messages
// and their sync, input requests, comms subscriptions, and the interrupt (the notebook's stop
// button, a SIGINT).
//
// In a cell program it is gonbui and os/signal. The kernel helper (cmd/gonbchatd, see
// internal/kernel) serves the cells of a kernel from one process: it installs an Output that
// writes the GoNB pipes of the cell it serves, and interrupts that come from the cell over its
// connection instead of signals. Code that displays or asks for input must go through this
// package (never gonbui directly), or it would write the helper's own, non-existent, pipe.
package gonbio

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/comms"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// Output is where a cell's display messages go.
type Output interface {
	// Notebook reports whether the output is a GoNB notebook cell (else: text on stdout).
	Notebook() bool
	// Send sends one display message.
	Send(d *protocol.DisplayData)
	// Sync waits until GoNB has every message sent so far.
	Sync()
	// RequestInput asks the notebook for a line, which GoNB writes to the cell's stdin.
	RequestInput(prompt string, password bool)
	// Subscribe calls f with the values the page sends to address, if the output can.
	Subscribe(address string, f func(value string))
}

// Gonbui is the Output of a cell program: gonbui's pipes.
type Gonbui struct{}

func (Gonbui) Notebook() bool                 { return gonbui.IsNotebook }
func (Gonbui) Send(d *protocol.DisplayData)   { gonbui.SendData(d) }
func (Gonbui) Sync()                          { gonbui.Sync() }
func (Gonbui) RequestInput(p string, pw bool) { gonbui.RequestInput(p, pw) }
func (Gonbui) Subscribe(address string, f func(string)) {
	comms.Subscribe(address, func(_ string, v string) { f(v) })
}

var (
	mu     sync.Mutex
	helper *Helper
)

// Helper is what the kernel helper installs.
type Helper struct {
	// Output gives the output of the cell being served.
	Output func() Output
	// Interrupt returns a context cancelled by the cell's interrupt.
	Interrupt func(ctx context.Context) (context.Context, context.CancelFunc)
	// Stdin reads the standard input of the cell being served, a line when one is asked for.
	Stdin io.Reader
}

func installed() *Helper {
	mu.Lock()
	defer mu.Unlock()
	return helper
}

// Current returns the output of the cell being served: gonbui in a cell program.
func Current() Output {
	if h := installed(); h != nil {
		return h.Output()
	}
	return Gonbui{}
}

// IsNotebook reports whether the current output is a notebook cell.
func IsNotebook() bool { return Current().Notebook() }

// Send, Sync and RequestInput go to the current output.
func Send(d *protocol.DisplayData)   { Current().Send(d) }
func Sync()                          { Current().Sync() }
func RequestInput(p string, pw bool) { Current().RequestInput(p, pw) }

// InterruptContext returns a context that is cancelled by an interrupt: a SIGINT in a cell
// program, the cell's interrupt in the helper.
func InterruptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if h := installed(); h != nil {
		return h.Interrupt(ctx)
	}
	return signal.NotifyContext(ctx, os.Interrupt)
}

// Stdin is where a chat loop reads its lines: the cell's stdin.
func Stdin() io.Reader {
	if h := installed(); h != nil {
		return h.Stdin
	}
	return os.Stdin
}

// InHelper reports whether this process is the kernel helper, which must never end itself on an
// interrupt (the cell it serves does).
func InHelper() bool { return installed() != nil }

// Install makes this process the kernel helper.
func Install(h Helper) {
	mu.Lock()
	helper = &h
	mu.Unlock()
}
