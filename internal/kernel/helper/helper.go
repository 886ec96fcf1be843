//go:build !gonbchat_kernel && unix

// Package helper is the helper side of gonbchat's kernel mode (see package internal/kernel): the
// process, one per GoNB kernel, that runs the real chatcell, display and completions for the
// kernel's cells. cmd/gonbchatd is its command.
//
// It serves the cells one at a time: while a cell's calls run, the process's environment and
// working directory are the cell's, its displays go to the cell's GoNB pipe, what the chats print
// goes to the cell's standard output, a chat loop reads the cell's standard input and an interrupt
// of the cell stops its turns. A call from the next cell waits until the calls of the previous one
// are over (they are cancelled when it exits).
package helper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/kernel"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/joho/godotenv"
)

// SwitchWait bounds how long a call of one cell waits for the calls of another to end.
var SwitchWait = 3 * time.Second

// Server is a running helper.
type Server struct {
	dir, key string
	kernel   int
	ln       *net.UnixListener
	sockIno  uint64
	logger   *log.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	active   *session
	sessions map[*session]bool
	retiring bool

	stdout, stderr *relay
	stdin          *stdinReader
}

// Main runs the helper with the command line of cmd/gonbchatd: -kernel PID -dir DIR -key KEY.
func Main(args []string) int {
	fs := flag.NewFlagSet("gonbchatd", flag.ContinueOnError)
	kernelPID := fs.Int("kernel", 0, "the GoNB kernel's pid: the helper exits with it")
	dir := fs.String("dir", "", "the kernel's gonbchat directory ($GONB_TMP_DIR/.gonbchat)")
	key := fs.String("key", "", "the build identity of the gonbchat the cells link")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gonbchatd is started by gonbchat's kernel mode: -dir is required")
		return 2
	}
	s, err := Listen(*dir, *key, *kernelPID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gonbchatd:", err)
		return 1
	}
	s.Serve()
	return 0
}

// Listen takes over the kernel directory's socket (replacing a stale helper's) and sets the
// process up as the helper: its stdout, stderr and stdin become relays to the cells.
func Listen(dir, key string, kernelPID int) (*Server, error) {
	s := &Server{dir: dir, key: key, kernel: kernelPID, sessions: map[*session]bool{},
		logger: log.New(os.Stderr, "gonbchatd ", log.LstdFlags|log.Lmicroseconds)}
	s.cond = sync.NewCond(&s.mu)
	if kernelPID > 0 {
		kernelenv.SetKernel(kernelPID)
	}
	sock := kernel.SocketPath(dir)
	os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // a newer helper may own the path by then
	s.ln = ln
	if st, err := os.Stat(sock); err == nil {
		s.sockIno = st.Sys().(*syscall.Stat_t).Ino
	}
	if s.stdout, err = newRelay(s, 1); err != nil {
		return nil, err
	}
	if s.stderr, err = newRelay(s, 2); err != nil {
		return nil, err
	}
	s.stdin = &stdinReader{s: s}
	gonbio.Install(gonbio.Helper{Output: s.output, Interrupt: s.interruptContext, Stdin: s.stdin})
	s.logger.Printf("pid %d for kernel %d, build %s, listening on %s", os.Getpid(), kernelPID, key, sock)
	return s, nil
}

// Serve accepts cells until the kernel is gone.
func (s *Server) Serve() {
	go s.watch()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			retiring := s.retiring
			s.mu.Unlock()
			if retiring {
				s.waitIdleAndExit()
				return
			}
			s.logger.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.serve(c)
	}
}

// watch ends the helper when its kernel is gone or its directory removed (GoNB removes
// $GONB_TMP_DIR when the kernel shuts down), and retires it when another helper took the socket.
func (s *Server) watch() {
	sock := kernel.SocketPath(s.dir)
	for {
		time.Sleep(500 * time.Millisecond)
		if s.kernel > 0 && syscall.Kill(s.kernel, 0) == syscall.ESRCH {
			s.logger.Printf("kernel %d is gone: exiting", s.kernel)
			os.Exit(0)
		}
		if _, err := os.Stat(s.dir); err != nil {
			s.logger.Printf("%s is gone: exiting", s.dir)
			os.Exit(0)
		}
		st, err := os.Stat(sock)
		if err != nil || st.Sys().(*syscall.Stat_t).Ino != s.sockIno {
			s.logger.Printf("the socket belongs to another helper now: retiring")
			s.mu.Lock()
			s.retiring = true
			s.mu.Unlock()
			s.ln.Close()
			return
		}
	}
}

func (s *Server) waitIdleAndExit() {
	s.mu.Lock()
	for len(s.sessions) > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
	os.Exit(0)
}

// session is one cell program's connection.
type session struct {
	s     *Server
	c     *net.UnixConn
	hello kernel.Hello
	wmu   sync.Mutex

	mu       sync.Mutex
	handles  map[int64]any
	next     int64
	calls    map[int64]*call
	inflight int
	closed   bool
	lines    chan kernel.Frame

	ctx       context.Context // cancelled when the cell is gone
	cancel    context.CancelFunc
	intr      context.Context // cancelled by the cell's interrupt
	intrStop  context.CancelFunc
	out       *pipeOutput
	textNoted bool
}

