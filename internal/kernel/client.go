//go:build unix

package kernel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The cell side. A cell program has one connection to the helper, made on its first call and
// kept until it exits (the helper knows the cell is gone when it closes). Calls from several
// goroutines share it.

// conn is the cell's connection to the helper.
type conn struct {
	f   *os.File
	gen int64

	wmu sync.Mutex // writes

	mu     sync.Mutex
	calls  map[int64]chan Frame
	next   int64
	broken error
	done   chan struct{} // closed when the connection broke
}

var (
	connMu   sync.Mutex
	current  *conn
	connGen  int64
	startErr error

	// interrupts: while a call is in flight the cell catches SIGINT, asks the helper to stop
	// (the partial reply is kept and marked, the display closed), waits for the calls to end,
	// then ends as an interrupted program.
	sigMu       sync.Mutex
	inflight    int
	sigCh       chan os.Signal
	interrupted bool
	handled     int // HandleInterrupts in force
)

// HandleInterrupts declares that the cell program stops by itself on an interrupt, as
// webchat.Launch does (it serves until the stop button, then closes the page, saves the
// conversations and says so): an interrupt still stops the helper's calls in flight, but the
// cell is not ended after them. release undoes it.
func HandleInterrupts() (release func()) {
	sigMu.Lock()
	handled++
	sigMu.Unlock()
	return sync.OnceFunc(func() {
		sigMu.Lock()
		handled--
		sigMu.Unlock()
	})
}

// endsCell reports whether an interrupt ends the cell (nobody declared it handles them).
func endsCell() bool {
	sigMu.Lock()
	defer sigMu.Unlock()
	return handled == 0
}

// InterruptWait bounds the wait for the helper to wind the calls down after an interrupt (GoNB
// kills the cell 5 s after the interrupt).
var InterruptWait = 3 * time.Second

// ErrUnavailable is matched by the error of a call that could not reach the helper.
var ErrUnavailable = errors.New("the gonbchat kernel helper is not available")

func get() (*conn, error) {
	connMu.Lock()
	defer connMu.Unlock()
	if current != nil {
		current.mu.Lock()
		broken := current.broken
		current.mu.Unlock()
		if broken == nil {
			return current, nil
		}
		current = nil
	}
	if startErr != nil {
		return nil, startErr
	}
	f, err := connect()
	if err != nil {
		if errors.Is(err, errBuild) {
			startErr = err // not again in this cell: the next cell tries afresh
		}
		return nil, err
	}
	connGen++
	c := &conn{f: f, gen: connGen, calls: map[int64]chan Frame{}, done: make(chan struct{})}
	go c.read()
	current = c
	return c, nil
}

func (c *conn) send(fr *Frame) error {
	b, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.f.Write(b)
	return err
}

// read dispatches the helper's frames: relayed output is written at once (before the result
// that follows it), input requests are answered from the cell's stdin.
func (c *conn) read() {
	r := bufio.NewReaderSize(c.f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			c.fail(errors.New("the gonbchat kernel helper stopped (" + logHint() + ")"))
			return
		}
		var fr Frame
		if json.Unmarshal(line, &fr) != nil {
			continue
		}
		switch {
		case fr.Out != "":
			if fr.Fd == 2 {
				os.Stderr.WriteString(fr.Out)
			} else {
				os.Stdout.WriteString(fr.Out)
			}
			continue
		case fr.ReadLine:
			go c.readLine(fr.ID)
			continue
		}
		c.mu.Lock()
		ch := c.calls[fr.ID]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- fr:
			case <-c.done:
			}
		}
	}
}

// readLine reads one line of the cell's stdin (where GoNB writes what the person typed in the
// input box) and sends it to the helper.
func (c *conn) readLine(id int64) {
	var b []byte
	var one [1]byte
	eof := false
	for {
		n, err := os.Stdin.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			b = append(b, one[0])
		}
		if err != nil {
			eof = true
			break
		}
	}
	s := string(b)
	c.send(&Frame{ID: id, Line: &s, EOF: eof})
}

func (c *conn) fail(err error) {
	c.mu.Lock()
	first := c.broken == nil
	if first {
		c.broken = err
		close(c.done)
	}
	c.mu.Unlock()
	if first {
		c.f.Close()
	}
}

