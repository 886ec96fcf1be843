package llm

import (
	"regexp"
	"strings"
	"testing"
)

func TestWireName(t *testing.T) {
	allowed := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	seen := map[string]string{}
	for _, name := range []string{"Tony", "a_b-9", "苏轼", "李清照", "杜甫", "小明", "Li李", strings.Repeat("诗", 64), strings.Repeat("诗", 63) + "词", strings.Repeat("x", 64)} {
		w := WireName(name)
		if !allowed.MatchString(w) {
			t.Errorf("WireName(%q) = %q: not accepted by the API", name, w)
		}
		if other, dup := seen[w]; dup {
			t.Errorf("WireName(%q) = WireName(%q) = %q", name, other, w)
		}
		seen[w] = name
	}
	if WireName("Tony") != "Tony" || WireName("苏轼") != "u82cfu8f7c" {
		t.Errorf("WireName: Tony → %q, 苏轼 → %q", WireName("Tony"), WireName("苏轼"))
	}
}
