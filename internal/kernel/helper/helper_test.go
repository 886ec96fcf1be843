//go:build !gonbchat_kernel && unix

package helper_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/openaitest"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// The tests run real processes: cell programs built in kernel mode (testdata/cell) against the
// helper (cmd/gonbchatd), both built once by TestMain, each test in a kernel directory of its own
// ($GONB_TMP_DIR); the offline mirror model answers.

var helperBin, cellBin string

// cellTimeout bounds one cell program: a broken helper fails the test instead of hanging it.
const cellTimeout = 90 * time.Second

func TestMain(m *testing.M) {
	// What GoNB's kernel registers to decode display metadata.
	gob.Register(map[string]any{})
	gob.Register([]string{})
	gob.Register([]any{})
	dir, err := os.MkdirTemp("", "gonbchat-helper-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helperBin, cellBin = filepath.Join(dir, "gonbchatd"), filepath.Join(dir, "cell")
	for _, args := range [][]string{
		{"build", "-o", helperBin, "github.com/gonbchat/gonbchat/cmd/gonbchatd"},
		{"build", "-tags", "gonbchat_kernel", "-o", cellBin, "./testdata/cell"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// kernelDir is a GoNB kernel's temporary directory; the helper exits when it is removed.
func kernelDir(t *testing.T) string {
	d := t.TempDir()
	t.Cleanup(func() { waitHelpersGone(t, d) })
	return d
}

// cellEnv is a cell's environment: no key (the offline model), the kernel's directory, the
// helper to start.
func cellEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasSuffix(k, "_API_KEY"), strings.HasPrefix(k, "OPENAI_"), strings.HasPrefix(k, "GONB"), k == "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GONB_TMP_DIR="+dir, "GONBCHAT_HELPER="+helperBin, "GONBCHAT_LANG=en"), extra...)
}

type result struct {
	stdout, stderr string
	state          *os.ProcessState
}

// runCell runs the cell program with args and waits for it.
func runCell(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cellTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cellBin, args...)
	cmd.Env = env
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out.String(), errb.String(), cmd.ProcessState}
	if err != nil {
		t.Fatalf("cell %v: %v\nstdout: %s\nstderr: %s\nhelper log:\n%s", args, err, r.stdout, r.stderr, helperLog(dir))
	}
	return r
}

func helperLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, ".gonbchat", "helper.log"))
	return string(b)
}

var listening = regexp.MustCompile(`pid (\d+) for kernel`)

