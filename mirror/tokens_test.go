package mirror

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/gonbchat/gonbchat/internal/recorded"
)

// The estimate stays close to the real o200k_base counts on real model
// output (the recordings), mirror replies, Chinese prose and Go code.
func TestEstimateTokensCloseToO200k(t *testing.T) {
	var samples []string
	files, _ := filepath.Glob(filepath.Join(recorded.Dir, "*.sse"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			var ev struct{ Type, Text string }
			if ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Type == "response.output_text.done" {
				samples = append(samples, ev.Text)
			}
		}
	}
	if len(samples) < 5 {
		t.Fatalf("%d samples from the recordings", len(samples))
	}
	samples = append(samples,
		markdownAnswer(prompt{Model: "gpt-4.1-nano", Instructions: "使用繁體中文",
			Turns: []turn{{"user", "你知道什麼是流冰嗎？"}, {"assistant", "流冰是…"}, {"user", "哪裡看得到？"}}}),
		"流冰是指海面上漂浮的冰塊，通常出現在寒冷地區的海域。北海道的鄂霍次克海沿岸，是日本最著名的流冰觀賞地點，每年一月下旬到三月上旬都可以看到。",
		"The quick brown fox jumps over the lazy dog. In 2024, about 1,234,567 people visited Hokkaido's Abashiri to see drift ice!",
		"func main() {\n\tfmt.Println(\"hello, world\")\n\tfor i := 0; i < 10; i++ {\n\t\tx += i * 2\n\t}\n}\n",
	)
	o200k := codec.NewO200kBase()
	for _, s := range samples {
		exact, err := o200k.Count(s)
		if err != nil {
			t.Fatal(err)
		}
		est := estimateTokens(s)
		if r := float64(est) / float64(exact); r < 0.75 || r > 1.3 {
			t.Errorf("estimate %d for %d real tokens (%.2f) of %q", est, exact, r, s[:min(60, len(s))])
		}
	}
}

func TestWithTokenCounter(t *testing.T) {
	o200k := codec.NewO200kBase()
	count := func(s string) int { n, _ := o200k.Count(s); return n }
	h := NewHandler(WithTokenCounter(count))
	text := markdownAnswer(prompt{Model: "m", Turns: []turn{{"user", "你好 hello"}}})
	cut, truncated := h.truncateTokens(text, 20)
	if !truncated || !strings.HasPrefix(text, cut) || count(cut) > 20 || count(text[:len(cut)+len(string([]rune(text[len(cut):])[0]))]) <= 20 {
		t.Errorf("truncated to %q (%d tokens)", cut, count(cut))
	}
	if got, want := h.countTokens(text), count(text); got != want {
		t.Errorf("count %d, want %d", got, want)
	}
}
