package markdown

import (
	"strings"
	"testing"
)

// TestCommitPoints checks when blocks are committed: only once they can no longer change.
func TestCommitPoints(t *testing.T) {
	type step struct {
		delta string
		n     int    // committed blocks after the delta
		cut   string // the committed source
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"paragraph", []step{{"para", 0, ""}, {"\n", 0, ""}, {"\n", 0, ""}, {"next", 0, ""}, {"\n", 1, "para\n\n"}}},
		{"setext heading", []step{{"para\n", 0, ""}, {"---", 0, ""}, {"\n", 1, "para\n---\n"}, {"more\n", 1, "para\n---\n"}}},
		{"setext after blank", []step{{"para\n\n", 0, ""}, {"x\n", 1, "para\n\n"}, {"===\n", 2, "para\n\nx\n===\n"}}},
		{"atx heading", []step{{"# 标题", 0, ""}, {"\n", 1, "# 标题\n"}}},
		{"thematic break", []step{{"a\n\n***", 0, ""}, {"\n", 2, "a\n\n***\n"}}},
		{"fence", []step{{"```go\nx := 1\n", 0, ""}, {"\n\nfoo\n", 0, ""}, {"``", 0, ""}, {"`", 0, ""}, {"\n", 1, "```go\nx := 1\n\n\nfoo\n```\n"}}},
		{"fence closer needs its newline", []step{{"```\nx\n```", 0, ""}, {"\n", 1, "```\nx\n```\n"}}},
		{"longer closer", []step{{"````\nx\n```\n", 0, ""}, {"````\n", 1, "````\nx\n```\n````\n"}}},
		{"ordered list across blank lines", []step{{"1. a\n\n", 0, ""}, {"2", 0, ""}, {". b\n\n", 0, ""}, {"3. c\n\nend\n", 1, "1. a\n\n2. b\n\n3. c\n\n"}}},
		{"paragraph after a list", []step{{"1. a\n\n2", 0, ""}, {"\n", 1, "1. a\n\n"}}},
		{"multi-paragraph item", []step{{"- a\n\n", 0, ""}, {"  b\n\n", 0, ""}, {"- c\n\nx\n", 1, "- a\n\n  b\n\n- c\n\n"}}},
		{"indented code", []step{{"    a\n\n", 0, ""}, {"    b\n\n", 0, ""}, {"c\n", 1, "    a\n\n    b\n\n"}}},
		{"block quote", []step{{"> a\n", 0, ""}, {"b\n", 0, ""}, {"\nc\n", 1, "> a\nb\n\n"}}},
		{"table", []step{{"| a |\n|---|\n| 1 |\n", 0, ""}, {"2\n", 0, ""}, {"\nx\n", 1, "| a |\n|---|\n| 1 |\n2\n\n"}}},
		{"html comment", []step{{"<!--\n\nx\n\n", 0, ""}, {"-->\n\n", 0, ""}, {"y\n", 1, "<!--\n\nx\n\n-->\n\n"}}},
		{"math splits a paragraph", []step{{"a $$x$$ b\n\n", 0, ""}, {"c\n", 1, "a $$x$$ b\n\n"}}},
		{"math pieces stay together", []step{{"a $$x$$\nb\n", 0, ""}, {"---\n", 1, "a $$x$$\nb\n---\n"}}},
		{"display math lines are blocks", []step{{"a\n$$x$$\nb\n", 2, "a\n$$x$$\n"}, {"---\n", 3, "a\n$$x$$\nb\n---\n"}}},
		{"open display math", []step{{"a\n\n$$\nx\n", 1, "a\n\n"}, {"- y\n", 1, "a\n\n"}, {"$$", 1, "a\n\n"}, {"\n", 2, "a\n\n$$\nx\n- y\n$$\n"}}},
		{"a table splits a paragraph", []step{{"\npara\n| a |\n|---|\n| 1 |\n", 0, ""}, {"\nnext\n", 1, "\npara\n| a |\n|---|\n| 1 |\n\n"}}},
		{"brackets hold back", []step{{"a\n\nsee [x] here\n\nb\n\nc\n", 1, "a\n\n"}}},
		{"an opening bracket alone does not", []step{{"a [b\n\nc\n", 1, "a [b\n\n"}}},
		{"brackets in code do not", []step{{"`a[i]`\n\n```\nb[j]\n```\n\nc\n", 2, "`a[i]`\n\n```\nb[j]\n```\n\n"}}},
		{"definition holds back", []step{{"a\n\n[x]: /u\n\nb\n\nc\n", 0, ""}}},
	} {
		inc := New().NewIncremental()
		for i, s := range c.steps {
			inc.Append(s.delta)
			committed, _ := inc.Blocks()
			if len(committed) != s.n || inc.Source()[:inc.Committed()] != s.cut || inc.rejected != 0 {
				t.Errorf("%s, step %d (source %q): %d blocks committed, source %q, %d refused; want %d, %q",
					c.name, i, inc.Source(), len(committed), inc.Source()[:inc.Committed()], inc.rejected, s.n, s.cut)
			}
		}
	}
}