// helperPIDs returns the pids of the helpers started in dir, in order.
func helperPIDs(dir string) []int {
	var pids []int
	for _, m := range listening.FindAllStringSubmatch(helperLog(dir), -1) {
		n, _ := strconv.Atoi(m[1])
		pids = append(pids, n)
	}
	return pids
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitGone waits until pid exits (it is not our child: init reaps it).
func waitGone(t *testing.T, pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if !alive(pid) || zombie(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

func waitHelpersGone(t *testing.T, dir string) {
	pids := helperPIDs(dir)
	os.RemoveAll(dir)
	for _, pid := range pids {
		if !waitGone(t, pid, 5*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("helper %d outlived its kernel directory", pid)
		}
	}
}

// The first use starts the helper; the next cell finds it, and the chat goes on (its state is the
// helper's business now, as it was the cell's).
func TestStartOnFirstUseThenReuse(t *testing.T) {
	dir := kernelDir(t)
	env := cellEnv(dir)
	r := runCell(t, dir, env, "ask", "t", "你知道什麼是流冰嗎？")
	if !strings.Contains(r.stdout, "你知道什麼是流冰嗎？") || !strings.Contains(r.stdout, "turns 1") {
		t.Errorf("first cell: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, "Offline: ") {
		t.Errorf("the offline notice did not reach the cell: %q", r.stdout)
	}
	r = runCell(t, dir, env, "ask", "t", "哪裡看得到？")
	if !strings.Contains(r.stdout, "1 earlier turn") || !strings.Contains(r.stdout, "turns 2") {
		t.Errorf("second cell: %q", r.stdout)
	}
	if strings.Contains(r.stdout, "Offline: ") {
		t.Errorf("the offline notice is once per kernel: %q", r.stdout)
	}
	if pids := helperPIDs(dir); len(pids) != 1 || !alive(pids[0]) {
		t.Errorf("helpers started: %v, want one that runs\n%s", pids, helperLog(dir))
	}
}

// Cells starting at the same time start one helper (the start is under a lock).
func TestOneHelperForConcurrentCells(t *testing.T) {
	dir := kernelDir(t)
	env := cellEnv(dir)
	var wg sync.WaitGroup
	outs := make([]string, 4)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(cellBin, "ask", fmt.Sprintf("c%d", i), "hello")
			cmd.Env, cmd.Dir = env, dir
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("cell %d: %v\n%s", i, err, b)
			}
			outs[i] = string(b)
		}()
	}
	wg.Wait()
	for i, o := range outs {
		if !strings.Contains(o, "turns 1") {
			t.Errorf("cell %d: %q", i, o)
		}
	}
	if pids := helperPIDs(dir); len(pids) != 1 {
		t.Errorf("%d helpers started for concurrent cells, want 1\n%s", len(pids), helperLog(dir))
	}
}

// A helper that died is started again by the next cell, and the chats go on from their state
// files.
func TestRestartAfterKill(t *testing.T) {
	dir := kernelDir(t)
	env := cellEnv(dir)
	runCell(t, dir, env, "ask", "k", "one")
	pids := helperPIDs(dir)
	if len(pids) != 1 {
		t.Fatalf("helpers: %v", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	if !waitGone(t, pids[0], 5*time.Second) {
		t.Fatal("the helper did not die")
	}
	r := runCell(t, dir, env, "ask", "k", "two")
	if !strings.Contains(r.stdout, "turns 2") || !strings.Contains(r.stdout, "1 earlier turn") {
		t.Errorf("after the restart: %q", r.stdout)
	}
	if pids := helperPIDs(dir); len(pids) != 2 || !alive(pids[1]) {
		t.Errorf("helpers: %v, want a second one running", pids)
	}
}

// The helper never outlives its kernel: the cell's parent, here a shell.
func TestHelperExitsWithItsKernel(t *testing.T) {
	dir := kernelDir(t)
	cmd := exec.Command("sh", "-c", `"$0" ask z hi; true`, cellBin)
	cmd.Env, cmd.Dir = cellEnv(dir), dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "turns 1") {
		t.Fatalf("%v: %s", err, out)
	}
	pids := helperPIDs(dir)
	if len(pids) != 1 {
		t.Fatalf("helpers: %v", pids)
	}
	if !waitGone(t, pids[0], 5*time.Second) {
		t.Errorf("helper %d still runs after its kernel (pid %d) exited", pids[0], cmd.Process.Pid)
	}
	if !strings.Contains(helperLog(dir), "is gone: exiting") {
		t.Errorf("log: %s", helperLog(dir))
	}
}

// A cell of another build of gonbchat (here: a newer helper binary) replaces the running helper,
// which retires.
func TestStaleHelperIsReplaced(t *testing.T) {
	dir := kernelDir(t)
	bin := filepath.Join(t.TempDir(), "gonbchatd")
	data, err := os.ReadFile(helperBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	env := cellEnv(dir, "GONBCHAT_HELPER="+bin)
	runCell(t, dir, env, "ask", "s", "one")
	later := time.Now().Add(time.Hour)
	os.Chtimes(bin, later, later) // another build
	r := runCell(t, dir, env, "ask", "s", "two")
	if !strings.Contains(r.stdout, "turns 2") {
		t.Errorf("after the new helper: %q", r.stdout)
	}
	pids := helperPIDs(dir)
	if len(pids) != 2 {
		t.Fatalf("helpers: %v\n%s", pids, helperLog(dir))
	}
	if !waitGone(t, pids[0], 5*time.Second) {
		t.Errorf("the stale helper %d did not retire", pids[0])
	}
	if !alive(pids[1]) {
		t.Errorf("the new helper %d is not running", pids[1])
	}
}

// An interrupt of the cell stops the turn in the helper: the cell ends as an interrupted program,
// and the reply cut short is kept, marked, as in-process.
func TestInterruptStopsTheTurn(t *testing.T) {
	dir := kernelDir(t)
	env := cellEnv(dir)
	cmd := exec.Command(cellBin, "slowhist", "i", "please write a long answer about drift ice")
	cmd.Env, cmd.Dir = env, dir
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		var seen bytes.Buffer
		sent := false
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			seen.Write(buf[:n])
			// The reply is streaming: "asking", then the mirror's first words.
			if !sent && strings.Contains(seen.String(), "Mirror") {
				sent = true
				cmd.Process.Signal(os.Interrupt)
			}
			if err != nil {
				got <- seen.String()
				return
			}
		}
	}()
	out := <-got
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("the cell ended with %v (%v), want killed by SIGINT\nstdout: %s\nstderr: %s", err, ws, out, stderr.String())
	}
	if strings.Contains(out, "done") {
		t.Errorf("the turn ran to its end: %s", out)
	}
	r := runCell(t, dir, env, "histmsgs", "i")
	if !strings.Contains(r.stdout, "user partial=false\nassistant partial=true") {
		t.Errorf("history after the interrupt:\n%s", r.stdout)
	}
}

