package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exported returns the conversation's messages, as `gonbchat export` writes them.
func (s *sandbox) exported(args ...string) []map[string]string {
	s.t.Helper()
	file := filepath.Join(s.t.TempDir(), "export.json")
	s.mustRun("", append([]string{"export", file}, args...)...)
	data, err := os.ReadFile(file)
	if err != nil {
		s.t.Fatal(err)
	}
	var msgs []map[string]string
	if err := json.Unmarshal(data, &msgs); err != nil {
		s.t.Fatalf("export: %v\n%s", err, data)
	}
	return msgs
}

// checkLine waits until the prompt row shows want (and the rows below it, wrapped) with the
// cursor at (row+dr, col).
func (p *ptySession) checkLine(row int, want []string, dr, col int) {
	p.t.Helper()
	p.waitFor("the line "+strings.Join(want, "⏎")+" with the cursor at its place", func() bool {
		screen := p.vt.Screen()
		if row+len(want) > len(screen) {
			return false
		}
		for i, w := range want {
			if screen[row+i] != w {
				return false
			}
		}
		r, c := p.vt.Cursor()
		return r == row+dr && c == col
	})
}

// Typing Chinese, moving the cursor over it and deleting edit the right runes, on the screen
// (each wide rune two columns, the cursor where it belongs, long lines wrapped as the terminal
// wraps them) and in what is sent.
func TestLineEditorEditsChinese(t *testing.T) {
	s := newSandbox(t)
	p := s.startPTY(20, 40, "-offline", "-pace", "1ms")
	row := p.waitPrompt()

	p.send("你好世界", keyLeft, keyLeft, "中文")
	p.checkLine(row, []string{">>> 你好中文世界"}, 0, 4+8)
	p.send(keyBackspace)
	p.checkLine(row, []string{">>> 你好中世界"}, 0, 4+6)
	p.send(keyHome)
	p.checkLine(row, []string{">>> 你好中世界"}, 0, 4)
	p.send(keyDelete, keyRight)
	p.checkLine(row, []string{">>> 好中世界"}, 0, 4+2)
	p.send(keyEnd, keyBackspace)
	p.checkLine(row, []string{">>> 好中世"}, 0, 4+6)
	p.send(keyEnter)
	p.waitText("tokens:")
	row = p.waitPrompt()

	// A line longer than the terminal: 'a' and 25 wide runes. The first row holds the prompt,
	// 'a' and 17 of them (39 columns: the 18th does not fit in the last one).
	p.send("a一二三四五六七八九十一二三四五六七八九十一二三四五")
	row = p.promptRow() // the screen may have scrolled
	p.checkLine(row, []string{">>> a一二三四五六七八九十一二三四五六七", "八九十一二三四五"}, 1, 16)
	p.send(repeat(keyLeft, 10)...) // before the 16th wide rune (六), back on the first row
	p.checkLine(row, []string{">>> a一二三四五六七八九十一二三四五六七", "八九十一二三四五"}, 0, 5+15*2)
	p.send(keyBackspace) // deletes the 15th (五): the runes after it move up a row
	p.checkLine(row, []string{">>> a一二三四五六七八九十一二三四六七八", "九十一二三四五"}, 0, 5+14*2)
	p.send("X") // the first row is now exactly full (40 columns)
	p.checkLine(row, []string{">>> a一二三四五六七八九十一二三四X六七八", "九十一二三四五"}, 0, 5+14*2+1)
	p.send(keyEnter)
	p.waitText("2 turns") // the usage line after the second reply (what was sent: below)
	p.waitPrompt()
	p.send(keyCtrlD)
	if code := p.wait(); code != 0 {
		t.Errorf("Ctrl-D: exit status %d", code)
	}

	msgs := s.exported("-offline")
	if len(msgs) != 4 || msgs[0]["content"] != "好中世" || msgs[2]["content"] != "a一二三四五六七八九十一二三四X六七八九十一二三四五" {
		t.Errorf("sent messages: %v", msgs)
	}
}

// Ctrl-C while a reply streams stops it: what arrived stays on the screen and in the
// conversation (marked cut short), the prompt comes back, and the next message works and sees
// the earlier turn.
func TestCtrlCStopsTheReplyAndTheChatGoesOn(t *testing.T) {
	s := newSandbox(t)
	p := s.startPTY(30, 80, "-offline", "-pace", "80ms")
	p.waitPrompt()
	p.send("第一個問題", keyEnter)
	p.waitText("Mirror") // the reply has begun
	p.send(keyCtrlC)
	p.waitText("interrupted")
	p.waitPrompt()
	if strings.Contains(p.vt.All(), "tokens:") {
		t.Errorf("the cut reply got a usage line, as if it had finished:\n%s", p.vt.Dump())
	}
	p.send("第二個問題", keyEnter)
	p.waitText("tokens:")
	p.waitPrompt()
	screen := p.vt.All()
	for _, want := range []string{"1 earlier turn", "第一個問題", "you said: “第二個問題”", "1 turn"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	p.send(keyCtrlD)
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}

	shown, _ := s.mustRun("", "show", "-offline")
	if !strings.Contains(shown, "cut short") || !strings.Contains(shown, "第一個問題") || !strings.Contains(shown, "第二個問題") {
		t.Errorf("show after the interrupt:\n%s", shown)
	}
	msgs := s.exported("-offline")
	if len(msgs) != 4 || !strings.Contains(msgs[1]["content"], "Mirror") || strings.Contains(msgs[1]["content"], "you said") {
		t.Errorf("the cut reply should be kept as far as it arrived: %v", msgs)
	}
}

