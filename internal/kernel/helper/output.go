//go:build !gonbchat_kernel && unix

package helper

import (
	"encoding/gob"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/internal/kernel"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// PipeTimeout bounds every wait on a cell's GoNB pipes: opening them, a write, a sync's
// acknowledgement. GoNB stops reading a cell's pipe when the stream breaks (a cell that also
// wrote to it with gonbui): the helper then gives up on that cell's displays instead of hanging.
var PipeTimeout = 5 * time.Second

func init() {
	// The types GoNB's kernel registers to decode display metadata.
	gob.Register(map[string]any{})
	gob.Register([]string{})
	gob.Register([]any{})
}

// pipeOutput writes a cell's displays into the cell's GoNB pipe, as gonbui would from inside the
// cell: one gob stream of protocol.DisplayData, and sync requests acknowledged on the back pipe.
type pipeOutput struct {
	ss *session

	mu     sync.Mutex
	opened bool
	text   bool // no pipe, or the cell writes to it itself: text on the cell's stdout
	broken bool
	w, r   *os.File
	enc    *gob.Encoder
	nextID int
	acks   map[int]chan struct{}
}

// toText switches the cell to text output: it opened its GoNB pipe itself (gonbui), and GoNB
// reads one gob stream per cell, so the helper must not write there. It says so once.
func (p *pipeOutput) toText() {
	p.mu.Lock()
	already := p.text
	wrote := p.opened
	p.text = true
	p.mu.Unlock()
	if already {
		return
	}
	line := "gonbchat: this cell also displays through gonbui, so gonbchat shows its output as text here (GoNB reads one display stream per cell)"
	if wrote {
		line += "; displays already sent may stop the cell's other displays"
	}
	fmt.Fprintln(os.Stdout, line)
}

func (p *pipeOutput) Notebook() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.text && p.ss.hello.Pipe != "" && !p.broken
}

// open opens the cell's pipes once (GoNB opens their other ends when the cell starts).
func (p *pipeOutput) open() bool {
	if p.opened {
		return p.w != nil
	}
	p.opened = true
	w, err := openTimeout(p.ss.hello.Pipe, os.O_WRONLY)
	if err != nil {
		p.ss.s.logger.Printf("cell %d: %v", p.ss.hello.PID, err)
		p.broken = true
		return false
	}
	p.w, p.enc = w, gob.NewEncoder(w)
	if p.ss.hello.PipeBack != "" {
		if r, err := openTimeout(p.ss.hello.PipeBack, os.O_RDONLY); err == nil {
			p.r = r
			p.acks = map[int]chan struct{}{}
			go p.readBack(r)
		} else {
			p.ss.s.logger.Printf("cell %d: %v", p.ss.hello.PID, err)
		}
	}
	return true
}

// openTimeout opens a named pipe, which blocks until its other end is open.
func openTimeout(path string, flag int) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, flag, 0)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-time.After(PipeTimeout):
		go func() { // close it if it ever opens
			if r := <-ch; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, fmt.Errorf("opening %s timed out", path)
	}
}

// readBack reads GoNB's messages to the cell: sync acknowledgements.
func (p *pipeOutput) readBack(r *os.File) {
	dec := gob.NewDecoder(r)
	for {
		var v protocol.CommValue
		if err := dec.Decode(&v); err != nil {
			return
		}
		if v.Address != protocol.GonbuiSyncAckAddress {
			continue
		}
		id, ok := v.Value.(int)
		if !ok {
			continue
		}
		p.mu.Lock()
		if ch := p.acks[id]; ch != nil {
			close(ch)
			delete(p.acks, id)
		}
		p.mu.Unlock()
	}
}

func (p *pipeOutput) Send(d *protocol.DisplayData) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sendLocked(d)
}

func (p *pipeOutput) sendLocked(d *protocol.DisplayData) bool {
	if p.text || p.broken || !p.open() {
		return false
	}
	p.w.SetWriteDeadline(time.Now().Add(PipeTimeout))
	if err := p.enc.Encode(d); err != nil {
		p.ss.s.logger.Printf("cell %d: writing its display: %v", p.ss.hello.PID, err)
		p.broken = true
		return false
	}
	return true
}