func TestLateDefinitionResolves(t *testing.T) {
	inc := New().NewIncremental()
	inc.Append("first\n\nsee [the blog] now\n\nmore\n\n")
	if c, _ := inc.Blocks(); len(c) != 1 {
		t.Fatalf("committed %q, want only the first paragraph", c)
	}
	inc.Append("[the blog]: https://go.dev/blog/\n")
	want := "<p>first</p>\n<p>see <a href=\"https://go.dev/blog/\">the blog</a> now</p>\n<p>more</p>\n"
	if got := inc.HTML(); got != want {
		t.Errorf("HTML = %q, want %q", got, want)
	}
	if got := inc.Final(); got != want {
		t.Errorf("Final = %q, want %q", got, want)
	}
}

func TestCommittedCodeIsHighlighted(t *testing.T) {
	inc := New().NewIncremental()
	inc.Append("```go\nfunc main() {}\n")
	if c, tail := inc.Blocks(); len(c) != 0 || !strings.HasPrefix(tail, `<pre><code class="language-go">`) {
		t.Fatalf("open fence: committed %q, tail %q; want a plain tail", c, tail)
	}
	inc.Append("```\n")
	c, tail := inc.Blocks()
	if len(c) != 1 || !strings.Contains(c[0], `<span style="color:`) || tail != "" {
		t.Fatalf("closed fence: committed %q, tail %q; want one highlighted block", c, tail)
	}
}

func TestBlocksResultIsStable(t *testing.T) {
	inc := New().NewIncremental()
	inc.Append("a\n\nb\n\nc\n\nd")
	c1, t1 := inc.Blocks()
	if len(c1) != 2 { // "d" is on an unfinished line: it could still be a setext underline of "c"
		t.Fatalf("committed %q", c1)
	}
	_ = append(c1, "junk") // must not write into the Incremental's storage
	inc.Append("\n\ne\n")
	c2, _ := inc.Blocks()
	if len(c2) != 4 || c2[3] != "<p>d</p>\n" {
		t.Fatalf("after append: committed %q", c2)
	}
	c3, t3 := inc.Blocks()
	if len(c3) != len(c2) || t3 != "<p>e</p>\n" || t1 != "<p>c</p>\n<p>d</p>\n" {
		t.Fatalf("repeat: %q %q (first tail %q)", c3, t3, t1)
	}
}

func TestEmptyIncremental(t *testing.T) {
	inc := New().NewIncremental()
	inc.Append("")
	if c, tail := inc.Blocks(); len(c) != 0 || tail != "" || inc.HTML() != "" || inc.Final() != "" {
		t.Fatalf("empty: %q %q", c, tail)
	}
}