// Ctrl-C on a line being typed drops the line and asks again; Ctrl-C at an empty prompt ends
// the chat, and so does an empty line.
func TestCtrlCAtThePrompt(t *testing.T) {
	s := newSandbox(t)
	p := s.startPTY(20, 60, "-offline", "-pace", "1ms")
	row := p.waitPrompt()
	p.send("不要這一句", keyCtrlC)
	p.waitFor("a new prompt below the dropped line", func() bool { return p.promptRow() > row && p.vt.Screen()[p.promptRow()] == ">>>" })
	p.send(keyCtrlC)
	if code := p.wait(); code != 0 {
		t.Errorf("Ctrl-C at an empty prompt: exit status %d", code)
	}
	if msgs := s.exported("-offline"); len(msgs) != 0 {
		t.Errorf("a dropped line was sent: %v", msgs)
	}

	p = s.startPTY(20, 60, "-offline", "-pace", "1ms")
	p.waitPrompt()
	p.send(keyEnter)
	if code := p.wait(); code != 0 {
		t.Errorf("an empty line: exit status %d", code)
	}
}

// Earlier inputs come back with Up, in the next run too; the history file is private and
// never holds a line that looks like a key (such a line is not sent either).
func TestInputHistory(t *testing.T) {
	s := newSandbox(t)
	p := s.startPTY(20, 60, "-offline", "-pace", "1ms")
	p.waitPrompt()
	p.send("第一句", keyEnter)
	p.waitText("tokens:")
	p.waitPrompt()
	p.send("second line", keyEnter)
	p.waitText("1 turn")
	p.waitPrompt()
	const key = "sk-test-0123456789abcdefghijklmnopqrstuv"
	p.send(key, keyEnter)
	p.waitText("looks like an API key")
	p.waitPrompt()
	p.send(keyCtrlD)
	p.wait()

	hist := filepath.Join(s.configDir(), "input-history.json")
	fi, err := os.Stat(hist)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file: %v %v", fi, err)
	}

	p = s.startPTY(20, 60, "-offline", "-pace", "1ms")
	row := p.waitPrompt()
	p.send(keyUp)
	p.checkLine(row, []string{">>> second line"}, 0, 4+11)
	p.send(keyUp)
	p.checkLine(row, []string{">>> 第一句"}, 0, 4+6)
	p.send(keyLeft, keyBackspace, "二")
	p.checkLine(row, []string{">>> 第二句"}, 0, 4+4)
	p.send(keyEnter)
	p.waitText("you said: “第二句”")
	p.waitPrompt()
	p.send(keyCtrlD)
	p.wait()

	msgs := s.exported("-offline")
	var sent []string
	for _, m := range msgs {
		if m["role"] == "user" {
			sent = append(sent, m["content"])
		}
	}
	if strings.Join(sent, "|") != "第一句|second line|第二句" {
		t.Errorf("sent: %q", sent)
	}
	s.checkNoLeak(key)
}

// keys add in a terminal asks at a hidden prompt: the key never shows on the screen.
func TestKeysAddHiddenPrompt(t *testing.T) {
	s := newSandbox(t)
	const key = "sk-test-hidden-0123456789abcdefghijklmnop"
	p := s.startPTY(20, 80, "keys", "add")
	p.waitText("input hidden")
	p.send(key + "\r")
	if code := p.wait(); code != 0 {
		t.Fatalf("exit status %d; screen:\n%s", code, p.vt.Dump())
	}
	if !strings.Contains(p.vt.All(), "Stored key#") || !strings.Contains(p.vt.All(), "hidden prompt") {
		t.Errorf("screen:\n%s", p.vt.Dump())
	}
	data, err := os.ReadFile(s.keysFile())
	if err != nil || !strings.Contains(string(data), key) {
		t.Fatalf("keys file: %v", err)
	}
	out, _ := s.mustRun("", "keys", "list")
	if !strings.Contains(out, "hidden prompt") {
		t.Errorf("list:\n%s", out)
	}
	s.checkNoLeak(key)
}

// keys clear in a terminal asks first: "n" keeps the keys, "y" removes them.
func TestKeysClearAsks(t *testing.T) {
	s := newSandbox(t)
	s.mustRun(key1+"\n"+keyGrq+"\n", "keys", "add")
	p := s.startPTY(20, 100, "keys", "clear")
	p.waitText("[y/N]")
	p.send("n\r")
	if code := p.wait(); code != 0 || !strings.Contains(p.vt.All(), "Nothing was removed") {
		t.Fatalf("answer n: exit %d\n%s", code, p.vt.Dump())
	}
	if _, err := os.Stat(s.keysFile()); err != nil {
		t.Fatalf("answer n removed the keys: %v", err)
	}
	p = s.startPTY(20, 100, "clear_apikey")
	p.waitText("Remove every stored key (2)")
	p.send("y\r")
	if code := p.wait(); code != 0 || !strings.Contains(p.vt.All(), "Removed 2 stored keys") {
		t.Fatalf("answer y: exit %d\n%s", code, p.vt.Dump())
	}
	if _, err := os.Stat(s.keysFile()); !os.IsNotExist(err) {
		t.Errorf("answer y left the keys file: %v", err)
	}
	s.checkNoLeak(allKeys...)
}