// Sync waits (at most PipeTimeout) until GoNB acknowledges everything sent so far.
func (p *pipeOutput) Sync() {
	p.mu.Lock()
	if p.acks == nil || !p.opened || p.text || p.broken {
		p.mu.Unlock()
		return
	}
	p.nextID++
	id := p.nextID
	ch := make(chan struct{})
	p.acks[id] = ch
	ok := p.sendLocked(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMECommValue: &protocol.CommValue{Address: protocol.GonbuiSyncAddress, Value: id}}})
	p.mu.Unlock()
	if !ok {
		return
	}
	select {
	case <-ch:
	case <-time.After(PipeTimeout):
		p.ss.s.logger.Printf("cell %d: no acknowledgement of sync %d", p.ss.hello.PID, id)
		p.mu.Lock()
		p.broken = true
		delete(p.acks, id)
		p.mu.Unlock()
	case <-p.ss.ctx.Done():
	}
}

// RequestInput asks GoNB for an input box; the answer reaches the cell's stdin, which the chat
// loop reads through the helper's stdin relay.
func (p *pipeOutput) RequestInput(prompt string, password bool) {
	p.Send(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMEJupyterInput: &protocol.InputRequest{Prompt: prompt, Password: password}}})
}

// Subscribe: the page's comms are not relayed to the helper (the append mode's acknowledgement,
// off by default, is not available in kernel mode).
func (p *pipeOutput) Subscribe(string, func(string)) {}

func (p *pipeOutput) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		p.w.Close()
	}
	if p.r != nil {
		p.r.Close()
	}
	for id, ch := range p.acks {
		close(ch)
		delete(p.acks, id)
	}
}

// textOutput is the output when no cell is served: the helper's log.
type textOutput struct{}

func (textOutput) Notebook() bool                 { return false }
func (textOutput) Send(*protocol.DisplayData)     {}
func (textOutput) Sync()                          {}
func (textOutput) RequestInput(string, bool)      {}
func (textOutput) Subscribe(string, func(string)) {}

// relay replaces the process's stdout (fd 1) or stderr (fd 2) with a pipe whose content goes to
// the cell being served, so that what the chats print (a loop's hints, ShowEvents) appears in the
// cell. flush forwards everything written so far: a call flushes before it answers.
type relay struct {
	s     *Server
	fd    int
	r     *os.File
	orig  *os.File
	mu    sync.Mutex
	carry []byte // an incomplete UTF-8 sequence at the end of the last read
	buf   []byte
}

func newRelay(s *Server, fd int) (*relay, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	rl := &relay{s: s, fd: fd, r: r, buf: make([]byte, 32<<10)}
	if fd == 1 {
		rl.orig, os.Stdout = os.Stdout, w
	} else {
		rl.orig, os.Stderr = os.Stderr, w
	}
	rc, err := r.SyscallConn()
	if err != nil {
		return nil, err
	}
	go rc.Read(func(fd uintptr) bool {
		rl.drain(int(fd))
		return false // wait for more, for ever
	})
	return rl, nil
}

func (rl *relay) flush() {
	rc, err := rl.r.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { rl.drain(int(fd)) })
}

// drain reads what the pipe holds (it is non-blocking) and forwards it.
func (rl *relay) drain(fd int) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for {
		n, err := syscall.Read(fd, rl.buf)
		if n <= 0 || err != nil {
			return
		}
		b := append(rl.carry, rl.buf[:n]...)
		rl.carry = nil
		if cut := incompleteTail(b); cut > 0 {
			rl.carry = append([]byte(nil), b[len(b)-cut:]...)
			b = b[:len(b)-cut]
		}
		if len(b) > 0 {
			rl.forward(string(b))
		}
	}
}

func (rl *relay) forward(s string) {
	rl.s.mu.Lock()
	ss := rl.s.active
	rl.s.mu.Unlock()
	if ss == nil || ss.send(&kernel.Frame{Out: s, Fd: rl.fd}) != nil {
		rl.orig.WriteString(s) // the log
	}
}

// incompleteTail is the length of an incomplete UTF-8 sequence ending b (0 if none).
func incompleteTail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
