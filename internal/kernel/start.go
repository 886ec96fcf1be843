//go:build unix

package kernel

import (
	"github.com/gonbchat/gonbchat/internal/fsutil"

	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"
	"time"
)

// EnvHelper names a helper binary to use instead of building one (tests, or a helper installed
// by hand). It must be built from the same gonbchat as the cells.
const EnvHelper = "GONBCHAT_HELPER"

// StartWait bounds the wait for a started helper to listen.
var StartWait = 15 * time.Second

// connect dials the kernel's helper, starting it (under a lock, so that two cells start one) when
// none answers, or when the one that answers runs another build of gonbchat.
func connect() (*os.File, error) {
	dir := Dir()
	if dir == "" {
		return nil, errors.New("gonbchat was built with -tags " + Tag + ", which works only in a GoNB kernel ($GONB_TMP_DIR is not set): build without that tag")
	}
	key, src, err := buildKey()
	if err != nil {
		return nil, err
	}
	hello := helloFor(key)
	if f, err := dialHello(SocketPath(dir), hello); err == nil {
		return f, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := fsutil.Lock(dir + "/helper") // helper.lock
	if err != nil {
		return nil, err
	}
	defer unlock()
	if f, err := dialHello(SocketPath(dir), hello); err == nil {
		return f, nil // another cell started it while we waited for the lock
	}
	bin, err := helperBinary(key, src, dir)
	if err != nil {
		return nil, err
	}
	if err := startHelper(bin, key, dir); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(StartWait)
	for {
		f, err := dialHello(SocketPath(dir), hello)
		if err == nil {
			return f, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the gonbchat kernel helper did not start: " + err.Error() + " (" + logHint() + ")")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func helloFor(key string) *Hello {
	wd, _ := os.Getwd()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GONB_PIPE=") && !strings.HasPrefix(kv, "GONB_PIPE_BACK=") {
			env = append(env, kv)
		}
	}
	return &Hello{Protocol: Protocol, Key: key, PID: os.Getpid(), Kernel: os.Getppid(), Dir: wd, Env: env,
		Pipe: os.Getenv("GONB_PIPE"), PipeBack: os.Getenv("GONB_PIPE_BACK")}
}

var errStale = errors.New("the helper runs another build of gonbchat")

// dialHello connects to the socket, sends the hello and waits for the helper's.
func dialHello(path string, hello *Hello) (*os.File, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "gonbchat-helper")
	b, _ := json.Marshal(&Frame{Hello: hello})
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return nil, err
	}
	// The answer is one line; read it byte by byte so that nothing after it is taken from the
	// connection's reader.
	var line []byte
	var one [1]byte
	for {
		n, err := f.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			line = append(line, one[0])
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	var fr Frame
	if err := json.Unmarshal(line, &fr); err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case fr.Stale:
		f.Close()
		return nil, errStale
	case fr.Fail != "":
		f.Close()
		return nil, errors.New(fr.Fail)
	case fr.Hello == nil:
		f.Close()
		return nil, errors.New("the gonbchat kernel helper did not answer the hello")
	}
	return f, nil
}

// startHelper starts the helper in a session of its own (GoNB's interrupts go to the cell, not
// to it), with the cell's environment and working directory, its output going to the log. It
// lives until the kernel (the cell's parent) exits or the kernel directory is removed.
func startHelper(bin, key, dir string) error {
	logf, err := openLog(LogPath(dir))
	if err != nil {
		return err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	wd, _ := os.Getwd()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GONB_PIPE=") && !strings.HasPrefix(kv, "GONB_PIPE_BACK=") {
			env = append(env, kv)
		}
	}
	p, err := os.StartProcess(bin, []string{bin, "-kernel", itoa(os.Getppid()), "-dir", dir, "-key", key}, &os.ProcAttr{
		Dir: wd, Env: env, Files: []*os.File{null, logf, logf}, Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return errors.New("starting the gonbchat kernel helper: " + err.Error())
	}
	// Reap it if it exits while this cell runs; once the cell exits, init does.
	go p.Wait()
	return nil
}

// openLog opens the helper's log for appending, starting it afresh past 1 MB.
func openLog(path string) (*os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if st, err := os.Stat(path); err == nil && st.Size() > 1<<20 {
		flags |= os.O_TRUNC
	}
	return os.OpenFile(path, flags, 0o600)
}

// readLastLines returns the end of a file, for error messages.
func readLastLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