// Errors keep their one line and what errors.Is and errors.As find, across the process.
func TestErrorsCross(t *testing.T) {
	dir := kernelDir(t)
	srv := openaitest.NewServer(openaitest.WithAPIKeys("sk-rightkey-0123456789abcdefghij"))
	defer srv.Close()
	r := runCell(t, dir, cellEnv(dir), "loadmissing", "apierr", srv.URL+"/v1", "describe", "plain words")
	for _, want := range []string{
		"notexist=true line=cannot read no-such-file: no such file",
		"api status=401 code=invalid_api_key",
		"chatcell.Error=true line=",
		"describe: plain words",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "sk-wrongkey") {
		t.Errorf("a key reached the cell's output:\n%s\n%s", r.stdout, r.stderr)
	}
}

// An option that cannot cross is an error at once, in one line.
func TestOptionThatCannotCross(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "reqopts")
	const want = "WithRequestOptions: openai-go request options cannot reach the kernel's gonbchat helper"
	if !strings.Contains(r.stderr, "✖ "+want) || !strings.Contains(r.stdout, "err: "+want) {
		t.Errorf("stdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if n := strings.Count(r.stderr, want); n != 1 {
		t.Errorf("shown %d times, want once: %s", n, r.stderr)
	}
}

// Stopping a stream early abandons the turn, as in-process.
func TestStreamStop(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "stream", "st", "hello there")
	if !strings.Contains(r.stdout, "deltas 2 turns 0") {
		t.Errorf("%s", r.stdout)
	}
}

// fakeGoNB plays GoNB's side of a cell's named pipes: it decodes the display messages, answers
// sync requests on the back pipe, and answers input requests on the cell's stdin.
type fakeGoNB struct {
	pipe, back string
	mu         sync.Mutex
	msgs       []*protocol.DisplayData
	syncs      int
	inputs     []string
	asked      int
	stdin      io.Writer
	done       chan struct{}
}

