package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/ergochat/readline"
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/secret"
)

// lineInput is where the chat's messages come from.
type lineInput interface {
	// ReadLine returns the next line; io.EOF when the person is done (Ctrl-D, Ctrl-C at an empty
	// prompt, the end of standard input).
	ReadLine() (string, error)
	// Remember adds a sent line to the input history.
	Remember(line string)
	Close() error
}

const prompt = ">>> "

// ttyInput is the line editor (github.com/ergochat/readline): wide characters take two columns
// for cursor movement, deletion and wrapping; Up and Down recall earlier inputs, kept in the
// config directory.
type ttyInput struct {
	rl    *readline.Instance
	hist  *inputHistory
	typed atomic.Int64 // runes on the line being edited, as last seen
}

func newTTYInput(hist *inputHistory) (*ttyInput, error) {
	t := &ttyInput{hist: hist}
	rl, err := readline.NewFromConfig(&readline.Config{
		Prompt:                 prompt,
		HistoryLimit:           maxHistory,
		DisableAutoSaveHistory: true,
		InterruptPrompt:        "^C",
		Listener: func(line []rune, _ int, _ rune) ([]rune, int, bool) {
			t.typed.Store(int64(len(line)))
			return nil, 0, false
		},
	})
	if err != nil {
		return nil, err
	}
	for _, line := range hist.load() {
		rl.SaveToHistory(line)
	}
	t.rl = rl
	return t, nil
}

func (t *ttyInput) ReadLine() (string, error) {
	for {
		line, err := t.rl.ReadLine()
		if errors.Is(err, readline.ErrInterrupt) {
			if t.typed.Load() > 0 {
				continue // Ctrl-C on a line being typed drops the line, as a shell does
			}
			return "", io.EOF
		}
		return line, err
	}
}

func (t *ttyInput) Remember(line string) {
	t.rl.SaveToHistory(line)
	if err := t.hist.add(line); err != nil {
		fmt.Fprintln(stderr, "gonbchat: ⚠ the input history was not saved:", err)
	}
}

func (t *ttyInput) Close() error { return t.rl.Close() }

// plainInput reads lines from a pipe or a file (or a terminal the line editor cannot drive). A
// line from a pipe is echoed after the prompt, so that the transcript shows both sides.
type plainInput struct {
	lines  chan string
	err    error // after lines is closed
	sig    <-chan os.Signal
	prompt io.Writer // nil: no prompt
	echo   bool
}

func newPlainInput(in *os.File, sig <-chan os.Signal) *plainInput {
	p := &plainInput{lines: make(chan string), sig: sig}
	switch {
	case isTerminal(in) && isTerminal(os.Stdout):
		p.prompt = os.Stdout
	case isTerminal(in):
		p.prompt = os.Stderr
	default:
		p.prompt, p.echo = os.Stdout, true
	}
	go func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				p.lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				p.err = io.EOF
				if err != io.EOF {
					p.err = err
				}
				close(p.lines)
				return
			}
		}
	}()
	return p
}

func (p *plainInput) ReadLine() (string, error) {
	if !p.echo {
		fmt.Fprint(p.prompt, prompt)
	}
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", p.err
		}
		if p.echo && strings.TrimSpace(line) != "" && !secret.Contains(line) {
			fmt.Fprintln(p.prompt, prompt+line)
		}
		return line, nil
	case <-p.sig:
		fmt.Fprintln(p.prompt)
		return "", io.EOF
	}
}

func (p *plainInput) Remember(string) {}
func (p *plainInput) Close() error    { return nil }

// maxHistory is how many inputs the history keeps.
const maxHistory = 500

// inputHistory is the file of earlier inputs (mode 0600: what a person asked is theirs). It
// never holds a line that looks like a key: the chat refuses those before they get here.
type inputHistory struct{ path string }

type historyData struct {
	Version int      `json:"version"`
	Inputs  []string `json:"inputs"`
}

func historyFile(dir string) *inputHistory {
	return &inputHistory{path: filepath.Join(dir, "input-history.json")}
}

// load returns the inputs, oldest first; none if the file is missing or unreadable.
func (h *inputHistory) load() []string {
	data, err := fsutil.ReadFile(h.path, 4<<20)
	if err != nil {
		return nil
	}
	var d historyData
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	return d.Inputs
}

// add appends line (once, if it repeats the last one) and keeps the newest maxHistory. Another
// gonbchat may be adding at the same time: the file is re-read under its lock. A damaged file
// is moved aside, not overwritten.
func (h *inputHistory) add(line string) error {
	if secret.Contains(line) {
		return nil
	}
	unlock, err := fsutil.Lock(h.path)
	if err != nil {
		return err
	}
	defer unlock()
	var d historyData
	if data, err := fsutil.ReadFile(h.path, 4<<20); err == nil {
		if json.Unmarshal(data, &d) != nil {
			if _, err := fsutil.MoveAside(h.path); err != nil {
				return err
			}
			d = historyData{}
		}
	}
	if n := len(d.Inputs); n == 0 || d.Inputs[n-1] != line {
		d.Inputs = append(d.Inputs, line)
	}
	if n := len(d.Inputs); n > maxHistory {
		d.Inputs = d.Inputs[n-maxHistory:]
	}
	d.Version = 1
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(h.path, append(data, '\n'), 0o600)
}
