package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The command keeps the conversation between runs, starts afresh with newchat, and exports it
// in openai2's format. It runs offline (no key) on a built binary, as a user would run it.
func TestCommandRemembersBetweenRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "gonbchat")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	config := t.TempDir()
	run := func(stdin string, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+config, "HOME="+config, "OPENAI_API_KEY=", "OPENAI_BASE_URL=")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gonbchat %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	first := run("你知道什麼是流冰嗎？\n\n")
	// Outside a notebook: the offline notice speaks of the current directory, never of a
	// notebook, and a pipe gets plain text.
	if strings.Contains(strings.ToLower(first), "notebook") || !strings.Contains(first, "current directory") || strings.Contains(first, "\x1b[") {
		t.Errorf("first run:\n%q", first)
	}
	second := run("哪裡看得到？\n\n", "chat")
	if !strings.Contains(second, "continuing") || !strings.Contains(second, "1 earlier turn") || !strings.Contains(second, "流冰") {
		t.Errorf("the second run did not continue the first:\n%s", second)
	}
	export := filepath.Join(t.TempDir(), "record.json")
	run("", "export", export)
	var msgs []map[string]string
	data, _ := os.ReadFile(export)
	if err := json.Unmarshal(data, &msgs); err != nil || len(msgs) != 4 || msgs[2]["content"] != "哪裡看得到？" {
		t.Errorf("export = %s (%v)", data, err)
	}
	if !strings.Contains(second, "this conversation: 2 turns") {
		t.Errorf("the usage line does not count the earlier turn:\n%s", second)
	}
	fresh := run("你好\n\n", "newchat")
	if !strings.Contains(fresh, "0 earlier turns") || !strings.Contains(fresh, "this conversation: 1 turn,") {
		t.Errorf("newchat did not start afresh (history and usage totals):\n%s", fresh)
	}
	cmd := exec.Command(bin, "bogus")
	if err := cmd.Run(); err == nil {
		t.Error("an unknown command succeeded")
	}
}