func newFakeGoNB(t *testing.T, inputs ...string) *fakeGoNB {
	d := t.TempDir()
	g := &fakeGoNB{pipe: filepath.Join(d, "pipe"), back: filepath.Join(d, "back"), inputs: inputs, done: make(chan struct{})}
	for _, p := range []string{g.pipe, g.back} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	backW := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(g.back, os.O_WRONLY, 0)
		if err == nil {
			backW <- w
		}
	}()
	go func() {
		defer close(g.done)
		r, err := os.Open(g.pipe)
		if err != nil {
			return
		}
		defer r.Close()
		dec := gob.NewDecoder(r)
		var enc *gob.Encoder
		for {
			var d protocol.DisplayData
			if err := dec.Decode(&d); err != nil {
				return
			}
			if cv, ok := d.Data[protocol.MIMECommValue].(protocol.CommValue); ok && cv.Address == protocol.GonbuiSyncAddress {
				if enc == nil {
					enc = gob.NewEncoder(<-backW)
				}
				enc.Encode(&protocol.CommValue{Address: protocol.GonbuiSyncAckAddress, Value: cv.Value})
				g.mu.Lock()
				g.syncs++
				g.mu.Unlock()
				continue
			}
			if _, ok := d.Data[protocol.MIMEJupyterInput]; ok {
				g.mu.Lock()
				answer := ""
				if g.asked < len(g.inputs) {
					answer = g.inputs[g.asked]
				}
				g.asked++
				stdin := g.stdin
				g.mu.Unlock()
				io.WriteString(stdin, answer+"\n")
			}
			g.mu.Lock()
			g.msgs = append(g.msgs, &d)
			g.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		// As GoNB does when the program never opened them: open the other ends to unblock.
		if w, err := os.OpenFile(g.pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		if r, err := os.OpenFile(g.back, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
	})
	return g
}

// run runs the cell program as GoNB would, with the pipes and a stdin the fake writes to.
func (g *fakeGoNB) run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cellTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cellBin, args...)
	cmd.Env = append(env, "GONB_PIPE="+g.pipe, "GONB_PIPE_BACK="+g.back)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	stdin, _ := cmd.StdinPipe()
	g.mu.Lock()
	g.stdin = stdin
	g.mu.Unlock()
	err := cmd.Run()
	if err != nil {
		t.Fatalf("cell %v: %v\nstdout: %s\nstderr: %s\nlog: %s", args, err, out.String(), errb.String(), helperLog(dir))
	}
	return result{out.String(), errb.String(), cmd.ProcessState}
}

func (g *fakeGoNB) messages() []*protocol.DisplayData {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*protocol.DisplayData(nil), g.msgs...)
}

func html(d *protocol.DisplayData) string {
	s, _ := d.Data[protocol.MIMETextHTML].(string)
	return s
}

// The helper writes the cell's displays into the cell's own GoNB pipe, and waits for GoNB's
// acknowledgement before the call returns (the cell may exit next).
func TestDisplaysGoToTheCellsPipe(t *testing.T) {
	dir := kernelDir(t)
	g := newFakeGoNB(t)
	r := g.run(t, dir, cellEnv(dir), "info", "a grey line", "cell", "ask", "p", "你好")
	msgs := g.messages()
	if len(msgs) < 6 {
		t.Fatalf("%d display messages: %v\nstdout: %s\nhelper log: %s", len(msgs), msgs, r.stdout, helperLog(dir))
	}
	if !strings.Contains(html(msgs[0]), "a grey line") || msgs[0].DisplayID != "" {
		t.Errorf("first message: %+v", msgs[0])
	}
	if !strings.Contains(html(msgs[1]), "thinking") || msgs[1].DisplayID == "" {
		t.Errorf("the display cell does not start with the thinking indicator: %+v", msgs[1])
	}
	var final *protocol.DisplayData
	for _, m := range msgs {
		if m.DisplayID == msgs[1].DisplayID {
			final = m
		}
	}
	if plain, _ := final.Data[protocol.MIMETextPlain].(string); plain != "**hi** there" {
		t.Errorf("final update of the display cell: %+v", final)
	}
	if g2, _ := final.Metadata["gonbchat"].(map[string]any); g2 == nil || g2["k"] != float64(1) {
		t.Errorf("metadata: %+v", final.Metadata)
	}
	var reply bool
	for _, m := range msgs[2:] {
		reply = reply || strings.Contains(html(m), "你好")
	}
	if !reply {
		t.Errorf("the chat's reply did not reach the pipe: %v", msgs)
	}
	g.mu.Lock()
	syncs := g.syncs
	g.mu.Unlock()
	if syncs < 3 {
		t.Errorf("%d syncs, want one per one-off display and per closed cell", syncs)
	}
	if !strings.Contains(r.stdout, "turns 1") || strings.Contains(r.stdout, "你好") {
		t.Errorf("stdout (the reply goes to the display, not stdout): %q", r.stdout)
	}
}

