package markdown

import (
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestMathMLGolden renders testdata/mathml/*.md with WithMathML and compares with the .html
// next to it (-update rewrites them: review the diff).
func TestMathMLGolden(t *testing.T) {
	checkGolden(t, "testdata/mathml/*.md", New(WithMathML()), checkMathMLSafe)
}

// The option changes only math: the same document without math renders the same, and the
// default still passes TeX through for MathJax.
func TestMathMLOptionScope(t *testing.T) {
	plain, ml := New(), New(WithMathML())
	for _, f := range []string{"testdata/golden/code.md", "testdata/golden/cjk-emphasis.md", "testdata/golden/lists.md", "testdata/golden/links.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if plain.Render(string(b)) != ml.Render(string(b)) {
			t.Errorf("%s: WithMathML changes a document without math", f)
		}
	}
	if got := plain.Render("$E = mc^2$"); got != "<p>$E = mc^2$</p>\n" {
		t.Errorf("default: %q", got)
	}
	if got := New(nil).Render("$x$"); got != "<p>$x$</p>\n" {
		t.Errorf("New(nil): %q", got)
	}
}

func TestMathMLConstructs(t *testing.T) {
	for _, c := range []struct {
		tex     string
		display bool
		want    []string
	}{
		{`E = mc^2`, false, []string{`<math><mi>E</mi><mo>=</mo><mi>m</mi><msup><mi>c</mi><mn>2</mn></msup></math>`}},
		{`x_i^2`, false, []string{`<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>`}},
		{`x^23`, false, []string{`<msup><mi>x</mi><mn>2</mn></msup><mn>3</mn>`}},
		{`3.14`, false, []string{`<mn>3.14</mn>`}},
		{`\sum_{i=1}^n i`, true, []string{`<math display="block"><munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>`}},
		{`\int_0^1 x\,dx`, true, []string{`<msubsup><mo>∫</mo><mn>0</mn><mn>1</mn></msubsup>`, `<mspace width="0.1667em"></mspace>`}},
		{`\frac{a}{b}`, false, []string{`<mfrac><mi>a</mi><mi>b</mi></mfrac>`}},
		{`\dfrac12`, false, []string{`<mstyle displaystyle="true" scriptlevel="0"><mfrac><mn>1</mn><mn>2</mn></mfrac></mstyle>`}},
		{`\sqrt{2}`, false, []string{`<msqrt><mn>2</mn></msqrt>`}},
		{`\sqrt[n]{x}`, false, []string{`<mroot><mi>x</mi><mi>n</mi></mroot>`}},
		{`\sin x + \log(y)`, false, []string{`<mi>sin</mi><mspace width="0.1667em"></mspace><mi>x</mi>`, `<mi>log</mi><mo form="prefix" stretchy="false">(</mo>`}},
		{`\lim_{x\to0} f`, true, []string{`<munder><mo form="prefix" movablelimits="true" lspace="0em" rspace="0em">lim</mo><mrow><mi>x</mi><mo>→</mo><mn>0</mn></mrow></munder>`}},
		{`\alpha + \Omega`, false, []string{`<mi>α</mi>`, `<mi mathvariant="normal">Ω</mi>`}},
		{`a \le b \ne c \approx d \pm e \times f \cdot g \div h \Rightarrow \infty \in \partial \nabla`, false, []string{"≤", "≠", "≈", "±", "×", "⋅", "÷", "⇒", "∞", "∈", "∂", `<mi mathvariant="normal">∇</mi>`}},
		{`a - b`, false, []string{`<mo>−</mo>`}},
		{`O(n \log n)`, false, []string{`<mi>n</mi><mspace width="0.1667em"></mspace><mi>log</mi><mspace width="0.1667em"></mspace><mi>n</mi>`}},
		{`\left( \frac{1}{2} \right]`, false, []string{`<mrow><mo fence="true" form="prefix" stretchy="true" symmetric="true">(</mo><mfrac>`, `<mo fence="true" form="postfix" stretchy="true" symmetric="true">]</mo></mrow>`}},
		{`\{ x \} |y| \langle z \rangle`, false, []string{`>{</mo>`, `>}</mo>`, `>|</mo>`, `>⟨</mo>`, `>⟩</mo>`}},
		{`\text{if } x > 0`, false, []string{"<mtext>if\u00a0</mtext>"}},
		{`\text{面积 } S`, false, []string{"<mtext>面积\u00a0</mtext>"}},
		{`面积 = \pi r^2`, false, []string{`<mtext>面积</mtext>`}},
		{`\mathrm{d}x \mathrm{kg} \operatorname{Var}(X)`, false, []string{`<mi mathvariant="normal">d</mi>`, `<mi>kg</mi>`, `<mi>Var</mi><mo form="prefix"`}},
		{`\mathbf{v} \mathbb{R} \mathcal{L}`, false, []string{`<mi>𝐯</mi>`, `<mi>ℝ</mi>`, `<mi>ℒ</mi>`}},
		{`a \ldots b \cdots c`, false, []string{`<mo>…</mo>`, `<mo>⋯</mo>`}},
		{`a\,b\;c\quad d\!e`, false, []string{`width="0.1667em"`, `width="0.2778em"`, `width="1em"`, `width="-0.1667em"`}},
		{`\binom{n}{k}`, false, []string{`<mfrac linethickness="0"><mi>n</mi><mi>k</mi></mfrac>`}},
		{`\overline{AB} \hat x \vec{v} \bar{x}`, false, []string{`<mover accent="true"><mrow><mi>A</mi><mi>B</mi></mrow><mo stretchy="true">―</mo></mover>`, `<mo stretchy="false">^</mo>`, `<mo stretchy="false">→</mo>`, `<mo stretchy="false">¯</mo>`}},
		{`\begin{pmatrix}1&2\\3&4\end{pmatrix}`, true, []string{`<mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>2</mn></mtd></mtr><mtr><mtd><mn>3</mn></mtd><mtd><mn>4</mn></mtd></mtr></mtable>`, `>(</mo>`, `>)</mo>`}},
		{`\begin{bmatrix}a\\b\\\end{bmatrix}`, true, []string{`<mtable><mtr><mtd><mi>a</mi></mtd></mtr><mtr><mtd><mi>b</mi></mtd></mtr></mtable>`}},
		{`\begin{cases}1 & x>0\\0 & \text{否则}\end{cases}`, true, []string{`>{</mo><mtable><mtr><mtd columnalign="left"><mn>1</mn></mtd>`, `<mtext>否则</mtext>`}},
		{`\begin{aligned} a &= b \\ &= c \end{aligned}`, true, []string{`<mtable displaystyle="true" class="tex-aligned"><mtr><mtd columnalign="right"><mi>a</mi></mtd><mtd columnalign="left"><mi></mi><mo>=</mo><mi>b</mi></mtd></mtr>`}},
		{`\boxed{x=1}`, false, []string{`<mrow class="tex-boxed"><mrow><mi>x</mi><mo>=</mo><mn>1</mn></mrow></mrow>`}},
		{`f'(x) + g''`, false, []string{`<msup><mi>f</mi><mo>′</mo></msup>`, `<msup><mi>g</mi><mo>″</mo></msup>`}},
		{`a \not\in B, c \not= d`, false, []string{`<mo>∉</mo>`, `<mo>≠</mo>`}},
		{`a = 1 \\ b = 2`, true, []string{`<mtable displaystyle="true"><mtr><mtd>`}},
	} {
		got, ok := texToMathML(c.tex, c.display)
		if !ok {
			t.Errorf("%q: not converted", c.tex)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q:\n%s\nlacks %s", c.tex, got, w)
			}
		}
		checkMathMLSafe(t, c.tex, got)
	}
}

// Formulas the converter does not understand are shown as their TeX, escaped, in a code span
// (inline) or a code block (display): nothing is lost and nothing fails.
func TestMathMLFallback(t *testing.T) {
	r := New(WithMathML())
	for _, c := range []struct{ in, want string }{
		{`$\foo{x}$`, `<p><code class="tex">$\foo{x}$</code></p>`},
		{`$\frac{a}{b$`, `<p><code class="tex">$\frac{a}{b$</code></p>`},
		{`$a}$`, `<code class="tex">$a}$</code>`},
		{`$x^$`, `<code class="tex">$x^$</code>`},
		{`$x^2^3$`, `<code class="tex">$x^2^3$</code>`},
		{`$\left( x$`, `<code class="tex">$\left( x$</code>`},
		{`$\href{javascript:alert(1)}{x}$`, `<code class="tex">$\href{javascript:alert(1)}{x}$</code>`},
		{`$\text{a}\textbf{\foo}$`, `<code class="tex">`},
		{"$$\n\\begin{pmatrix} 1 \\end{bmatrix}\n$$", "<pre class=\"tex\"><code>$$\n\\begin{pmatrix} 1 \\end{bmatrix}\n$$</code></pre>\n"},
		{`\[\unknown<b>\]`, "<pre class=\"tex\"><code>\\[\\unknown&lt;b&gt;\\]</code></pre>\n"},
		{"$" + strings.Repeat("x+", maxTeXBytes) + "x$", `<code class="tex">$x+x+`},
		{"$" + strings.Repeat("{", 10000) + "x" + strings.Repeat("}", 10000) + "$", `<code class="tex">$`},
		{"$" + strings.Repeat(`\frac{`, 500) + "$", `<code class="tex">$`},
	} {
		got := r.Render(c.in)
		if !strings.Contains(got, c.want) || strings.Contains(got, "<math") {
			t.Errorf("Render(%.80q) = %.300q, want it to contain %.200q and no <math>", c.in, got, c.want)
		}
		checkMathMLSafe(t, c.in, got)
	}
}

// Adversarial input is refused quickly, not worked through: the converter stops at its limits.
func TestMathMLBounded(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("{", 10000) + strings.Repeat("}", 10000),
		strings.Repeat(`\sqrt{`, 2000) + strings.Repeat("}", 2000),
		strings.Repeat(`\left(`, 3000),
		strings.Repeat("x^{", 1000) + strings.Repeat("}", 1000),
		strings.Repeat(`\begin{pmatrix}`, 1000),
		strings.Repeat("a&", 1999) + "a",
	} {
		if out, ok := texToMathML(in, true); ok && len(out) > 50*len(in) {
			t.Errorf("%.40q: %d bytes of output", in, len(out))
		} else if ok {
			checkMathMLSafe(t, in[:40], out)
		}
	}
	if _, ok := texToMathML(strings.Repeat("{", 10000)+strings.Repeat("}", 10000), true); ok {
		t.Error("10000 nested braces were converted (the length limit is not applied)")
	}
	// Under the length limit, the depth limit refuses deep nesting.
	for _, in := range []string{
		strings.Repeat("{", 1900) + "x" + strings.Repeat("}", 1900),
		strings.Repeat(`\sqrt{`, 500) + strings.Repeat("}", 500),
		strings.Repeat("x^{", 900) + strings.Repeat("}", 900),
	} {
		if len(in) > maxTeXBytes {
			t.Fatalf("%d bytes: over the length limit", len(in))
		}
		if _, ok := texToMathML(in, true); ok {
			t.Errorf("%.20q… (%d bytes) was converted (the depth limit is not applied)", in, len(in))
		}
	}
	if _, ok := texToMathML(strings.Repeat("{", maxTeXDepth/4)+"x"+strings.Repeat("}", maxTeXDepth/4), true); !ok {
		t.Error("moderate nesting was refused")
	}
}

// Streaming: an unclosed formula is text while it streams, the closed one MathML, and the
// streamed HTML is at every step the render of the prefix.
func TestMathMLStreaming(t *testing.T) {
	r := New(WithMathML())
	inc := r.NewIncremental()
	for _, d := range []string{"质能方程 $E = m", "c^2$ 和\n\n$$\n\\frac{a}", "{b}\n$$\n", "\n结束。"} {
		inc.Append(d)
		html := inc.HTML()
		switch d {
		case "质能方程 $E = m":
			if strings.Contains(html, "<math") || !strings.Contains(html, "$E = m") {
				t.Errorf("an unclosed inline formula: %q", html)
			}
		case "c^2$ 和\n\n$$\n\\frac{a}":
			if strings.Count(html, "<math") != 1 || !strings.Contains(html, `\frac{a}`) {
				t.Errorf("an unclosed display formula: %q", html)
			}
		}
		checkMathMLSafe(t, d, html)
	}
	final := inc.Final()
	if strings.Count(final, "<math") != 2 || !strings.Contains(final, `<math display="block"><mfrac><mi>a</mi><mi>b</mi></mfrac></math>`) {
		t.Errorf("final: %q", final)
	}
	if inc.HTML() != final {
		t.Errorf("streamed %q, final %q", inc.HTML(), final)
	}

	ml := New(WithMathML())
	ml.highlight = ml.plain
	for _, f := range []string{"testdata/mathml/formulas.md", "testdata/golden/math.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		streamExactWith(t, ml, f, string(b), runeEnds(string(b)))
		streamExactWith(t, ml, f, string(b), splitPoints(string(b), 1, 12, 3))
	}
}

// FuzzMathML checks that any formula converts to well-formed MathML of our elements, or fails
// cleanly; and that any document renders safely with the option on.
func FuzzMathML(f *testing.F) {
	for _, s := range []string{`E=mc^2`, `\frac{a}{b}`, `\sum_{i=1}^n`, `\begin{cases}a&b\\c&d\end{cases}`,
		`\text{<script>alert(1)</script>}`, `\left(\right.`, `{{{}`, `\sqrt[3]{x}`, `\mathbf{x}\boxed{y}`,
		`\text{"onerror=alert(1)}`, `\operatorname{javascript:alert}`, `a_{b_{c_{d}}}`, `\href{javascript:x}{y}`} {
		f.Add(s, true)
	}
	for _, s := range injections {
		f.Add(s, false)
	}
	r := New(WithMathML())
	plain := New(WithMathML())
	plain.highlight = plain.plain
	f.Fuzz(func(t *testing.T, s string, display bool) {
		if len(s) > 2000 {
			return
		}
		if out, ok := texToMathML(s, display); ok {
			if !strings.HasPrefix(out, "<math") {
				t.Fatalf("%q: %q", s, out)
			}
			checkMathMLSafe(t, s, out)
		}
		for _, doc := range []string{"$" + s + "$", "$$" + s + "$$", "$$\n" + s + "\n$$", s} {
			checkMathMLSafe(t, doc, r.Render(doc))
		}
		if len(s) <= 300 { // streaming with the option gives the full render at every step
			doc := "文 $" + s + "$ 和\n\n$$\n" + s + "\n$$\n\n完"
			streamExactWith(t, plain, "fuzz", doc, splitPoints(doc, 1, 9, uint64(len(s))))
		}
	})
}

var mathMLTags = map[string]bool{
	"math": true, "mrow": true, "mi": true, "mn": true, "mo": true, "mtext": true, "mspace": true,
	"msup": true, "msub": true, "msubsup": true, "munder": true, "mover": true, "munderover": true,
	"mfrac": true, "msqrt": true, "mroot": true, "mtable": true, "mtr": true, "mtd": true, "mstyle": true,
}

var mathMLAttrs = map[string]bool{
	"display": true, "mathvariant": true, "form": true, "stretchy": true, "fence": true, "symmetric": true,
	"minsize": true, "maxsize": true, "movablelimits": true, "lspace": true, "rspace": true, "width": true,
	"linethickness": true, "accent": true, "accentunder": true, "displaystyle": true, "scriptlevel": true,
	"columnalign": true, "class": true,
}

// checkMathMLSafe fails unless out is well-formed (every element closed, in order) and has only
// the elements and attributes Markdown rendering and the MathML converter produce: no script,
// no on…= attribute, no javascript: anywhere in a MathML tag (nor as a link's scheme), no style
// or href on MathML.
func checkMathMLSafe(t *testing.T, in, out string) {
	t.Helper()
	for _, p := range mathMLUnsafeParts(out) {
		t.Errorf("%.200q: %s in output:\n%.2000s", in, p, out)
	}
}

func mathMLUnsafeParts(out string) (bad []string) {
	void := map[string]bool{"br": true, "hr": true, "img": true, "input": true}
	var stack []string
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				bad = append(bad, "tokenizer error "+z.Err().Error())
			}
			break
		}
		raw := strings.ToLower(string(z.Raw()))
		tok := z.Token()
		if tt != html.TextToken && mathMLTags[tok.Data] && strings.Contains(raw, "javascript:") {
			bad = append(bad, "javascript: in "+raw)
		}
		switch tt {
		case html.CommentToken:
			if strings.TrimSpace(tok.Data) != "raw HTML omitted" {
				bad = append(bad, "comment "+tok.Data)
			}
		case html.DoctypeToken:
			bad = append(bad, "doctype")
		case html.StartTagToken, html.SelfClosingTagToken:
			if !allowedTags[tok.Data] && !mathMLTags[tok.Data] {
				bad = append(bad, "element <"+tok.Data+">")
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Namespace != "" {
					bad = append(bad, "attribute "+a.Key)
				}
				if mathMLTags[tok.Data] && !mathMLAttrs[a.Key] {
					bad = append(bad, "attribute "+a.Key+" on <"+tok.Data+">")
				}
				if !mathMLTags[tok.Data] && !allowedAttrs[a.Key] {
					bad = append(bad, "attribute "+a.Key)
				}
				if (a.Key == "href" || a.Key == "src") && dangerousURL(a.Val) {
					bad = append(bad, "URL "+a.Val)
				}
				if a.Key == "style" && (tok.Data != "pre" && tok.Data != "span" || strings.ContainsAny(a.Val, "()\\")) {
					bad = append(bad, "style "+a.Val+" on <"+tok.Data+">")
				}
			}
			if tt == html.StartTagToken && !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				bad = append(bad, "unbalanced </"+tok.Data+">")
			} else {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) > 0 {
		bad = append(bad, "unclosed "+strings.Join(stack, ","))
	}
	return bad
}

// The checker catches what it is there to catch.
func TestMathMLUnsafePartsCatches(t *testing.T) {
	for _, out := range []string{
		`<math><mi>x</mi>`,
		`<math><mi>x</mo></math>`,
		`<math><mi onclick="x">x</mi></math>`,
		`<math><mi style="x">x</mi></math>`,
		`<math><maction actiontype="x">x</maction></math>`,
		`<math><mi href="javascript:alert(1)">x</mi></math>`,
		`<math><mtext><script>x</script></mtext></math>`,
		`<math><annotation-xml><svg onload=x></svg></annotation-xml></math>`,
	} {
		if len(mathMLUnsafeParts(out)) == 0 {
			t.Errorf("mathMLUnsafeParts(%q) found nothing", out)
		}
	}
	ok, _ := texToMathML(`\frac{a}{b} + \text{是} \begin{pmatrix}1\end{pmatrix}`, true)
	if p := mathMLUnsafeParts("<p>x</p>\n" + ok); len(p) != 0 {
		t.Errorf("flags safe output: %v", p)
	}
}

// BenchmarkMathML renders testdata/mathml/formulas.md with WithMathML; BenchmarkMathMLAdversarial
// converts 1,900 nested braces (under the length limit: refused at the depth limit).
func BenchmarkMathML(b *testing.B) {
	src, err := os.ReadFile("testdata/mathml/formulas.md")
	if err != nil {
		b.Fatal(err)
	}
	r := New(WithMathML())
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r.Render(string(src))
	}
}

func BenchmarkMathMLAdversarial(b *testing.B) {
	in := strings.Repeat("{", 1900) + "x" + strings.Repeat("}", 1900)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, ok := texToMathML(in, true); ok {
			b.Fatal("converted")
		}
	}
}
