package markdown

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The renderer's output goes into a notebook as text/html. Whatever the model writes, the output
// may only contain the elements and attributes goldmark and chroma produce for Markdown, and no
// link or image may point at a script or a document.

var allowedTags = map[string]bool{
	"p": true, "a": true, "em": true, "strong": true, "del": true, "code": true, "pre": true,
	"span": true, "ul": true, "ol": true, "li": true, "blockquote": true, "hr": true, "br": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "img": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "input": true,
}

var allowedAttrs = map[string]bool{
	"href": true, "src": true, "alt": true, "title": true, "align": true, "start": true,
	"class": true, "style": true, "tabindex": true, "checked": true, "disabled": true, "type": true,
}

// checkSafe fails if out contains an element, attribute, URL or comment that Markdown rendering
// must not produce.
func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	for _, p := range unsafeParts(out) {
		t.Errorf("%q: %s in output:\n%s", in, p, out)
	}
}

// unsafeParts lists what out contains that Markdown rendering must not produce.
func unsafeParts(out string) (bad []string) {
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				bad = append(bad, "tokenizer error "+z.Err().Error())
			}
			return bad
		}
		tok := z.Token()
		switch tt {
		case html.CommentToken:
			if strings.TrimSpace(tok.Data) != "raw HTML omitted" {
				bad = append(bad, "comment "+tok.Data)
			}
		case html.DoctypeToken:
			bad = append(bad, "doctype")
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			if !allowedTags[tok.Data] {
				bad = append(bad, "element <"+tok.Data+">")
			}
			for _, a := range tok.Attr {
				if !allowedAttrs[a.Key] || a.Namespace != "" {
					bad = append(bad, "attribute "+a.Key+"="+a.Val)
				}
				switch a.Key {
				case "href", "src":
					if dangerousURL(a.Val) {
						bad = append(bad, "URL "+a.Key+"="+a.Val)
					}
				case "style":
					if tok.Data != "pre" && tok.Data != "span" || strings.ContainsAny(a.Val, "()\\") {
						bad = append(bad, "style "+a.Val+" on <"+tok.Data+">")
					}
				case "type":
					if a.Val != "checkbox" {
						bad = append(bad, "type="+a.Val)
					}
				}
			}
		}
	}
}

