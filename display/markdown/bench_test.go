package markdown

import (
	"os"
	"testing"
)

func loadAnswer(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/answer-zh.md")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// BenchmarkRender is one full, highlighted render of the 19 KB answer (the final update).
func BenchmarkRender(b *testing.B) {
	r, doc := New(), loadAnswer(b)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		r.Render(doc)
	}
}

// BenchmarkRenderPlain is one full render without highlighting (what replace mode re-sends).
func BenchmarkRenderPlain(b *testing.B) {
	r, doc := New(), loadAnswer(b)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		r.RenderPlain(doc)
	}
}

// BenchmarkIncremental streams the answer in deltas of 2 to 8 bytes (rune-aligned), calling
// Blocks after each, and reports the cost per delta.
func BenchmarkIncremental(b *testing.B) {
	r, doc := New(), loadAnswer(b)
	steps := splitPoints(doc, 2, 8, 1)
	b.ResetTimer()
	for b.Loop() {
		inc := r.NewIncremental()
		prev := 0
		for _, end := range steps {
			inc.Append(doc[prev:end])
			inc.Blocks()
			prev = end
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(steps)), "ns/delta")
	b.ReportMetric(float64(len(steps)), "deltas")
}
