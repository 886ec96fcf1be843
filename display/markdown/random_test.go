package markdown

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Lines that start, continue, close or reinterpret blocks; random documents made of them stress
// the commitment rules far beyond the hand-written test documents.
var randomLines = []string{
	"", "", "", "",
	"段落文字**注意：**内容", "plain text *em* and `code`", "继续的一行", "  indented two",
	"    indented four", "      indented six", "\tTabbed",
	"- item", "* item", "+ item", "1. one", "2. two", "3) three", "10. ten", "  - nested", "    - deeper",
	"- [ ] task", "- [x] done",
	"---", "***", "===", "- - -", "___",
	"# heading", "## 标题 ##", "#not heading",
	"```", "```go", "~~~", "````", "  ```", "    ```",
	"> quote", ">", "> - quoted item", "> ```",
	"| a | b |", "|---|:-:|", "| 1 | 2 |", "a | b",
	"$$", "$$x^2$$", "\\[", "\\]", "$a_1^*$ 与 $b$", "价格 $5 和 $10",
	"  $$", "$$ y $$ 后文", "公式 $$z$$", "\\[w\\]", "$$ not alone", "x^2 $$",
	"<!--", "-->", "<div>", "</div>", "<script>x</script>",
	"[x]", "[x]: /url", "see [link](https://go.dev/)", "[a][b]", "a[i] = 1",
	"<https://go.dev/>", "https://go.dev/ 自动链接",
	"foo\\", "trailing spaces  ",
}

func randomDoc(rng *rand.Rand, lines int) string {
	var b strings.Builder
	for range lines {
		l := randomLines[rng.IntN(len(randomLines))]
		for os.Getenv("RANDOM_NOBR") != "" && strings.Contains(l, "]") {
			l = randomLines[rng.IntN(len(randomLines))]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	s := b.String()
	if rng.IntN(2) == 0 { // sometimes no final newline
		s = strings.TrimSuffix(s, "\n")
	}
	return s
}

// TestStreamRandomDocuments streams random documents (see streamExact). For a longer search:
// RANDOM_DOCS=5000 RANDOM_SEED=n, and RANDOM_NOBR=1 to leave out lines with brackets (which hold
// commitment back, so that more splits are exercised).
func TestStreamRandomDocuments(t *testing.T) {
	n := 300
	if s := os.Getenv("RANDOM_DOCS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 50
	}
	seed, _ := strconv.ParseUint(os.Getenv("RANDOM_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(42, seed))
	committed := 0
	for i := range n {
		doc := randomDoc(rng, 10+rng.IntN(30))
		inc := streamExact(t, fmt.Sprintf("random document %d %q", i, doc), doc, splitPoints(doc, 1, 10, uint64(i)))
		committed += len(inc.committed)
	}
	if committed < n {
		t.Errorf("only %d blocks committed in %d random documents", committed, n)
	}
}
