//go:build !gonbchat_kernel

package chatcell

import (
	"slices"
	"sync"
	"testing"

	"github.com/gonbchat/gonbchat/internal/lang"
)

// The display of a reply gets the chat's language (WithLanguage, else $GONBCHAT_LANG), so that
// its thinking indicator and cut-short notice read like the usage line under it: Ask, Loop's
// turns, AskAll and a GroupChat all make their cells through newCell.
func TestReplyCellTakesTheChatsLanguage(t *testing.T) {
	var mu sync.Mutex
	var langs []string
	old := newCell
	newCell = func(lang string) replyCell {
		mu.Lock()
		langs = append(langs, lang)
		mu.Unlock()
		return &recCell{}
	}
	t.Cleanup(func() { newCell = old })
	t.Setenv(EnvLanguage, "")
	dir := t.TempDir()
	captureOutput(t, func() {
		New(WithOffline(), WithStateDir(dir), WithName("tw"), WithLanguage("zh-TW")).Ask("你好")
		NewHistList(WithOffline(), WithStateDir(dir), WithName("cn"), WithLanguage("zh-CN")).Ask("你好")
		New(WithOffline(), WithStateDir(dir), WithName("en")).Ask("hello")
		t.Setenv(EnvLanguage, "zh_CN")
		New(WithOffline(), WithStateDir(dir), WithName("env")).Ask("你好")
		a := NewHistList(WithOffline(), WithStateDir(dir), WithName("a"), WithLanguage("zh-TW"))
		b := NewHistList(WithOffline(), WithStateDir(dir), WithName("b"), WithLanguage("en"))
		AskAll(Ask(a, "一"), Ask(b, "two"))
	})
	want := []string{"zh-TW", "zh-CN", "en", "zh-CN", "zh-TW", "en"}
	if !slices.Equal(langs, want) {
		t.Errorf("cells were made in %q, want %q", langs, want)
	}
}

// chatcell names the variable internal/lang reads (a literal here keeps the kernel stubs lean).
func TestEnvLanguageIsLangEnv(t *testing.T) {
	if EnvLanguage != lang.Env {
		t.Errorf("EnvLanguage %q, internal/lang reads %q", EnvLanguage, lang.Env)
	}
}