func (s *Server) serve(c *net.UnixConn) {
	ss := &session{s: s, c: c, handles: map[int64]any{}, calls: map[int64]*call{}, lines: make(chan kernel.Frame, 4)}
	ss.ctx, ss.cancel = context.WithCancel(context.Background())
	ss.intr, ss.intrStop = context.WithCancel(ss.ctx)
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return
	}
	var fr kernel.Frame
	if json.Unmarshal(line, &fr) != nil || fr.Hello == nil {
		ss.send(&kernel.Frame{Fail: "gonbchat kernel helper: the first frame must be a hello"})
		return
	}
	if fr.Hello.Protocol != kernel.Protocol || (s.key != "" && fr.Hello.Key != s.key) {
		s.logger.Printf("cell %d runs build %s (protocol %d): stale", fr.Hello.PID, fr.Hello.Key, fr.Hello.Protocol)
		ss.send(&kernel.Frame{Stale: true})
		return
	}
	ss.hello = *fr.Hello
	ss.out = &pipeOutput{ss: ss}
	s.mu.Lock()
	s.sessions[ss] = true
	s.mu.Unlock()
	defer s.endSession(ss)
	ss.send(&kernel.Frame{Hello: &kernel.Hello{Protocol: kernel.Protocol, Key: s.key, PID: os.Getpid()}})
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var fr kernel.Frame
		if err := json.Unmarshal(line, &fr); err != nil {
			s.logger.Printf("cell %d: bad frame: %v", ss.hello.PID, err)
			continue
		}
		switch {
		case fr.Call != "":
			go ss.run(fr)
		case fr.Interrupt:
			s.logger.Printf("cell %d: interrupt", ss.hello.PID)
			ss.intrStop()
			ss.mu.Lock()
			for _, x := range ss.calls {
				x.cancel()
			}
			ss.mu.Unlock()
		case fr.Line != nil:
			select {
			case ss.lines <- fr:
			default:
			}
		case fr.Cancel || fr.Stop:
			ss.mu.Lock()
			x := ss.calls[fr.ID]
			ss.mu.Unlock()
			if x != nil {
				if fr.Stop {
					x.stopOnce.Do(func() { close(x.stopped) })
				} else {
					x.cancel()
				}
			}
		}
	}
}

// endSession cancels what the cell left running and closes its pipes.
func (s *Server) endSession(ss *session) {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.cancel()
	s.mu.Lock()
	for ss.inflight > 0 {
		s.cond.Wait()
	}
	delete(s.sessions, ss)
	if s.active == ss {
		s.active = nil
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	ss.out.close()
}

func (ss *session) send(fr *kernel.Frame) error {
	b, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err = ss.c.Write(b)
	return err
}

// enter makes ss the cell being served, once the calls of the previous cell are over (or after
// SwitchWait), and counts a call of ss in flight.
func (s *Server) enter(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != ss {
		deadline := time.Now().Add(SwitchWait)
		t := time.AfterFunc(SwitchWait, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		for s.active != nil && s.active != ss && s.active.inflight > 0 && time.Now().Before(deadline) {
			s.cond.Wait()
		}
		t.Stop()
		if s.active != ss {
			s.stdout.flush()
			s.stderr.flush()
			s.active = ss
			ss.apply()
		}
	}
	ss.inflight++
}

func (s *Server) leave(ss *session) {
	s.mu.Lock()
	ss.inflight--
	s.cond.Broadcast()
	s.mu.Unlock()
}

// apply makes the process's environment and working directory the cell's, with a .env next to
// the notebook filling what is unset (as chatcell does in a cell), and registers every key in it
// with package secret.
func (ss *session) apply() {
	want := map[string]string{}
	for _, kv := range ss.hello.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			want[k] = v
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if w, ok := want[k]; !ok {
			os.Unsetenv(k)
		} else if w != v {
			os.Setenv(k, w)
		}
		delete(want, k)
	}
	for k, v := range want {
		os.Setenv(k, v)
	}
	if ss.hello.Dir != "" {
		if err := os.Chdir(ss.hello.Dir); err != nil {
			ss.s.logger.Printf("cell %d: chdir: %v", ss.hello.PID, err)
		}
	}
	if vars, err := godotenv.Read(); err == nil {
		for k, v := range vars {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_TOKEN") || strings.Contains(k, "API_KEY") {
			secret.Register(v)
		}
	}
}

// call is one call in flight.
type call struct {
	ss       *session
	id       int64
	name     string
	recv     int64
	args     []json.RawMessage
	ctx      context.Context
	cancel   context.CancelFunc
	stopped  chan struct{}
	stopOnce sync.Once
}

func (ss *session) run(fr kernel.Frame) {
	s := ss.s
	x := &call{ss: ss, id: fr.ID, name: fr.Call, recv: fr.Recv, args: fr.Args, stopped: make(chan struct{})}
	x.ctx, x.cancel = context.WithCancel(ss.ctx)
	defer x.cancel()
	ss.mu.Lock()
	ss.calls[x.id] = x
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		delete(ss.calls, x.id)
		ss.mu.Unlock()
	}()
	s.enter(ss)
	defer s.leave(ss)
	if fr.PipeOpen {
		ss.out.toText()
	}
	res, err := x.dispatch()
	// What the call printed reaches the cell before its result.
	s.stdout.flush()
	s.stderr.flush()
	if err != nil {
		ss.send(&kernel.Frame{ID: x.id, Fail: err.Error()})
		return
	}
	ss.send(&kernel.Frame{ID: x.id, Done: true, Result: res})
}