// A cell that opened its pipe itself (as gonbui does on its first display) gets gonbchat's output
// as text, with one line saying why: GoNB reads one gob stream per cell.
func TestCellThatOpenedItsPipeGetsText(t *testing.T) {
	dir := kernelDir(t)
	g := newFakeGoNB(t)
	r := g.run(t, dir, cellEnv(dir), "openpipe", "info", "a grey line", "info", "another")
	if n := strings.Count(r.stdout, "also displays through gonbui"); n != 1 {
		t.Errorf("the notice appears %d times, want once: %q", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "a grey line\nanother\n") {
		t.Errorf("stdout: %q", r.stdout)
	}
	if msgs := g.messages(); len(msgs) != 0 {
		t.Errorf("the helper wrote to a pipe the cell writes to: %v", msgs)
	}
}

// A chat loop asks GoNB for input through the helper, and reads the answer from the cell's stdin.
func TestLoopReadsTheCellsStdin(t *testing.T) {
	dir := kernelDir(t)
	g := newFakeGoNB(t, "你知道什麼是流冰嗎？", "")
	r := g.run(t, dir, cellEnv(dir, "GONBCHAT_INTERACTIVE=1"), "loop", "l", "ask", "l", "next")
	g.mu.Lock()
	asked := g.asked
	g.mu.Unlock()
	if asked != 2 {
		t.Errorf("asked %d times for input, want 2 (a question, then the empty line)", asked)
	}
	var replied bool
	for _, m := range g.messages() {
		replied = replied || strings.Contains(html(m), "你知道什麼是流冰嗎？")
	}
	if !replied {
		t.Errorf("no reply to the loop's question")
	}
	if !strings.Contains(r.stdout, "turns 2") {
		t.Errorf("the loop's turn was not kept: %q", r.stdout)
	}
}

// Output relayed from the helper keeps multi-byte text whole: a line longer than the relay's
// buffers arrives as it was written, no rune split.
func TestRelayKeepsUTF8(t *testing.T) {
	dir := kernelDir(t)
	line := strings.Repeat("流冰", 20000)
	r := runCell(t, dir, cellEnv(dir), "info", line)
	if r.stdout != line+"\n" {
		t.Errorf("relayed text broken: %d bytes, want %d\nstderr: %s", len(r.stdout), len(line)+1, r.stderr)
	}
}

// AskAll asks chats that live in the helper by their handles, in one call: one reply per
// question, in order ("" for a question without a chat), and each chat keeps its turn.
func TestAskAllAcrossTheProcess(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "askall", "a1", "b1", "first question", "second question")
	for _, want := range []string{"replies 3\n", "reply 2: \n", "turns 1 1\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?s)reply 0: .*?“first question”.*?reply 1: .*?“second question”.*?reply 2: \n`).MatchString(r.stdout) {
		t.Errorf("replies out of order or missing:\n%s", r.stdout)
	}
	// The next cell finds both turns in the chats' state.
	r = runCell(t, dir, cellEnv(dir), "histmsgs", "b1")
	if !strings.Contains(r.stdout, "user partial=false\nassistant partial=false") {
		t.Errorf("ChatWithHistList after AskAll:\n%s", r.stdout)
	}
}

// Go starts turns in the background in the order it was called, each waited for on its own.
func TestGoKeepsTheOrder(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "go", "g", "question one", "question two")
	// The second turn saw the first: Go keeps the order even when the second is waited for first.
	if !regexp.MustCompile(`(?s)go 1: <nil> [^“]*0 earlier turns.*“question one”.*go 2: <nil> [^“]*1 earlier turn.*“question two”`).MatchString(r.stdout) {
		t.Errorf("replies:\n%s", r.stdout)
	}
	if i, j := strings.Index(r.stdout, "user: question one"), strings.Index(r.stdout, "user: question two"); i < 0 || j < i {
		t.Errorf("the history does not hold the turns in the order of Go:\n%s", r.stdout)
	}
}

// Cancel stops a turn started by Go; Wait returns what arrived with the error, and the history
// keeps it marked.
func TestGoCancel(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "gocancel", "gc", "please write a long answer about drift ice")
	if !strings.Contains(r.stdout, "cancelled: err=true partial=true") || !strings.Contains(r.stdout, "user partial=false\nassistant partial=true") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// A GroupChat lives in the helper: its roles and remarks cross as data.
func TestGroupChat(t *testing.T) {
	dir := kernelDir(t)
	r := runCell(t, dir, cellEnv(dir), "group", "grp")
	if !strings.Contains(r.stdout, "remarks 1 roles 2 turns 1") || !strings.Contains(r.stdout, "remark 苏轼 -> [佛印]") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}
