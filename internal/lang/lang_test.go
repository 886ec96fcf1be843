package lang

import "testing"

func TestParse(t *testing.T) {
	for tag, want := range map[string]string{
		"zh-TW": "zh-TW", "zh_tw": "zh-TW", "zh-Hant": "zh-TW", "zh-Hant-HK": "zh-TW", "zh-HK": "zh-TW",
		"zh-CN": "zh-CN", "zh": "zh-CN", " zh-Hans ": "zh-CN", "zh-SG": "zh-CN",
		"en": "en", "en-GB": "en",
	} {
		if got, ok := Parse(tag); !ok || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tag, got, ok, want)
		}
	}
	for _, tag := range []string{"", "fr", "zh-XX", "english"} {
		if got, ok := Parse(tag); ok {
			t.Errorf("Parse(%q) = %q, true; want false", tag, got)
		}
	}
}

func TestFromEnvAndOr(t *testing.T) {
	t.Setenv(Env, "zh_CN")
	if got := FromEnv(); got != "zh-CN" {
		t.Errorf("FromEnv with zh_CN = %q", got)
	}
	if got := Or("zh-TW"); got != "zh-TW" {
		t.Errorf("Or(zh-TW) = %q: a known tag wins over the environment", got)
	}
	if got := Or(""); got != "zh-CN" {
		t.Errorf("Or(\"\") = %q, want the environment's zh-CN", got)
	}
	t.Setenv(Env, "klingon")
	if got := FromEnv(); got != "en" {
		t.Errorf("FromEnv with an unknown tag = %q, want en", got)
	}
}