func (x *call) dispatch() (res []json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			x.ss.s.logger.Printf("%s panicked: %v\n%s", x.name, r, debug.Stack())
			err = fmt.Errorf("gonbchat kernel helper: %s failed: %v", x.name, r)
		}
	}()
	f := calls[x.name]
	if f == nil {
		return nil, fmt.Errorf("gonbchat kernel helper: no call %q (the helper and the cell are different builds?)", x.name)
	}
	vals, err := f(x)
	if err != nil {
		return nil, err
	}
	return x.encode(vals)
}

// encode turns results into JSON: errors become ErrData, helper-side objects handles.
func (x *call) encode(vals []any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("gonbchat kernel helper: %s: result %d: %v", x.name, i, err)
		}
		out[i] = b
	}
	return out, nil
}

// arg decodes argument i into v.
func (x *call) arg(i int, v any) error {
	if i >= len(x.args) {
		return fmt.Errorf("gonbchat kernel helper: %s: argument %d is missing", x.name, i)
	}
	if err := json.Unmarshal(x.args[i], v); err != nil {
		return fmt.Errorf("gonbchat kernel helper: %s: argument %d: %v", x.name, i, err)
	}
	return nil
}

// handle registers a helper-side object for the cell and returns its id (0 for nil).
func (x *call) handle(v any) int64 {
	if v == nil {
		return 0
	}
	ss := x.ss
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.next++
	ss.handles[ss.next] = v
	return ss.next
}

// object returns the receiver of a method call; ok is false for the zero-value stub (handle 0).
func (x *call) object() (v any, ok bool, err error) {
	if x.recv == 0 {
		return nil, false, nil
	}
	x.ss.mu.Lock()
	v, ok = x.ss.handles[x.recv]
	x.ss.mu.Unlock()
	if !ok {
		return nil, false, fmt.Errorf("gonbchat kernel helper: %s: no object %d", x.name, x.recv)
	}
	return v, true, nil
}

// recvAs returns the receiver as T, or zero() for the zero-value stub.
func recvAs[T any](x *call, zero func() T) (T, error) {
	v, ok, err := x.object()
	if err != nil || !ok {
		return zero(), err
	}
	t, ok := v.(T)
	if !ok {
		var z T
		return z, fmt.Errorf("gonbchat kernel helper: %s: object %d is a %T", x.name, x.recv, v)
	}
	return t, nil
}

// yield sends one item of a stream; false when the cell stopped reading or is gone.
func (x *call) yield(vals ...any) bool {
	select {
	case <-x.stopped:
		return false
	default:
	}
	raw, err := x.encode(vals)
	if err != nil || x.ss.send(&kernel.Frame{ID: x.id, Yield: raw}) != nil {
		return false
	}
	select {
	case <-x.stopped:
		return false
	case <-x.ss.ctx.Done():
		return false
	default:
		return true
	}
}

// interruptContext is gonbio's interrupt for the helper: the served cell's interrupt (or its end).
func (s *Server) interruptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	ss := s.active
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	if ss == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(ss.intr, cancel)
	return ctx, func() { stop(); cancel() }
}

// output is gonbio's output for the helper: the served cell's.
func (s *Server) output() gonbio.Output {
	s.mu.Lock()
	ss := s.active
	s.mu.Unlock()
	if ss == nil {
		return textOutput{}
	}
	return ss.out
}

// stdinReader is the helper's standard input for chat loops: each read asks the served cell for a
// line of its stdin (where GoNB writes what the person typed).
type stdinReader struct {
	s       *Server
	mu      sync.Mutex
	pending []byte
}

func (r *stdinReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		r.s.mu.Lock()
		ss := r.s.active
		r.s.mu.Unlock()
		if ss == nil {
			return 0, io.EOF
		}
		for len(ss.lines) > 0 { // answers nobody waited for
			<-ss.lines
		}
		if ss.send(&kernel.Frame{ReadLine: true}) != nil {
			return 0, io.EOF
		}
		select {
		case fr := <-ss.lines:
			if fr.EOF && *fr.Line == "" {
				return 0, io.EOF
			}
			r.pending = []byte(*fr.Line + "\n")
		case <-ss.intr.Done():
			return 0, io.EOF
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

var _ = errors.New
var _ = strconv.Itoa
