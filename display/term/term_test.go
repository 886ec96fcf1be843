package term

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/creack/pty"
)

func TestRows(t *testing.T) {
	for _, c := range []struct {
		text  string
		width int
		want  int
	}{
		{"", 10, 0},
		{"abc", 10, 0},
		{"abc\n", 10, 1},
		{"abc\ndef", 10, 1},
		{"0123456789", 10, 0},   // a full row: the cursor stays on it
		{"0123456789\n", 10, 1}, // the newline after a full row moves one row
		{"0123456789a", 10, 1},  // wrapped
		{"你好你好你好", 10, 1},       // 12 columns
		{"\t\tx\n", 10, 2},      // 17 columns, then the newline
		{"a\n\n\nb", 10, 3},
	} {
		if got := Rows(c.text, c.width); got != c.want {
			t.Errorf("Rows(%q, %d) = %d, want %d", c.text, c.width, got, c.want)
		}
	}
}

// A writer that is not a terminal gets no stream: package display writes plain text to it.
func TestNotTerminal(t *testing.T) {
	var b bytes.Buffer
	if s := New().NewStream(&b); s != nil {
		t.Errorf("NewStream(buffer) = %T, want nil", s)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s := New().NewStream(f); s != nil {
		t.Errorf("NewStream(regular file) = %T, want nil", s)
	}
}

// On a terminal the raw text is shown as it arrives, and each committed block is then erased
// and replaced by its rendering: at the end the screen shows every block rendered, once.
func TestStreamOnTerminal(t *testing.T) {
	src := "# 标题一\n\n第一段，含有 `code`。\n\n```go\nfmt.Println(\"你好\")\n```\n\n- 一\n- 二\n\n最后一段。\n"
	var b bytes.Buffer
	s := New().newStream(&b, 200, 0)
	for i := 0; i < len(src); {
		n := min(5, len(src)-i)
		for n < len(src)-i && (src[i+n]&0xC0) == 0x80 {
			n++
		}
		s.Write(src[i : i+n])
		i += n
	}
	if !strings.Contains(b.String(), "# 标题一") {
		t.Error("the raw text was not shown as it arrived")
	}
	if !strings.Contains(b.String(), "\x1b[J") {
		t.Error("no block was replaced before Close")
	}
	s.Close()
	screen := emulate(b.String(), 200)
	for _, want := range []string{"标题一", "第一段", "code", "fmt", "Println", "最后一段", "二"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	for _, raw := range []string{"```", "# 标题一", "`code`"} {
		if strings.Contains(screen, raw) {
			t.Errorf("the screen shows raw Markdown %q:\n%s", raw, screen)
		}
	}
	if strings.Count(screen, "最后一段") != 1 || strings.Count(screen, "标题一") != 1 {
		t.Errorf("blocks shown more than once:\n%s", screen)
	}
}

var sgr = regexp.MustCompile(`^\x1b\[[0-9;]*m`)

// emulate returns the text a terminal width columns wide shows after out is printed on it (no
// line is that long here): it knows \r, \n, cursor up (ESC[nA), erase below (ESC[J), and skips
// colours.
func emulate(out string, width int) string {
	lines := [][]rune{nil}
	row, col := 0, 0
	put := func(r rune) {
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
		if col < len(lines[row]) {
			lines[row][col] = r
		} else {
			lines[row] = append(lines[row], r)
		}
		col++
	}
	for i := 0; i < len(out); {
		if m := sgr.FindString(out[i:]); m != "" {
			i += len(m)
			continue
		}
		var n int
		if _, err := fmt.Sscanf(out[i:], "\x1b[%dA", &n); err == nil {
			row -= n
			i = i + strings.IndexByte(out[i:], 'A') + 1
			continue
		}
		if strings.HasPrefix(out[i:], "\x1b[J") {
			lines[row] = lines[row][:min(col, len(lines[row]))]
			lines = lines[:row+1]
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(out[i:])
		i += size
		switch r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
			if row == len(lines) {
				lines = append(lines, nil)
			}
		default:
			put(r)
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(string(l), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// A terminal that cannot be drawn on (TERM=dumb, or no TERM outside Windows) gets no stream:
// the reply is plain text there, with no cursor movement or colour (examples/responses in
// Emacs' shell printed ESC[4A ESC[J and colours before). A drawable one gets a stream.
func TestDumbTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	for _, c := range []struct {
		term string
		want bool
	}{{"xterm-256color", true}, {"dumb", false}, {"", runtime.GOOS == "windows"}} {
		t.Setenv("TERM", c.term)
		s := New().NewStream(tty)
		if got := s != nil; got != c.want {
			t.Errorf("TERM=%q: a stream = %v, want %v", c.term, got, c.want)
		}
		if Dumb() == c.want {
			t.Errorf("TERM=%q: Dumb() = %v", c.term, Dumb())
		}
		if s != nil {
			s.Close()
		}
	}
}