// Handle is a helper-side object (a chat, an endpoint, a display cell) held by a cell-side stub.
// A handle made on a connection that is gone (the helper was restarted) is made again by its
// constructor call on first use.
type Handle struct {
	mu   sync.Mutex
	err  error // the constructor's arguments could not cross
	ctor string
	args []json.RawMessage
	gen  int64
	id   int64
	lost bool // made by a method (CallNew): it cannot be made again on another connection
}

// New calls the constructor ctor, whose first result is a handle; it returns the handle and the
// other results.
func New(ctor string, args []json.RawMessage) (*Handle, []json.RawMessage, error) {
	h := &Handle{ctor: ctor, args: args}
	c, err := get()
	if err != nil {
		return h, nil, err
	}
	res, err := h.make(c)
	return h, res, err
}

func (h *Handle) make(c *conn) ([]json.RawMessage, error) {
	res, err := c.call(nil, 0, h.ctor, h.args, nil)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, errors.New("gonbchat kernel helper: " + h.ctor + " returned no handle")
	}
	var id int64
	if err := json.Unmarshal(res[0], &id); err != nil {
		return nil, err
	}
	h.gen, h.id = c.gen, id
	return res[1:], nil
}

// on returns the handle's id on connection c, making the object again if c is a new connection.
func (h *Handle) on(c *conn) (int64, error) {
	if h == nil {
		return 0, nil // a zero value stub: the helper uses the zero value too
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return 0, h.err
	}
	if h.gen == c.gen {
		return h.id, nil
	}
	if h.lost {
		return 0, errGone
	}
	if _, err := h.make(c); err != nil {
		return 0, err
	}
	return h.id, nil
}

// Call calls name (a package function, or a method of recv) with args and returns its results.
// ctx may be nil; when it is done, the helper cancels the call's context.
func Call(ctx context.Context, recv *Handle, name string, args []json.RawMessage) ([]json.RawMessage, error) {
	return StreamCall(ctx, recv, name, args, nil)
}

// StreamCall is Call for a call that streams: yield gets each item; when it returns false the
// helper is told to stop, and the call's end is still awaited.
func StreamCall(ctx context.Context, recv *Handle, name string, args []json.RawMessage, yield func([]json.RawMessage) bool) ([]json.RawMessage, error) {
	c, err := get()
	if err != nil {
		return nil, err
	}
	id, err := recv.on(c)
	if err != nil {
		return nil, err
	}
	return c.call(ctx, id, name, args, yield)
}

func (c *conn) call(ctx context.Context, recv int64, name string, args []json.RawMessage, yield func([]json.RawMessage) bool) ([]json.RawMessage, error) {
	ch := make(chan Frame, 16)
	c.mu.Lock()
	if c.broken != nil {
		err := c.broken
		c.mu.Unlock()
		return nil, err
	}
	c.next++
	id := c.next
	c.calls[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
	}()
	begin()
	defer end()
	if err := c.send(&Frame{ID: id, Call: name, Recv: recv, Args: args, PipeOpen: pipeOpenedHere()}); err != nil {
		c.fail(err)
		return nil, errors.New("the gonbchat kernel helper stopped (" + logHint() + ")")
	}
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.send(&Frame{ID: id, Cancel: true}) })
		defer stop()
	}
	for {
		var fr Frame
		select {
		case fr = <-ch:
		case <-c.done:
			select {
			case fr = <-ch:
			default:
				c.mu.Lock()
				err := c.broken
				c.mu.Unlock()
				return nil, err
			}
		}
		switch {
		case fr.Yield != nil:
			if yield != nil && !yield(fr.Yield) {
				yield = nil
				c.send(&Frame{ID: id, Stop: true})
			}
		case fr.Fail != "":
			return nil, errors.New(fr.Fail)
		case fr.Done:
			return fr.Result, nil
		}
	}
}

// begin and end count the calls in flight; SIGINT is caught while there are any.
func begin() {
	sigMu.Lock()
	defer sigMu.Unlock()
	inflight++
	if inflight == 1 && sigCh == nil {
		sigCh = make(chan os.Signal, 2)
		signal.Notify(sigCh, os.Interrupt)
		go onInterrupt(sigCh)
	}
}

func end() {
	sigMu.Lock()
	inflight--
	stop := inflight == 0
	if stop && interrupted && handled > 0 {
		interrupted = false // the program winds down by itself; its next calls are ordinary
	}
	intr := interrupted
	if stop && sigCh != nil && !intr {
		signal.Stop(sigCh)
		close(sigCh)
		sigCh = nil
	}
	sigMu.Unlock()
	if stop && intr {
		reraise()
	}
}

