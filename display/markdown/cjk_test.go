package markdown

import (
	"strings"
	"testing"
)

func para(s string) string { return "<p>" + s + "</p>\n" }

func TestCJKEmphasis(t *testing.T) {
	r := New()
	for _, c := range []struct{ in, want string }{
		// The motivating case: full-width punctuation before the closer, Han after it.
		{"**注意：**这个很重要。", "<strong>注意：</strong>这个很重要。"},
		{"**警告：**数据竞争是未定义行为。", "<strong>警告：</strong>数据竞争是未定义行为。"},
		{"这是**“引用”**的例子", "这是<strong>“引用”</strong>的例子"},
		{"这是**（括号）**内容", "这是<strong>（括号）</strong>内容"},
		{"**「重要」**です", "<strong>「重要」</strong>です"},
		{"*強調*文字", "<em>強調</em>文字"},
		{"文字*強調。*文字", "文字<em>強調。</em>文字"},
		{"__中文__", "<strong>中文</strong>"},
		{"这是 __强调：__，内容", "这是 <strong>强调：</strong>，内容"},
		{"这是 __强调：__内容", "这是 __强调：__内容"}, // closing __ between letters: §6.2 rule 8
		// Like foo__bar__ in English, __ between letters does not open (rule 6 of §6.2).
		{"这是__强调__内容", "这是__强调__内容"},
		{"***注意：***这个", "<em><strong>注意：</strong></em>这个"},
		{"한국어**강조：**입니다", "한국어<strong>강조：</strong>입니다"},
		{"カタカナ**テスト。**テスト", "カタカナ<strong>テスト。</strong>テスト"},
		{"**Note:**这个", "<strong>Note:</strong>这个"},
		{"中文**English.**中文", "中文<strong>English.</strong>中文"},
		{"使用 **Go 1.26** 版本", "使用 <strong>Go 1.26</strong> 版本"},
		{"~~删除：~~文字", "<del>删除：</del>文字"},
		{"~~删除~~文字", "<del>删除</del>文字"},
		// A variation selector after a CJK character does not hide it.
		{"**葛\U000E0100：**文字", "<strong>葛\U000E0100：</strong>文字"},
		{"**注意：︀**这个", "<strong>注意：︀</strong>这个"},
		// Intraword underscores stay literal, in CJK as in Latin text.
		{"变量_名字_很长", "变量_名字_很长"},
		{"snake_case_name", "snake_case_name"},
		// Latin text is plain CommonMark.
		{"a**b", "a**b"},
		{"a * b * c", "a * b * c"},
		{"2*3*4", "2<em>3</em>4"}, // CommonMark: * between alphanumerics is both-flanking
		{"**foo:**bar", "**foo:**bar"},
		{"*foo*bar", "<em>foo</em>bar"},
		{"_foo_bar", "_foo_bar"},
		{"foo*bar*", "foo<em>bar</em>"},
		{"**bold** and *em*", "<strong>bold</strong> and <em>em</em>"},
		{"*(*foo*)*", "<em>(<em>foo</em>)</em>"},
		{"“**Note:**”is", "“<strong>Note:</strong>”is"},
		// Emoji are not CJK: an emoji before the closer behaves like Latin punctuation would not.
		{"**好😀**好", "<strong>好😀</strong>好"},
	} {
		if got, want := r.Render(c.in), para(c.want); got != want {
			t.Errorf("Render(%q)\n got %q\nwant %q", c.in, got, want)
		}
	}
}

func TestCJKLineBreaks(t *testing.T) {
	r := New()
	for _, c := range []struct{ in, want string }{
		{"中文\n换行", "中文换行"},
		{"句号。\n下一句", "句号。下一句"},
		{"English\nwords", "English\nwords"},
		{"中文\nEnglish", "中文\nEnglish"},
	} {
		if got, want := r.Render(c.in), para(c.want); got != want {
			t.Errorf("Render(%q) = %q, want %q", c.in, got, want)
		}
	}
}

