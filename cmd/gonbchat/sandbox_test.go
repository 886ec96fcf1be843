package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/gonbchat/gonbchat/chatcell"
)

// The tests run the command as a person would, in a process of its own: the test binary runs
// main() when GONBCHAT_TEST_AS_CLI is set (no build needed, so they run with -short too).
func TestMain(m *testing.M) {
	if os.Getenv("GONBCHAT_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sandbox is a home of its own for the command (its config directory, a working directory)
// with none of this machine's keys or gonbchat settings in its environment. It keeps
// everything the command printed, for the leak checks.
type sandbox struct {
	t       *testing.T
	home    string // HOME and XDG_CONFIG_HOME: the config directory is home/gonbchat
	workdir string
	env     []string
	outputs []string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	s := &sandbox{t: t, home: t.TempDir(), workdir: t.TempDir()}
	return s
}

func (s *sandbox) configDir() string { return filepath.Join(s.home, "gonbchat") }
func (s *sandbox) keysFile() string  { return filepath.Join(s.configDir(), "keys", "keys.json") }

// setenv adds a variable to the command's environment.
func (s *sandbox) setenv(kv ...string) { s.env = append(s.env, kv...) }

func (s *sandbox) environ() []string {
	drop := map[string]bool{"OPENAI_API_KEY": true, "OPENAI_BASE_URL": true, "OPENAI_ORG_ID": true,
		"OPENAI_PROJECT_ID": true, "JUPYTERHUB_API_TOKEN": true, "GONB_TMP_DIR": true, "HOME": true,
		"XDG_CONFIG_HOME": true, "TERM": true, "GLAMOUR_STYLE": true}
	for _, p := range chatcell.Providers {
		drop[p.KeyEnv] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if drop[name] || strings.HasPrefix(name, "GONBCHAT_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GONBCHAT_TEST_AS_CLI=1", "HOME="+s.home, "XDG_CONFIG_HOME="+s.home, "GONBCHAT_LANG=en")
	return append(env, s.env...)
}

func (s *sandbox) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = s.environ()
	cmd.Dir = s.workdir
	return cmd
}

// run runs the command with stdin (not a terminal) and returns what it wrote and its status.
func (s *sandbox) run(stdin string, args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	cmd := s.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		s.t.Fatalf("gonbchat %v: %v", args, err)
	}
	s.outputs = append(s.outputs, o.String(), e.String())
	return o.String(), e.String(), code
}

// mustRun is run that fails the test unless the command succeeds.
func (s *sandbox) mustRun(stdin string, args ...string) (stdout, stderr string) {
	s.t.Helper()
	o, e, code := s.run(stdin, args...)
	if code != 0 {
		s.t.Fatalf("gonbchat %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, o, e)
	}
	return o, e
}

// checkNoLeak fails the test if a key (or a 12-character piece of one) is in anything the
// command printed, or in any file of the sandbox but the keys file.
func (s *sandbox) checkNoLeak(keys ...string) {
	s.t.Helper()
	holds := func(text string) string {
		for _, k := range keys {
			for i := 0; i+12 <= len(k); i++ {
				if strings.Contains(text, k[i:i+12]) {
					return k
				}
			}
		}
		return ""
	}
	for _, out := range s.outputs {
		if k := holds(out); k != "" {
			s.t.Errorf("a key was printed:\n%s", out)
		}
	}
	for _, root := range []string{s.home, s.workdir} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || path == s.keysFile() {
				return nil
			}
			data, _ := os.ReadFile(path)
			if k := holds(string(data)); k != "" {
				s.t.Errorf("%s holds a key", path)
			}
			return nil
		})
	}
}

// ptySession is the command in a pseudo-terminal, its screen kept by a vt.
type ptySession struct {
	t    *testing.T
	s    *sandbox
	cmd  *exec.Cmd
	pty  *os.File
	vt   *vt
	done chan error
}

func (s *sandbox) startPTY(rows, cols int, args ...string) *ptySession {
	s.t.Helper()
	cmd := s.command(args...)
	cmd.Env = append(cmd.Env, "TERM=xterm-256color", "LANG=C.UTF-8")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		s.t.Fatal(err)
	}
	p := &ptySession{t: s.t, s: s, cmd: cmd, pty: f, vt: newVT(rows, cols, f), done: make(chan error, 1)}
	copied := make(chan struct{})
	go func() {
		io.Copy(p.vt, f) // ends with EIO when the command exits
		close(copied)
	}()
	go func() {
		err := cmd.Wait()
		<-copied
		p.done <- err
	}()
	s.t.Cleanup(func() {
		cmd.Process.Kill()
		f.Close()
		s.outputs = append(s.outputs, p.vt.Raw())
		if u := p.vt.Unknown(); len(u) > 0 {
			s.t.Errorf("the test terminal met sequences it does not interpret (its screen may be wrong): %q", u)
		}
	})
	return p
}

// send types keys (bytes as a terminal sends them).
func (p *ptySession) send(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if _, err := io.WriteString(p.pty, k); err != nil {
			p.t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // one key at a time, as typed
	}
}

// waitFor waits until cond holds for the screen (a test failure after a generous bound).
func (p *ptySession) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited in vain for %s; screen:\n%s", what, p.vt.Dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitText waits until the screen (or what scrolled away) shows s.
func (p *ptySession) waitText(s string) {
	p.t.Helper()
	p.waitFor("“"+s+"”", func() bool { return strings.Contains(p.vt.All(), s) })
}

// promptRow is the row of the last prompt on the screen (-1 if none).
func (p *ptySession) promptRow() int {
	lines := p.vt.Screen()
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prompt) || lines[i] == strings.TrimSpace(prompt) {
			return i
		}
	}
	return -1
}

// waitPrompt waits for an empty prompt with the cursor after it, and returns its row.
func (p *ptySession) waitPrompt() int {
	p.t.Helper()
	row := -1
	p.waitFor("an empty prompt", func() bool {
		row = p.promptRow()
		r, c := p.vt.Cursor()
		return row >= 0 && r == row && c == len(prompt) && strings.TrimSpace(p.vt.Screen()[row]) == strings.TrimSpace(prompt)
	})
	return row
}

// wait waits for the command to end and returns its exit status.
func (p *ptySession) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		p.t.Fatalf("the command did not end; screen:\n%s", p.vt.Dump())
	}
	return -1
}

// Keys as a terminal sends them.
const (
	keyLeft      = "\x1b[D"
	keyRight     = "\x1b[C"
	keyUp        = "\x1b[A"
	keyHome      = "\x1b[H"
	keyEnd       = "\x1b[F"
	keyDelete    = "\x1b[3~"
	keyBackspace = "\x7f"
	keyEnter     = "\r"
	keyCtrlC     = "\x03"
	keyCtrlD     = "\x04"
)

func repeat(key string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = key
	}
	return keys
}
