package markdown

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.html from the current renderer")

// TestGolden renders testdata/golden/*.md and compares with the .html next to it. Run
// `go test ./display/markdown -run Golden -update` after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	checkGolden(t, "testdata/golden/*.md", New(), checkSafe)
}

// checkGolden renders every input that matches pattern with r, checks the HTML with check, and
// compares it with the .html file next to the input (rewritten with -update).
func checkGolden(t *testing.T, pattern string, r *Renderer, check func(t *testing.T, name, html string)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Render(string(src))
		check(t, f, got)
		golden := strings.TrimSuffix(f, ".md") + ".html"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s: render differs from %s (run with -update and review the diff)\ngot:\n%s", f, golden, got)
		}
	}
}

// TestGoldenStreamed streams each golden input one rune at a time (see streamExact).
func TestGoldenStreamed(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.md")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		streamExact(t, f, string(src), runeEnds(string(src)))
	}
}

// TestStreamedByteSplits streams CJK text one byte at a time, so that most deltas end inside a
// UTF-8 sequence.
func TestStreamedByteSplits(t *testing.T) {
	for _, f := range []string{"testdata/golden/cjk-emphasis.md", "testdata/golden/math.md"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ends := make([]int, len(src))
		for i := range ends {
			ends[i] = i + 1
		}
		streamExact(t, f, string(src), ends)
	}
}