func TestIsCJK(t *testing.T) {
	for _, r := range "中文漢字ひらがなカタカナｶﾀｶﾅ한글ㄅ，。：；！？（）「」《》、【】　" {
		if !isCJK(r) {
			t.Errorf("isCJK(%q U+%04X) = false", r, r)
		}
	}
	for _, r := range "aZ9 .,:;!?()“”‘’—…é中"[:len("aZ9 .,:;!?()“”‘’—…é")] + "😀🎉⌚" {
		if isCJK(r) {
			t.Errorf("isCJK(%q U+%04X) = true", r, r)
		}
	}
}

func TestFlankingMatchesCommonMarkWithoutCJK(t *testing.T) {
	// For runs with no CJK character around them the amended rules are CommonMark's.
	chars := []rune{'\n', ' ', 'a', '1', '.', '*', '_', '(', ')', '"', 'é', '“', '\u00a0'}
	for _, d := range []byte{'*', '_'} {
		for _, b := range chars {
			for _, a := range chars {
				o, c := flanking(d, '\n', b, a)
				wo, wc := commonMarkFlanking(d, b, a)
				if o != wo || c != wc {
					t.Errorf("flanking(%q, %q, %q) = %v,%v; CommonMark %v,%v", d, b, a, o, c, wo, wc)
				}
			}
		}
	}
}

// commonMarkFlanking is CommonMark 0.31 §6.2, written out independently.
func commonMarkFlanking(d byte, before, after rune) (canOpen, canClose bool) {
	left := !isSpace(after) && (!isPunct(after) || isSpace(before) || isPunct(before))
	right := !isSpace(before) && (!isPunct(before) || isSpace(after) || isPunct(after))
	if d == '_' {
		return left && (!right || isPunct(before)), right && (!left || isPunct(after))
	}
	return left, right
}

