package markdown

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzStream checks, for any input, that rendering is safe and that streaming it in deltas gives
// exactly the full render at every step (see streamExact). The seed corpus (the golden inputs
// and some random-line documents) runs with the normal tests; `go test -fuzz FuzzStream` searches.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.md")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), uint64(1))
	}
	for _, s := range injections {
		f.Add(s, uint64(2))
	}
	f.Fuzz(func(t *testing.T, doc string, seed uint64) {
		if len(doc) > 1500 {
			return
		}
		r := New()
		checkSafe(t, doc, r.Render(doc))
		streamExact(t, "fuzz", doc, splitPoints(doc, 1, 9, seed))
	})
}
