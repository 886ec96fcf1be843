package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The line editor in a real terminal emulator (tmux), to check what the test terminal (vt)
// concludes: the same edits of Chinese give the same screen and cursor. Skipped where tmux is
// not installed.
func TestLineEditorInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	s := newSandbox(t)
	script := filepath.Join(t.TempDir(), "run.sh")
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, kv := range append(s.environ(), "TERM=screen", "LANG=C.UTF-8") {
		name, value, _ := strings.Cut(kv, "=")
		if !assignment.MatchString(name + "=") { // a name the shell takes
			continue
		}
		fmt.Fprintf(&b, "export %s='%s'\n", name, strings.ReplaceAll(value, "'", `'\''`))
	}
	fmt.Fprintf(&b, "cd '%s' && exec '%s' -offline -pace 1ms\n", s.workdir, os.Args[0])
	if err := os.WriteFile(script, []byte(b.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	socket := "gonbchat-test-" + fmt.Sprint(os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-x", "40", "-y", "20", script)
	defer exec.Command("tmux", "-L", socket, "kill-server").Run()
	screen := func() ([]string, string) {
		lines := strings.Split(strings.TrimRight(tmux("capture-pane", "-p"), "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		return lines, strings.TrimSpace(tmux("display", "-p", "#{cursor_y},#{cursor_x}"))
	}
	waitFor := func(what string, cond func(lines []string, cursor string) bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			lines, cursor := screen()
			if cond(lines, cursor) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited in vain for %s; cursor %s, screen:\n%s", what, cursor, strings.Join(lines, "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	send := func(keys ...string) {
		for _, k := range keys {
			tmux("send-keys", "-l", k)
			time.Sleep(30 * time.Millisecond)
		}
	}
	row := -1
	waitFor("the prompt", func(lines []string, _ string) bool {
		for i, l := range lines {
			if l == ">>>" {
				row = i
			}
		}
		return row >= 0
	})
	expect := func(want []string, dr, col int) {
		t.Helper()
		waitFor(strings.Join(want, "⏎"), func(lines []string, cursor string) bool {
			for i, w := range want {
				if row+i >= len(lines) || lines[row+i] != w {
					return false
				}
			}
			return cursor == fmt.Sprintf("%d,%d", row+dr, col)
		})
	}
	send("你好世界", keyLeft, keyLeft, "中文")
	expect([]string{">>> 你好中文世界"}, 0, 4+8)
	send(keyBackspace)
	expect([]string{">>> 你好中世界"}, 0, 4+6)
	send("\x01", keyDelete, "\x05", keyBackspace) // Ctrl-A, Delete, Ctrl-E, Backspace
	expect([]string{">>> 好中世"}, 0, 4+6)
	send("\x15") // Ctrl-U: the line is dropped
	expect([]string{">>>"}, 0, 4)
	send("a一二三四五六七八九十一二三四五六七八九十一二三四五")
	expect([]string{">>> a一二三四五六七八九十一二三四五六七", "八九十一二三四五"}, 1, 16)
	send(repeat(keyLeft, 10)...)
	expect([]string{">>> a一二三四五六七八九十一二三四五六七", "八九十一二三四五"}, 0, 5+15*2)
	send(keyBackspace, "X")
	expect([]string{">>> a一二三四五六七八九十一二三四X六七八", "九十一二三四五"}, 0, 5+14*2+1)
}