// dangerousURL reports a URL whose scheme (as a browser reads it: controls and whitespace
// removed, any case) can run script or load a document.
func dangerousURL(u string) bool {
	var b strings.Builder
	for _, r := range u {
		if r > ' ' {
			b.WriteRune(r)
		}
	}
	s := strings.ToLower(b.String())
	for _, p := range []string{"javascript:", "vbscript:", "file:", "data:text", "data:image/svg", "data:application"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return strings.HasPrefix(s, "data:") && !strings.HasPrefix(s, "data:image/")
}

var injections = []string{
	`<script>alert(1)</script>`,
	"<script>\nalert(1)\n</script>",
	`Hello <script>alert(1)</script> world`,
	`<img src=x onerror=alert(1)>`,
	`text <img src=x onerror="alert(1)"> text`,
	`<svg onload=alert(1)>`,
	`<iframe src="javascript:alert(1)"></iframe>`,
	`<a href="javascript:alert(1)">x</a>`,
	`<div style="background:url(javascript:alert(1))">x</div>`,
	`<style>body{display:none}</style>`,
	`<!-- comment --><script>alert(1)</script>`,
	"<!--\n\n<script>alert(1)</script>\n\n-->",
	`<!-- x --> after`,
	`<p onclick="alert(1)">x</p>`,
	`<details open ontoggle=alert(1)>`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<object data="data:text/html,<script>alert(1)</script>"></object>`,
	`<base href="javascript:/">`,
	`<form action="javascript:alert(1)"><button>x</button></form>`,
	"<textarea>\n</textarea><script>alert(1)</script>",
	`[x](javascript:alert(1))`,
	`[x](JaVaScRiPt:alert(1))`,
	`[x](  javascript:alert(1)  )`,
	`[x](<javascript:alert(1)>)`,
	`[x](java&#x09;script:alert(1))`,
	`[x](&#106;avascript:alert(1))`,
	`[x](vbscript:msgbox(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
	`[x](file:///etc/passwd)`,
	`![x](javascript:alert(1))`,
	`![x](data:image/svg+xml;base64,PHN2Zy8+)`,
	`![x](x" onerror="alert(1))`,
	`[x](http://a.b "t\" onmouseover=\"alert(1)")`,
	"[x][r]\n\n[r]: javascript:alert(1)",
	"[r]\n\n[r]: JAVASCRIPT:alert(1) \"t\"",
	"![i][r]\n\n[r]: data:text/html,x",
	`<javascript:alert(1)>`,
	`<vbscript:alert(1)>`,
	`<data:text/html,<script>alert(1)</script>>`,
	`www.example.com/<script>alert(1)</script>`,
	`https://example.com/"onmouseover="alert(1)`,
	"```\"><script>alert(1)</script>\ncode\n```",
	"```go {hl_style=\"x\\\"><script>\"}\ncode\n```",
	"```html\n<script>alert(1)</script>\n```",
	"`<script>alert(1)</script>`",
	`$<img src=x onerror=alert(1)>$`,
	`$$<script>alert(1)</script>$$`,
	`\(<script>alert(1)</script>\)`,
	`\[</p><script>alert(1)</script>\]`,
	"$$\n</p><script>alert(1)</script>\n$$",
	"\\[\n<img src=x onerror=alert(1)>\n\\]",
	"- $$\n  <svg onload=alert(1)>\n  $$",
	"$$\n<script>alert(1)</script>\n\nunclosed",
	"- [x] <script>alert(1)</script>",
	"| <script>alert(1)</script> | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
	"> <script>alert(1)</script>",
	"**<script>alert(1)</script>**",
	"&lt;script&gt;alert(1)&lt;/script&gt;",
	"<scr<script>ipt>alert(1)</script>",
	"<a href=\"x\"\nonclick=alert(1)>x</a>",
	"<?php echo 1 ?>",
	"<![CDATA[<script>alert(1)</script>]]>",
	"<!DOCTYPE html>",
}

func TestInjectionsAreInert(t *testing.T) {
	r := New()
	for _, in := range injections {
		for _, out := range []string{r.Render(in), r.RenderPlain(in), r.Render("前文\n\n" + in + "\n\n后文")} {
			checkSafe(t, in, out)
		}
	}
}

func TestInjectionsAreInertWhileStreaming(t *testing.T) {
	r := New()
	doc := strings.Join(injections, "\n\n")
	inc := r.NewIncremental()
	for i := 0; i < len(doc); i += 7 {
		inc.Append(doc[i:min(i+7, len(doc))])
		checkSafe(t, "(streamed)", inc.HTML())
	}
	checkSafe(t, "(final)", inc.Final())
}

// Positive checks: the payloads really are dropped or escaped (not just malformed).
func TestInjectionOutputs(t *testing.T) {
	r := New()
	for _, c := range []struct{ in, want string }{
		{`<script>alert(1)</script>`, "<!-- raw HTML omitted -->"},
		{`a <img src=x onerror=alert(1)> b`, "<p>a <!-- raw HTML omitted --> b</p>\n"},
		{`[x](javascript:alert(1))`, `<p><a href="">x</a></p>` + "\n"},
		{`<javascript:alert(1)>`, `<p><a href="">javascript:alert(1)</a></p>` + "\n"},
		{`![x](data:image/png;base64,iVBOR)`, `<p><img src="data:image/png;base64,iVBOR" alt="x"></p>` + "\n"},
		{`$<img src=x onerror=alert(1)>$`, "<p>$&lt;img src=x onerror=alert(1)&gt;$</p>\n"},
		{`$$a<b$$`, "$$a&lt;b$$\n"},
		{"`<b>`", "<p><code>&lt;b&gt;</code></p>\n"},
	} {
		if got := r.Render(c.in); !strings.Contains(got, c.want) {
			t.Errorf("Render(%q) = %q, want it to contain %q", c.in, got, c.want)
		}
	}
}

// The checker itself must catch what it is there to catch.
func TestUnsafePartsCatches(t *testing.T) {
	for _, out := range []string{
		`<script>alert(1)</script>`,
		`<p><img src="x" onerror="alert(1)"></p>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href=" JAVA&#x09;SCRIPT:alert(1)">x</a>`,
		`<a href="data:text/html,x">x</a>`,
		`<img src="data:image/svg+xml,x">`,
		`<iframe></iframe>`,
		`<p style="background:url(x)">x</p>`,
		`<!-- [if IE]><script>x</script> -->`,
		`<input type="text">`,
	} {
		if len(unsafeParts(out)) == 0 {
			t.Errorf("unsafeParts(%q) found nothing", out)
		}
	}
	if p := unsafeParts(`<p><a href="https://go.dev/">x</a> <code>y</code></p>`); len(p) != 0 {
		t.Errorf("unsafeParts flags safe HTML: %v", p)
	}
}
