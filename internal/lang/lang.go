// Package lang names the languages gonbchat shows its own words in (zh-TW, zh-CN, en) and reads
// them from a tag or from $GONBCHAT_LANG. chatcell and display share it, so that a reply's
// indicator and notices follow the same setting as the usage line under it.
package lang

import (
	"os"
	"strings"
)

// Env names the environment variable that sets the default language.
const Env = "GONBCHAT_LANG"

// Parse normalises a language tag: zh-TW (also zh-Hant, zh-HK, zh-MO), zh-CN (also zh, zh-Hans,
// zh-SG), en (also en-*). It reports false for anything else.
func Parse(tag string) (string, bool) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	switch {
	case t == "zh-tw" || t == "zh-hant" || strings.HasPrefix(t, "zh-hant-") || t == "zh-hk" || t == "zh-mo":
		return "zh-TW", true
	case t == "zh" || t == "zh-cn" || t == "zh-hans" || strings.HasPrefix(t, "zh-hans-") || t == "zh-sg":
		return "zh-CN", true
	case t == "en" || strings.HasPrefix(t, "en-"):
		return "en", true
	}
	return "", false
}

// FromEnv is the language of $GONBCHAT_LANG, or English.
func FromEnv() string {
	if l, ok := Parse(os.Getenv(Env)); ok {
		return l
	}
	return "en"
}

// Or is tag's language when Parse knows it, else FromEnv.
func Or(tag string) string {
	if l, ok := Parse(tag); ok {
		return l
	}
	return FromEnv()
}