func TestMath(t *testing.T) {
	r := New()
	for _, c := range []struct{ in, want string }{
		{"$a^*=x-b^*$", para("$a^*=x-b^*$")},
		{"设 $a_1*b_1*c$ 与 $x_2$", para("设 $a_1*b_1*c$ 与 $x_2$")},
		{"$$\nT_p = \\frac{n}{p}\n$$", "$$\nT_p = \\frac{n}{p}\n$$\n"},
		// Display math on lines of its own is a block: Markdown-looking lines inside stay math.
		{"$$\nf(x) = x^2\n- 2x\n# n\n$$", "$$\nf(x) = x^2\n- 2x\n# n\n$$\n"},
		{"text\n\\[\nx [0,1] *y*\n\\]\nmore", "<p>text</p>\n\\[\nx [0,1] *y*\n\\]\n<p>more</p>\n"},
		{"- 公式：\n  $$\n  x^2\n  $$\n- 下一项", "<ul>\n<li>公式：\n$$\nx^2\n$$\n</li>\n<li>下一项</li>\n</ul>\n"},
		{"> $$\n> a<b\n> $$", "<blockquote>\n$$\na&lt;b\n$$\n</blockquote>\n"},
		{"$$x_1*y_1$$", "$$x_1*y_1$$\n"},
		// After a tab (goldmark pads the line; the fuzzer found offsets off by the padding).
		{"- a\n\n\t$$\n\tx\n\t$$", "<ul>\n<li>\n<p>a</p>\n$$\n  x\n  $$\n</li>\n</ul>\n"},
		{">\t$$\nx\n$$", "<blockquote>\n<p>$$</p>\n</blockquote>\n<p>x</p>\n<p>$$</p>\n"},
		// Unclosed (a blank line or the end comes first), it is a paragraph.
		{"$$\nx *y*\n\nnext", "<p>$$\nx <em>y</em></p>\n<p>next</p>\n"},
		{"$$\nx *y*", "<p>$$\nx <em>y</em></p>\n"},
		{"$$ not alone *y*", para("$$ not alone <em>y</em>")},
		{"前 $$a*b*c$$ 后", "<p>前 </p>\n$$a*b*c$$\n<p> 后</p>\n"},
		{"\\(a_1 *b* \\)", para("\\(a_1 *b* \\)")},
		{"\\[a_1 *b* \\]", "\\[a_1 *b* \\]\n"},
		{"$a<b$ & $c>d$", para("$a&lt;b$ &amp; $c&gt;d$")},
		// Money stays text: the emphasis after it is still emphasis.
		{"It costs $5 and **$10**.", para("It costs $5 and <strong>$10</strong>.")},
		{"价格是$5，折扣后**$3**", para("价格是$5，折扣后<strong>$3</strong>")},
		{"from $5-$10 *each*", para("from $5-$10 <em>each</em>")},
		{"$ x$ and *y*", para("$ x$ and <em>y</em>")},
		{"\\$x *y*\\$", para("$x <em>y</em>$")},
		// An escaped backslash before [ or ( is not a math opener.
		{"\\\\[a *b* c\\\\]", para("\\[a <em>b</em> c\\]")},
		{"\\\\(a *b* c\\\\)", para("\\(a <em>b</em> c\\)")},
		// Math inside code is code, and code binds tighter than math.
		{"`$a*b*$`", para("<code>$a*b*$</code>")},
		{"cost $5 `echo $` *x*", para("cost $5 <code>echo $</code> <em>x</em>")},
		{"$a `b$` c$", para("$a `b$` c$")},
		{"$a ``b` c$", para("$a ``b` c$")},
		// Unclosed delimiters are text.
		{"$x *y*", para("$x <em>y</em>")},
		{"$$x *y*", para("$$x <em>y</em>")},
	} {
		if got := r.Render(c.in); got != c.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestTablesUseAlignAttributes(t *testing.T) {
	out := New().Render("| 左 | 中 | 右 | 无 |\n|:--|:-:|--:|---|\n| a | b | c | d |\n")
	for _, want := range []string{`<th align="left">左</th>`, `<th align="center">中</th>`, `<th align="right">右</th>`, `<th>无</th>`, `<td align="right">c</td>`} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "style=") {
		t.Errorf("table output uses style=:\n%s", out)
	}
}

func TestHighlighting(t *testing.T) {
	r := New()
	src := "```go\nfunc main() { fmt.Println(\"<hi>\") }\n```\n"
	hl := r.Render(src)
	if !strings.Contains(hl, `<pre style="`) || !strings.Contains(hl, `<span style="color:`) || strings.Contains(hl, "class=") {
		t.Errorf("Render of Go code is not highlighted with inline styles:\n%s", hl)
	}
	if !strings.Contains(hl, "&lt;hi&gt;") || strings.Contains(hl, "<hi>") {
		t.Errorf("highlighted code is not escaped:\n%s", hl)
	}
	plain := r.RenderPlain(src)
	want := "<pre><code class=\"language-go\">func main() { fmt.Println(&quot;&lt;hi&gt;&quot;) }\n</code></pre>\n"
	if plain != want {
		t.Errorf("RenderPlain = %q, want %q", plain, want)
	}
	// Unknown and missing languages are not highlighted, in either render.
	for _, src := range []string{"```nosuchlang\nx < y\n```\n", "```\nx < y\n```\n"} {
		if a, b := r.Render(src), r.RenderPlain(src); a != b || !strings.HasPrefix(a, "<pre><code") {
			t.Errorf("Render(%q) = %q, RenderPlain = %q", src, a, b)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	r := New()
	doc := "# 标题\n\n**注意：**并发 $x^2$。\n\n```go\nfunc f() {}\n```\n\n| a |\n|---|\n| 1 |\n"
	want := r.Render(doc)
	done := make(chan string)
	for range 8 {
		go func() {
			inc := r.NewIncremental()
			for i := 0; i < len(doc); i++ {
				inc.Append(doc[i : i+1])
				inc.Blocks()
			}
			done <- inc.Final()
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("concurrent Final = %q, want %q", got, want)
		}
	}
}