func onInterrupt(ch chan os.Signal) {
	for range ch {
		sigMu.Lock()
		again := interrupted
		interrupted = true
		sigMu.Unlock()
		if again && endsCell() {
			reraise() // a second stop: do not wait
		}
		connMu.Lock()
		c := current
		connMu.Unlock()
		if c != nil {
			c.send(&Frame{Interrupt: true})
		}
		if endsCell() {
			time.AfterFunc(InterruptWait, reraise)
		}
	}
}

// reraise ends the cell as the interrupt would have.
func reraise() {
	signal.Reset(os.Interrupt)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	time.Sleep(time.Second)
	os.Exit(130)
}

// pipeOpenedHere reports whether this program opened $GONB_PIPE itself (gonbui does on its first
// display): the helper must then not write to it, since GoNB reads one gob stream per cell.
func pipeOpenedHere() bool {
	pipe := os.Getenv("GONB_PIPE")
	if pipe == "" {
		return false
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if l, err := os.Readlink("/proc/self/fd/" + n); err == nil && l == pipe {
			return true
		}
	}
	return false
}

func logHint() string {
	return "see " + LogPath(Dir())
}

// LogPath is the helper's log in the kernel directory dir.
func LogPath(dir string) string { return dir + string(os.PathSeparator) + "helper.log" }

func itoa(n int) string { return strconv.Itoa(n) }

var (
	shownMu sync.Mutex
	shown   = map[string]bool{}
)

// CallShow is Call for the generated stubs: aerr is an argument that could not be encoded. An
// error is shown once in the cell (a chat's own errors are shown by the helper; these are the
// ones it could not show: no helper, or a call it refused) and returned.
func CallShow(ctx context.Context, recv *Handle, name string, args []json.RawMessage, aerr error) ([]json.RawMessage, error) {
	if aerr != nil {
		show(aerr)
		return nil, aerr
	}
	res, err := Call(ctx, recv, name, args)
	if err != nil {
		show(err)
	}
	return res, err
}

// NewShow is New for the generated stubs; the handle is made again at the next call when it
// could not be made now.
func NewShow(ctor string, args []json.RawMessage, aerr error) *Handle {
	if aerr != nil {
		show(aerr)
		return &Handle{err: aerr}
	}
	h, _, err := New(ctor, args)
	if err != nil {
		show(err)
	}
	return h
}

func show(err error) {
	line := err.Error()
	shownMu.Lock()
	dup := shown[line]
	shown[line] = true
	shownMu.Unlock()
	if !dup {
		os.Stderr.WriteString("✖ " + line + "\n")
	}
}

// CallWith is CallShow for a call about several helper-side objects (AskAll): the ids of hs on
// the connection are its first argument, before args. A nil handle crosses as 0.
func CallWith(ctx context.Context, hs []*Handle, name string, args []json.RawMessage, aerr error) ([]json.RawMessage, error) {
	if aerr != nil {
		show(aerr)
		return nil, aerr
	}
	res, err := callWith(ctx, hs, name, args)
	if err != nil {
		show(err)
	}
	return res, err
}

func callWith(ctx context.Context, hs []*Handle, name string, args []json.RawMessage) ([]json.RawMessage, error) {
	c, err := get()
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(hs))
	for i, h := range hs {
		if ids[i], err = h.on(c); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return c.call(ctx, 0, name, append([]json.RawMessage{b}, args...), nil)
}

// errGone is the error of an object a method made in a helper that is gone.
var errGone = errors.New("the gonbchat kernel helper was restarted: this object was lost with it")

// CallNew calls name, a method of recv whose first result is a new helper-side object (a turn
// started in the background), and returns a handle to it with the other results. The object
// lives in this helper: if the helper is restarted it is gone, and calls on it fail.
func CallNew(ctx context.Context, recv *Handle, name string, args []json.RawMessage) (*Handle, []json.RawMessage, error) {
	c, err := get()
	if err != nil {
		return nil, nil, err
	}
	rid, err := recv.on(c)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.call(ctx, rid, name, args, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(res) == 0 {
		return nil, nil, errors.New("gonbchat kernel helper: " + name + " returned no handle")
	}
	var id int64
	if err := json.Unmarshal(res[0], &id); err != nil {
		return nil, nil, err
	}
	return &Handle{gen: c.gen, id: id, lost: true}, res[1:], nil
}
