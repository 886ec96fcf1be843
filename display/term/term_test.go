package term

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/display"
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

// Into a writer that is not a terminal, the stream writes each committed block rendered, once.
func TestStreamNotTTY(t *testing.T) {
	src := "# 标题一\n\n第一段，含有 `code`。\n\n```go\nfmt.Println(\"你好\")\n```\n\n- 一\n- 二\n\n最后一段。\n"
	var b bytes.Buffer
	c := display.NewCell(display.WithWriter(&b), display.WithTerminal(New()))
	for i := 0; i < len(src); {
		n := min(5, len(src)-i)
		for n < len(src)-i && (src[i+n]&0xC0) == 0x80 {
			n++
		}
		c.Write(src[i : i+n])
		i += n
	}
	if b.Len() == 0 {
		t.Error("nothing rendered before Close: blocks are not rendered as they commit")
	}
	c.Close(nil)
	out := b.String()
	for _, want := range []string{"标题一", "第一段", "code", "fmt", "Println", "最后一段", "二"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered output lacks %q:\n%s", want, out)
		}
	}
	for _, raw := range []string{"```", "# 标题一", "`code`"} {
		if strings.Contains(out, raw) {
			t.Errorf("rendered output has raw Markdown %q:\n%s", raw, out)
		}
	}
	if strings.Count(out, "最后一段") != 1 || strings.Count(out, "标题一") != 1 {
		t.Errorf("blocks rendered more than once:\n%s", out)
	}
	if c.Text() != src {
		t.Errorf("Text() = %q", c.Text())
	}
}
