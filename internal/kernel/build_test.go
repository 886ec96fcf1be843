//go:build unix

package kernel

import (
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/internal/lang"
)

// The one line a cell shows while the helper builds follows $GONBCHAT_LANG, as the rest of what
// gonbchat shows: a Chinese lesson shows no English line the first time it runs.
func TestBuildNoticeFollowsTheLanguage(t *testing.T) {
	for env, want := range map[string]string{"zh-TW": "正在建置", "zh_CN": "正在构建", "": "building the kernel helper", "en": "building"} {
		t.Setenv(lang.Env, env)
		got := buildNotice(lang.FromEnv())
		if !strings.Contains(got, want) {
			t.Errorf("GONBCHAT_LANG=%q: %q, want %q", env, got, want)
		}
		if env != "" && env != "en" && strings.Contains(got, "building") {
			t.Errorf("GONBCHAT_LANG=%q: English line %q", env, got)
		}
	}
}
