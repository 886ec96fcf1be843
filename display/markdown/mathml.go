package markdown

// TeX to MathML, for pages without MathJax (WithMathML).
//
// A small converter for the TeX a chat answer contains, to MathML Core (which Chromium ≥ 109,
// Firefox and Safari render natively, with no script): identifiers, numbers, operators, Greek,
// scripts, fractions, roots, delimiters, \text and the font commands, accents, spacing, \binom,
// \boxed, and the matrix, cases and aligned environments. What it does not know (an unknown
// command, unbalanced braces, over-deep nesting, over-long input) it does not guess at:
// texToMathML reports failure, and the formula is shown as its TeX in <code class="tex">.
//
// Safety by construction: the output is built from a tree whose element names and attribute
// strings are constants of this file; text from the model only ever reaches the output through
// goldmark's util.EscapeHTML. Work is bounded: the input is at most maxTeXBytes, nesting at
// most maxTeXDepth, the tree at most maxTeXNodes nodes, and every token is looked at a bounded number of times.

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/util"
)

const (
	maxTeXBytes = 4000 // longer formulas are shown as TeX
	maxTeXDepth = 40   // nesting of groups and commands
	maxTeXNodes = 5000 // MathML elements per formula
)

// mnode is a MathML element: tag and attrs are constants of this file, text is model text.
type mnode struct {
	tag, attrs, text string
	kids             []*mnode
	limits           bool // scripts go under and over (munderover), not beside
	fn               bool // a function name: a thin space follows unless a delimiter does
}

type texTok struct {
	kind byte // 'c' command, 'x' character, '{', '}', '^', '_', '&', 'n' (\\), ' ', '\'' (prime)
	s    string
}

// texError stops a conversion; texToMathML recovers it (and anything else) and reports failure.
type texError string

// texToMathML converts TeX (without its delimiters) to a <math> element. ok is false when the
// TeX is not something it converts; the caller then shows the TeX itself.
func texToMathML(tex string, display bool) (out string, ok bool) {
	if len(tex) > maxTeXBytes || !utf8.ValidString(tex) || strings.TrimSpace(tex) == "" {
		return "", false
	}
	defer func() {
		if recover() != nil {
			out, ok = "", false
		}
	}()
	p := &texParser{toks: tokenizeTeX(tex)}
	kids := p.parseBody()
	var b strings.Builder
	b.Grow(len(tex) * 8)
	if display {
		b.WriteString(`<math display="block">`)
	} else {
		b.WriteString(`<math>`)
	}
	for _, k := range kids {
		k.write(&b)
	}
	b.WriteString(`</math>`)
	return b.String(), true
}

func (n *mnode) write(b *strings.Builder) {
	b.WriteByte('<')
	b.WriteString(n.tag)
	b.WriteString(n.attrs)
	b.WriteByte('>')
	b.Write(util.EscapeHTML([]byte(n.text)))
	for _, k := range n.kids {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(n.tag)
	b.WriteByte('>')
}

func tokenizeTeX(s string) []texTok {
	var toks []texTok
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\':
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			if j == i+1 { // a control symbol: \, \{ \\ …
				if j >= len(s) {
					panic(texError("a lone backslash"))
				}
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if r2 == '\\' {
					toks = append(toks, texTok{kind: 'n'})
				} else {
					toks = append(toks, texTok{kind: 'c', s: string(r2)})
				}
				i = j + n2
				continue
			}
			name := s[i+1 : j]
			if j < len(s) && s[j] == '*' && (name == "operatorname" || strings.HasPrefix(name, "align") || name == "gather") {
				name += "*"
				j++
			}
			toks = append(toks, texTok{kind: 'c', s: name})
			i = j
			continue
		case r == '{' || r == '}' || r == '^' || r == '_' || r == '&' || r == '\'':
			toks = append(toks, texTok{kind: byte(r)})
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if len(toks) == 0 || toks[len(toks)-1].kind != ' ' {
				toks = append(toks, texTok{kind: ' '})
			}
		case r < ' ' || r == 0x7f || r == utf8.RuneError:
			panic(texError("a control character"))
		default:
			toks = append(toks, texTok{kind: 'x', s: s[i : i+n]})
		}
		i += n
	}
	return toks
}

type texParser struct {
	toks  []texTok
	pos   int
	depth int
	nodes int
	font  string // "" (math italic), or a font command's name
}

func (p *texParser) node(tag, attrs, text string, kids ...*mnode) *mnode {
	p.nodes++
	if p.nodes > maxTeXNodes {
		panic(texError("too many elements"))
	}
	return &mnode{tag: tag, attrs: attrs, text: text, kids: kids}
}

func (p *texParser) enter() {
	p.depth++
	if p.depth > maxTeXDepth {
		panic(texError("nested too deeply"))
	}
}

func (p *texParser) leave() { p.depth-- }

// peek returns the next token that is not a space (kind 0 at the end).
func (p *texParser) peek() texTok {
	for p.pos < len(p.toks) && p.toks[p.pos].kind == ' ' {
		p.pos++
	}
	if p.pos >= len(p.toks) {
		return texTok{}
	}
	return p.toks[p.pos]
}

func (p *texParser) next() texTok {
	t := p.peek()
	if t.kind != 0 {
		p.pos++
	}
	return t
}

func (p *texParser) expect(kind byte) {
	if p.next().kind != kind {
		panic(texError("expected " + string(kind)))
	}
}

// parseBody parses the whole formula: one expression, or rows and columns (\\ and & outside an
// environment, as MathJax reads them in display math).
func (p *texParser) parseBody() []*mnode {
	rows := p.parseRows("")
	if p.peek().kind != 0 {
		panic(texError("unbalanced"))
	}
	if len(rows) == 1 && len(rows[0]) == 1 {
		return rows[0][0]
	}
	for _, r := range rows {
		if len(r) > 1 {
			return []*mnode{p.table(rows, ` displaystyle="true"`, "aligned")}
		}
	}
	return []*mnode{p.table(rows, ` displaystyle="true"`, "matrix")}
}

// parseRows parses cells separated by & and rows separated by \\, until a token that ends an
// expression and is neither. closer is passed to parseExpr.
func (p *texParser) parseRows(closer string) [][][]*mnode {
	rows := [][][]*mnode{{}}
	for {
		cell := p.parseExpr(closer)
		rows[len(rows)-1] = append(rows[len(rows)-1], cell)
		switch p.peek().kind {
		case '&':
			p.next()
		case 'n':
			p.next()
			if t := p.peek(); t.kind == 'x' && t.s == "[" { // \\[4pt]: the extra space is ignored
				for t.kind != 0 && !(t.kind == 'x' && t.s == "]") {
					t = p.next()
				}
			}
			rows = append(rows, [][]*mnode{})
		default:
			if n := len(rows); n > 1 && len(rows[n-1]) == 1 && len(rows[n-1][0]) == 0 {
				rows = rows[:n-1] // a trailing \\
			}
			return rows
		}
	}
}

// parseExpr parses atoms until }, &, \\, \end, \right or the end (or closer, a character that
// ends an optional argument).
func (p *texParser) parseExpr(closer string) []*mnode {
	var out []*mnode
	for {
		t := p.peek()
		switch {
		case t.kind == 0 || t.kind == '}' || t.kind == '&' || t.kind == 'n':
			return out
		case t.kind == 'x' && closer != "" && t.s == closer:
			return out
		case t.kind == 'c' && (t.s == "end" || t.s == "right"):
			return out
		case t.kind == 'c' && (t.s == "displaystyle" || t.s == "textstyle"):
			p.next()
			attrs := ` displaystyle="true" scriptlevel="0"`
			if t.s == "textstyle" {
				attrs = ` displaystyle="false" scriptlevel="0"`
			}
			p.enter()
			rest := p.parseExpr(closer)
			p.leave()
			return append(out, p.node("mstyle", attrs, "", rest...))
		case t.kind == 'c' && (t.s == "hline" || t.s == "nonumber" || t.s == "notag"):
			p.next()
			continue
		}
		a := p.parseAtom()
		if a.fn && len(out) > 0 && out[len(out)-1].tag != "mo" && out[len(out)-1].tag != "mspace" {
			out = append(out, p.space("0.1667em")) // n\log n: a thin space before the function
		}
		out = append(out, a)
		if a.fn && !p.delimiterNext() {
			out = append(out, p.space("0.1667em"))
		}
	}
}

// delimiterNext reports whether what follows a function name needs no space: an opening
// delimiter, or the end of the expression.
func (p *texParser) delimiterNext() bool {
	t := p.peek()
	switch t.kind {
	case 0, '}', '&', 'n', '^', '_':
		return true
	case 'x':
		return strings.Contains("([|)],.;=+-<>/!", t.s)
	case 'c':
		switch t.s {
		case "left", "right", "end", "{", "langle", "lvert", "lVert", "big", "Big", "bigg", "Bigg", "bigl", "Bigl", "biggl", "Biggl", ",", ";", ":", "!", "quad", "qquad":
			return true
		}
	}
	return false
}

func (p *texParser) space(width string) *mnode {
	return p.node("mspace", ` width="`+width+`"`, "")
}

// parseAtom parses a primary and its scripts.
func (p *texParser) parseAtom() *mnode {
	p.enter()
	defer p.leave()
	base := p.parsePrimary(false)
	var sub, sup *mnode
	var primes string
	limits := base.limits
	for {
		t := p.peek()
		switch {
		case t.kind == '^':
			p.next()
			if sup != nil {
				panic(texError("double superscript"))
			}
			sup = p.parseScript()
		case t.kind == '_':
			p.next()
			if sub != nil {
				panic(texError("double subscript"))
			}
			sub = p.parseScript()
		case t.kind == '\'' && sup == nil:
			p.next()
			primes += "′"
		case t.kind == 'c' && t.s == "limits":
			p.next()
			limits = true
		case t.kind == 'c' && t.s == "nolimits":
			p.next()
			limits = false
		default:
			goto done
		}
	}
done:
	if primes != "" {
		pr := p.node("mo", "", strings.NewReplacer("′′′", "‴", "′′", "″").Replace(primes))
		if sup == nil {
			sup = pr
		} else {
			sup = p.node("mrow", "", "", pr, sup)
		}
	}
	var n *mnode
	switch {
	case sub == nil && sup == nil:
		return base
	case limits && sup == nil:
		n = p.node("munder", "", "", base, sub)
	case limits && sub == nil:
		n = p.node("mover", "", "", base, sup)
	case limits:
		n = p.node("munderover", "", "", base, sub, sup)
	case sup == nil:
		n = p.node("msub", "", "", base, sub)
	case sub == nil:
		n = p.node("msup", "", "", base, sup)
	default:
		n = p.node("msubsup", "", "", base, sub, sup)
	}
	n.fn = base.fn
	return n
}

// parseScript parses the argument of ^ or _: a group, or one token (one digit of a number).
func (p *texParser) parseScript() *mnode {
	switch p.peek().kind {
	case 0, '}', '&', 'n', '^', '_':
		panic(texError("a script without its argument"))
	}
	p.enter()
	defer p.leave()
	return p.parsePrimary(true)
}

// parseArg parses a command's argument: a group (as an mrow, or its one element) or one token.
func (p *texParser) parseArg() *mnode {
	switch p.peek().kind {
	case 0, '}', '&', 'n', '^', '_':
		panic(texError("a missing argument"))
	}
	return p.parsePrimary(true)
}

// parseGroup parses {…} after its opening brace.
func (p *texParser) parseGroup() []*mnode {
	kids := p.parseExpr("")
	p.expect('}')
	return kids
}

func (p *texParser) row(kids []*mnode) *mnode {
	if len(kids) == 1 {
		return kids[0]
	}
	return p.node("mrow", "", "", kids...)
}

func (p *texParser) parsePrimary(oneDigit bool) *mnode {
	p.enter()
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case '{':
		p.next()
		kids := p.parseGroup()
		if len(kids) == 1 {
			return kids[0]
		}
		return p.node("mrow", "", "", kids...)
	case '^', '_':
		return p.node("mrow", "", "") // an empty base
	case '\'':
		p.next()
		return p.node("mo", "", "′")
	case 'x':
		return p.parseChar(oneDigit)
	case 'c':
		p.next()
		return p.parseCommand(t.s)
	}
	panic(texError("unexpected token"))
}

func isASCIIDigit(s string) bool { return len(s) == 1 && s[0] >= '0' && s[0] <= '9' }

// parseChar parses a character: a letter (mi), a number (mn), CJK text (mtext) or an operator.
func (p *texParser) parseChar(oneDigit bool) *mnode {
	t := p.next()
	r, _ := utf8.DecodeRuneInString(t.s)
	switch {
	case isASCIIDigit(t.s) || r == '.' && p.pos < len(p.toks) && isASCIIDigit(p.toks[p.pos].s):
		num := t.s
		for !oneDigit && p.pos < len(p.toks) && p.toks[p.pos].kind == 'x' {
			s := p.toks[p.pos].s
			if !isASCIIDigit(s) && !(s == "." && p.pos+1 < len(p.toks) && isASCIIDigit(p.toks[p.pos+1].s)) {
				break
			}
			num += s
			p.pos++
		}
		return p.node("mn", "", mapFont(p.font, num))
	case isCJK(r):
		text := t.s
		for p.pos < len(p.toks) && p.toks[p.pos].kind == 'x' {
			r2, _ := utf8.DecodeRuneInString(p.toks[p.pos].s)
			if !isCJK(r2) {
				break
			}
			text += p.toks[p.pos].s
			p.pos++
		}
		return p.node("mtext", "", text)
	case unicode.IsLetter(r):
		if p.font == "mathrm" || p.font == "operatorname" {
			// An upright run: one mi (a multi-letter mi is upright; a single letter says so).
			text := t.s
			for p.pos < len(p.toks) && p.toks[p.pos].kind == 'x' {
				r2, _ := utf8.DecodeRuneInString(p.toks[p.pos].s)
				if !unicode.IsLetter(r2) || isCJK(r2) {
					break
				}
				text += p.toks[p.pos].s
				p.pos++
			}
			if utf8.RuneCountInString(text) == 1 {
				return p.node("mi", ` mathvariant="normal"`, text)
			}
			return p.node("mi", "", text)
		}
		return p.node("mi", "", mapFont(p.font, t.s))
	case unicode.IsDigit(r):
		return p.node("mn", "", t.s)
	}
	switch t.s {
	case "(", "[":
		return p.node("mo", ` form="prefix" stretchy="false"`, t.s)
	case ")", "]":
		return p.node("mo", ` form="postfix" stretchy="false"`, t.s)
	case "|":
		return p.node("mo", ` stretchy="false"`, "|")
	case "-":
		return p.node("mo", "", "−")
	case "*":
		return p.node("mo", "", "∗")
	case "~":
		return p.space("0.3333em")
	case "$", "#", "%":
		if t.s == "$" {
			panic(texError("a dollar in math"))
		}
	}
	return p.node("mo", "", t.s)
}

// texSymbols maps commands to one element.
var texSymbols = map[string][2]string{
	// Greek (lower case italic, upper case upright: see parseCommand)
	"alpha": {"mi", "α"}, "beta": {"mi", "β"}, "gamma": {"mi", "γ"}, "delta": {"mi", "δ"}, "epsilon": {"mi", "ϵ"},
	"varepsilon": {"mi", "ε"}, "zeta": {"mi", "ζ"}, "eta": {"mi", "η"}, "theta": {"mi", "θ"}, "vartheta": {"mi", "ϑ"},
	"iota": {"mi", "ι"}, "kappa": {"mi", "κ"}, "lambda": {"mi", "λ"}, "mu": {"mi", "μ"}, "nu": {"mi", "ν"},
	"xi": {"mi", "ξ"}, "omicron": {"mi", "ο"}, "pi": {"mi", "π"}, "varpi": {"mi", "ϖ"}, "rho": {"mi", "ρ"},
	"varrho": {"mi", "ϱ"}, "sigma": {"mi", "σ"}, "varsigma": {"mi", "ς"}, "tau": {"mi", "τ"}, "upsilon": {"mi", "υ"},
	"phi": {"mi", "ϕ"}, "varphi": {"mi", "φ"}, "chi": {"mi", "χ"}, "psi": {"mi", "ψ"}, "omega": {"mi", "ω"},
	"Gamma": {"mi", "Γ"}, "Delta": {"mi", "Δ"}, "Theta": {"mi", "Θ"}, "Lambda": {"mi", "Λ"}, "Xi": {"mi", "Ξ"},
	"Pi": {"mi", "Π"}, "Sigma": {"mi", "Σ"}, "Upsilon": {"mi", "Υ"}, "Phi": {"mi", "Φ"}, "Psi": {"mi", "Ψ"}, "Omega": {"mi", "Ω"},
	// ordinary symbols
	"infty": {"mi", "∞"}, "partial": {"mi", "∂"}, "nabla": {"mi", "∇"}, "emptyset": {"mi", "∅"}, "varnothing": {"mi", "∅"},
	"ell": {"mi", "ℓ"}, "hbar": {"mi", "ℏ"}, "Re": {"mi", "ℜ"}, "Im": {"mi", "ℑ"}, "aleph": {"mi", "ℵ"},
	"angle": {"mi", "∠"}, "triangle": {"mi", "△"}, "degree": {"mi", "°"}, "prime": {"mi", "′"}, "forall": {"mo", "∀"},
	"exists": {"mo", "∃"}, "nexists": {"mo", "∄"}, "neg": {"mo", "¬"}, "lnot": {"mo", "¬"}, "top": {"mi", "⊤"}, "bot": {"mi", "⊥"},
	"$": {"mi", "$"}, "%": {"mi", "%"}, "#": {"mi", "#"}, "&": {"mo", "&"}, "_": {"mi", "_"}, "backslash": {"mo", "\\"},
	"checkmark": {"mi", "✓"}, "dagger": {"mo", "†"}, "S": {"mi", "§"}, "clubsuit": {"mi", "♣"}, "heartsuit": {"mi", "♡"},
	// binary operators
	"pm": {"mo", "±"}, "mp": {"mo", "∓"}, "times": {"mo", "×"}, "div": {"mo", "÷"}, "cdot": {"mo", "⋅"},
	"cdotp": {"mo", "⋅"}, "centerdot": {"mo", "⋅"}, "ast": {"mo", "∗"}, "star": {"mo", "⋆"}, "circ": {"mo", "∘"},
	"bullet": {"mo", "∙"}, "oplus": {"mo", "⊕"}, "ominus": {"mo", "⊖"}, "otimes": {"mo", "⊗"}, "odot": {"mo", "⊙"},
	"cup": {"mo", "∪"}, "cap": {"mo", "∩"}, "setminus": {"mo", "∖"}, "wedge": {"mo", "∧"}, "land": {"mo", "∧"},
	"vee": {"mo", "∨"}, "lor": {"mo", "∨"}, "sqcup": {"mo", "⊔"}, "sqcap": {"mo", "⊓"}, "uplus": {"mo", "⊎"},
	"mod": {"mo", "mod"}, "bmod": {"mo", "mod"},
	// relations
	"leq": {"mo", "≤"}, "le": {"mo", "≤"}, "geq": {"mo", "≥"}, "ge": {"mo", "≥"}, "neq": {"mo", "≠"}, "ne": {"mo", "≠"},
	"leqslant": {"mo", "⩽"}, "geqslant": {"mo", "⩾"}, "ll": {"mo", "≪"}, "gg": {"mo", "≫"},
	"approx": {"mo", "≈"}, "equiv": {"mo", "≡"}, "sim": {"mo", "∼"}, "simeq": {"mo", "≃"}, "cong": {"mo", "≅"},
	"propto": {"mo", "∝"}, "doteq": {"mo", "≐"}, "in": {"mo", "∈"}, "notin": {"mo", "∉"}, "ni": {"mo", "∋"},
	"subset": {"mo", "⊂"}, "subseteq": {"mo", "⊆"}, "supset": {"mo", "⊃"}, "supseteq": {"mo", "⊇"},
	"subsetneq": {"mo", "⊊"}, "nsubseteq": {"mo", "⊈"}, "perp": {"mo", "⊥"}, "parallel": {"mo", "∥"},
	"mid": {"mo", "∣"}, "nmid": {"mo", "∤"}, "models": {"mo", "⊨"}, "vdash": {"mo", "⊢"}, "coloneqq": {"mo", "≔"},
	"prec": {"mo", "≺"}, "succ": {"mo", "≻"}, "preceq": {"mo", "⪯"}, "succeq": {"mo", "⪰"},
	// arrows
	"to": {"mo", "→"}, "rightarrow": {"mo", "→"}, "leftarrow": {"mo", "←"}, "gets": {"mo", "←"},
	"leftrightarrow": {"mo", "↔"}, "Rightarrow": {"mo", "⇒"}, "Leftarrow": {"mo", "⇐"}, "Leftrightarrow": {"mo", "⇔"},
	"implies": {"mo", "⟹"}, "impliedby": {"mo", "⟸"}, "iff": {"mo", "⟺"}, "mapsto": {"mo", "↦"},
	"longrightarrow": {"mo", "⟶"}, "longleftarrow": {"mo", "⟵"}, "Longrightarrow": {"mo", "⟹"},
	"Longleftarrow": {"mo", "⟸"}, "longleftrightarrow": {"mo", "⟷"}, "Longleftrightarrow": {"mo", "⟺"},
	"longmapsto": {"mo", "⟼"}, "uparrow": {"mo", "↑"}, "downarrow": {"mo", "↓"}, "Uparrow": {"mo", "⇑"},
	"Downarrow": {"mo", "⇓"}, "updownarrow": {"mo", "↕"}, "nearrow": {"mo", "↗"}, "searrow": {"mo", "↘"},
	"rightleftharpoons": {"mo", "⇌"}, "hookrightarrow": {"mo", "↪"},
	// punctuation and dots
	"ldots": {"mo", "…"}, "dots": {"mo", "…"}, "dotsc": {"mo", "…"}, "dotsb": {"mo", "⋯"}, "cdots": {"mo", "⋯"},
	"vdots": {"mo", "⋮"}, "ddots": {"mo", "⋱"}, "colon": {"mo", ":"}, "therefore": {"mo", "∴"}, "because": {"mo", "∵"},
}

// texDelims maps delimiters (characters and commands) to their character.
var texDelims = map[string]string{
	"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "/": "/", "<": "⟨", ">": "⟩", ".": "",
	"{": "{", "}": "}", "lbrace": "{", "rbrace": "}", "langle": "⟨", "rangle": "⟩", "vert": "|", "Vert": "‖",
	"lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖", "lfloor": "⌊", "rfloor": "⌋",
	"lceil": "⌈", "rceil": "⌉", "lbrack": "[", "rbrack": "]", "backslash": "\\", "uparrow": "↑", "downarrow": "↓",
}

var texFuncs = map[string]bool{
	"sin": true, "cos": true, "tan": true, "cot": true, "sec": true, "csc": true, "arcsin": true, "arccos": true,
	"arctan": true, "sinh": true, "cosh": true, "tanh": true, "coth": true, "log": true, "ln": true, "lg": true,
	"exp": true, "deg": true, "dim": true, "ker": true, "hom": true, "arg": true,
}

// texLimFuncs are function names that take limits below in display style (lim_{x\to0}).
var texLimFuncs = map[string]string{
	"lim": "lim", "limsup": "lim sup", "liminf": "lim inf", "max": "max", "min": "min", "sup": "sup",
	"inf": "inf", "det": "det", "gcd": "gcd", "Pr": "Pr", "argmax": "arg max", "argmin": "arg min",
}

// texBigOps are the large operators; the summation-like ones take limits (munderover, which
// MathML's movablelimits turns into scripts outside display style), the integrals do not.
var texBigOps = map[string]string{
	"sum": "∑", "prod": "∏", "coprod": "∐", "bigcup": "⋃", "bigcap": "⋂", "bigoplus": "⨁", "bigotimes": "⨂",
	"bigodot": "⨀", "bigvee": "⋁", "bigwedge": "⋀", "bigsqcup": "⨆", "biguplus": "⨄",
	"int": "∫", "iint": "∬", "iiint": "∭", "oint": "∮",
}

// texAccents: the character over (or under) the argument, and whether it stretches.
var texAccents = map[string]struct {
	char    string
	stretch bool
	under   bool
}{
	"hat": {"^", false, false}, "widehat": {"^", true, false}, "bar": {"¯", false, false},
	// U+2015 for the lines: Chromium stretches it (not ‾ or _) with the fonts it has.
	"overline": {"―", true, false}, "underline": {"―", true, true}, "vec": {"→", false, false},
	"dot": {"˙", false, false}, "ddot": {"¨", false, false}, "tilde": {"~", false, false},
	"widetilde": {"~", true, false}, "check": {"ˇ", false, false}, "acute": {"´", false, false},
	"grave": {"`", false, false}, "breve": {"˘", false, false}, "mathring": {"˚", false, false},
	"overrightarrow": {"→", true, false}, "overleftarrow": {"←", true, false},
	"overleftrightarrow": {"↔", true, false}, "overbrace": {"⏞", true, false}, "underbrace": {"⏟", true, true},
}

var texSpaces = map[string]string{
	",": "0.1667em", "thinspace": "0.1667em", ":": "0.2222em", ">": "0.2222em", "medspace": "0.2222em",
	";": "0.2778em", "thickspace": "0.2778em", " ": "0.3333em", "quad": "1em", "qquad": "2em",
	"!": "-0.1667em", "negthinspace": "-0.1667em", "enspace": "0.5em",
}

var texBigSizes = map[string]string{"big": "1.2em", "Big": "1.623em", "bigg": "2.047em", "Bigg": "2.470em"}

var texFonts = map[string]bool{
	"mathrm": true, "mathbf": true, "mathit": true, "mathbb": true, "mathcal": true, "mathscr": true,
	"mathsf": true, "mathtt": true, "mathfrak": true, "boldsymbol": true, "bm": true, "mathbfit": true,
	"mathnormal": true,
}

var texTextCmds = map[string]string{
	"text": "", "textrm": "", "textnormal": "", "mbox": "", "textup": "", "textbf": "mathbf", "textit": "mathit",
	"textsf": "mathsf", "texttt": "mathtt",
}

func (p *texParser) parseCommand(name string) *mnode {
	if s, ok := texSymbols[name]; ok {
		attrs := ""
		if s[0] == "mi" && (name != strings.ToLower(name) && len(name) > 1 && name != "Re" && name != "Im" || name == "nabla") {
			attrs = ` mathvariant="normal"` // upright capital Greek, as TeX sets it
		}
		if name == "mod" || name == "bmod" {
			attrs = ` lspace="0.2222em" rspace="0.2222em"`
		}
		if name == "mid" {
			attrs = ` lspace="0.2778em" rspace="0.2778em"`
		}
		return p.node(s[0], attrs, s[1])
	}
	if w, ok := texSpaces[name]; ok {
		return p.space(w)
	}
	if texFuncs[name] {
		n := p.node("mi", "", name)
		n.fn = true
		return n
	}
	if s, ok := texLimFuncs[name]; ok {
		n := p.node("mo", ` form="prefix" movablelimits="true" lspace="0em" rspace="0em"`, s)
		n.limits, n.fn = true, true
		return n
	}
	if s, ok := texBigOps[name]; ok {
		n := p.node("mo", "", s)
		n.limits = !strings.Contains(name, "int")
		return n
	}
	if a, ok := texAccents[name]; ok {
		arg := p.parseArg()
		stretch := ` stretchy="false"`
		if a.stretch {
			stretch = ` stretchy="true"`
		}
		mark := p.node("mo", stretch, a.char)
		if a.under {
			n := p.node("munder", ` accentunder="true"`, "", arg, mark)
			n.limits = name == "underbrace"
			return n
		}
		n := p.node("mover", ` accent="true"`, "", arg, mark)
		n.limits = name == "overbrace"
		return n
	}
	if texFonts[name] {
		saved := p.font
		p.font = name
		arg := p.parseArg()
		p.font = saved
		return arg
	}
	if font, ok := texTextCmds[name]; ok {
		return p.node("mtext", "", p.parseText(font))
	}
	if size, ok := texBigSizes[strings.TrimRight(name, "lrm")]; ok {
		d := p.parseDelim()
		return p.node("mo", ` fence="true" stretchy="true" symmetric="true" minsize="`+size+`" maxsize="`+size+`"`, d)
	}
	switch name {
	case "frac", "dfrac", "tfrac", "cfrac":
		num, den := p.parseArg(), p.parseArg()
		f := p.node("mfrac", "", "", num, den)
		switch name {
		case "dfrac", "cfrac":
			return p.node("mstyle", ` displaystyle="true" scriptlevel="0"`, "", f)
		case "tfrac":
			return p.node("mstyle", ` displaystyle="false" scriptlevel="0"`, "", f)
		}
		return f
	case "binom", "dbinom", "tbinom":
		top, bottom := p.parseArg(), p.parseArg()
		n := p.node("mrow", "", "",
			p.node("mo", ` form="prefix" stretchy="true"`, "("),
			p.node("mfrac", ` linethickness="0"`, "", top, bottom),
			p.node("mo", ` form="postfix" stretchy="true"`, ")"))
		switch name {
		case "dbinom":
			return p.node("mstyle", ` displaystyle="true" scriptlevel="0"`, "", n)
		case "tbinom":
			return p.node("mstyle", ` displaystyle="false" scriptlevel="0"`, "", n)
		}
		return n
	case "sqrt":
		if t := p.peek(); t.kind == 'x' && t.s == "[" {
			p.next()
			p.enter()
			index := p.parseExpr("]")
			p.leave()
			if t := p.next(); t.kind != 'x' || t.s != "]" {
				panic(texError("an unclosed root index"))
			}
			return p.node("mroot", "", "", p.parseArg(), p.row(index))
		}
		return p.node("msqrt", "", "", p.parseArg())
	case "operatorname", "operatorname*":
		saved := p.font
		p.font = "operatorname"
		arg := p.parseArg()
		p.font = saved
		if name == "operatorname*" {
			n := p.node("mrow", "", "", arg)
			n.limits, n.fn = true, true
			return n
		}
		arg.fn = true
		return arg
	case "left":
		return p.parseLeftRight()
	case "middle":
		return p.node("mo", ` fence="true" stretchy="true"`, p.parseDelim())
	case "langle", "rangle", "lfloor", "rfloor", "lceil", "rceil", "lvert", "rvert", "lVert", "rVert", "vert", "Vert", "{", "}", "|", "lbrace", "rbrace":
		form := ""
		if strings.HasPrefix(name, "l") || name == "{" {
			form = ` form="prefix"`
		} else if strings.HasPrefix(name, "r") || name == "}" {
			form = ` form="postfix"`
		}
		d := texDelims[name]
		if name == "|" {
			d = "‖"
		}
		return p.node("mo", form+` stretchy="false"`, d)
	case "boxed", "fbox":
		var arg *mnode
		if name == "fbox" {
			arg = p.node("mtext", "", p.parseText(""))
		} else {
			arg = p.parseArg()
		}
		return p.node("mrow", ` class="tex-boxed"`, "", arg)
	case "not":
		t := p.peek()
		if t.kind == 'x' && t.s == "=" {
			p.next()
			return p.node("mo", "", "≠")
		}
		next := p.parsePrimary(true)
		if next.tag != "mo" || next.text == "" {
			panic(texError("\\not before a non-relation"))
		}
		if next.text == "∈" {
			next.text = "∉"
		} else {
			next.text += "\u0338"
		}
		return next
	case "mathop", "mathrel", "mathbin", "mathord", "mathopen", "mathclose", "mathpunct", "displaylimits":
		if name == "displaylimits" {
			return p.node("mrow", "", "")
		}
		return p.parseArg()
	case "substack":
		p.expect('{')
		p.enter()
		rows := p.parseRows("")
		p.leave()
		p.expect('}')
		return p.table(rows, ` displaystyle="false"`, "matrix")
	case "begin":
		return p.parseEnv()
	}
	panic(texError("unknown command \\" + name))
}

// parseDelim reads the delimiter after \left, \right, \middle or \big.
func (p *texParser) parseDelim() string {
	t := p.next()
	if t.kind == 'c' && t.s == "|" {
		return "‖"
	}
	if t.kind == 'x' || t.kind == 'c' {
		if d, ok := texDelims[t.s]; ok {
			return d
		}
	}
	panic(texError("not a delimiter"))
}

func (p *texParser) parseLeftRight() *mnode {
	p.enter()
	defer p.leave()
	open := p.parseDelim()
	kids := []*mnode{}
	if open != "" {
		kids = append(kids, p.node("mo", ` fence="true" form="prefix" stretchy="true" symmetric="true"`, open))
	}
	kids = append(kids, p.parseExpr("")...)
	if t := p.next(); t.kind != 'c' || t.s != "right" {
		panic(texError("\\left without \\right"))
	}
	if closing := p.parseDelim(); closing != "" {
		kids = append(kids, p.node("mo", ` fence="true" form="postfix" stretchy="true" symmetric="true"`, closing))
	}
	return p.node("mrow", "", "", kids...)
}

// parseText reads the argument of \text: literal text, with TeX's escapes, braces for grouping.
func (p *texParser) parseText(font string) string {
	if t := p.peek(); t.kind != '{' {
		panic(texError("\\text without braces"))
	}
	p.next()
	var b strings.Builder
	depth := 1
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		switch t.kind {
		case '{':
			depth++
			if depth > maxTeXDepth {
				panic(texError("nested too deeply"))
			}
		case '}':
			depth--
			if depth == 0 {
				text := mapFont(font, b.String())
				// Spaces at the ends of an mtext would collapse away: keep them as no-break spaces.
				trimmed := strings.Trim(text, " ")
				lead := len(text) - len(strings.TrimLeft(text, " "))
				trail := len(text) - len(strings.TrimRight(text, " "))
				if trimmed == "" {
					return strings.Repeat("\u00a0", min(lead, 1))
				}
				return strings.Repeat("\u00a0", min(lead, 1)) + trimmed + strings.Repeat("\u00a0", min(trail, 1))
			}
		case ' ':
			b.WriteByte(' ')
		case 'x':
			b.WriteString(t.s)
		case '^', '_':
			b.WriteByte(t.kind)
		case '\'':
			b.WriteByte('\'')
		case 'c':
			switch t.s {
			case "$", "%", "&", "#", "_", "{", "}":
				b.WriteString(t.s)
			case ",", ";", ":", " ", "quad", "qquad":
				b.WriteByte(' ')
			case "!", "/":
			case "textbackslash":
				b.WriteByte('\\')
			default:
				panic(texError("a command in \\text"))
			}
		default:
			panic(texError("& or \\\\ in \\text"))
		}
	}
	panic(texError("an unclosed \\text"))
}

// parseEnv parses \begin{name}…\end{name}.
func (p *texParser) parseEnv() *mnode {
	p.enter()
	defer p.leave()
	name := p.parseName()
	var aligns []string
	switch name {
	case "array", "alignat", "alignat*", "aligned", "alignedat":
		if t := p.peek(); name == "array" || t.kind == '{' {
			spec := p.parseName()
			if name == "array" {
				for _, c := range spec {
					switch c {
					case 'l':
						aligns = append(aligns, "left")
					case 'r':
						aligns = append(aligns, "right")
					case 'c':
						aligns = append(aligns, "center")
					}
				}
			}
		}
	}
	rows := p.parseRows("")
	if t := p.next(); t.kind != 'c' || t.s != "end" {
		panic(texError("\\begin without \\end"))
	}
	if p.parseName() != name {
		panic(texError("\\end of another environment"))
	}
	fence := func(open, close string, table *mnode) *mnode {
		kids := []*mnode{p.node("mo", ` fence="true" form="prefix" stretchy="true" symmetric="true"`, open), table}
		if close != "" {
			kids = append(kids, p.node("mo", ` fence="true" form="postfix" stretchy="true" symmetric="true"`, close))
		}
		return p.node("mrow", "", "", kids...)
	}
	switch name {
	case "matrix", "smallmatrix":
		return p.table(rows, "", "matrix")
	case "pmatrix":
		return fence("(", ")", p.table(rows, "", "matrix"))
	case "bmatrix":
		return fence("[", "]", p.table(rows, "", "matrix"))
	case "Bmatrix":
		return fence("{", "}", p.table(rows, "", "matrix"))
	case "vmatrix":
		return fence("|", "|", p.table(rows, "", "matrix"))
	case "Vmatrix":
		return fence("‖", "‖", p.table(rows, "", "matrix"))
	case "cases":
		return fence("{", "", p.table(rows, "", "cases"))
	case "aligned", "align", "align*", "alignat", "alignat*", "alignedat", "split", "eqnarray", "eqnarray*":
		return p.table(rows, ` displaystyle="true"`, "aligned")
	case "gathered", "gather", "gather*", "equation", "equation*", "multline", "multline*":
		return p.table(rows, ` displaystyle="true"`, "matrix")
	case "array":
		t := p.table(rows, "", "matrix")
		for _, tr := range t.kids {
			for j, td := range tr.kids {
				if j < len(aligns) && aligns[j] != "center" {
					td.attrs = ` columnalign="` + aligns[j] + `"`
				}
			}
		}
		return t
	}
	panic(texError("unknown environment"))
}

// parseName reads {letters} (an environment's name, an array's column spec).
func (p *texParser) parseName() string {
	p.expect('{')
	var b strings.Builder
	for {
		t := p.next()
		switch t.kind {
		case '}':
			return b.String()
		case 'x':
			b.WriteString(t.s)
		case 0:
			panic(texError("an unclosed name"))
		}
		if b.Len() > 40 {
			panic(texError("a long name"))
		}
	}
}

// table builds an mtable. layout "aligned" aligns columns right, left, right…; "cases" left.
func (p *texParser) table(rows [][][]*mnode, attrs, layout string) *mnode {
	t := p.node("mtable", attrs, "")
	if layout == "aligned" {
		t.attrs += ` class="tex-aligned"`
	}
	for _, r := range rows {
		tr := p.node("mtr", "", "")
		for j, cell := range r {
			a := ""
			switch {
			case layout == "cases":
				a = ` columnalign="left"`
			case layout == "aligned" && j%2 == 0:
				a = ` columnalign="right"`
			case layout == "aligned":
				a = ` columnalign="left"`
			}
			if layout == "aligned" && j%2 == 1 && len(cell) > 0 {
				// "&= b": the relation keeps its spaces on both sides.
				cell = append([]*mnode{p.node("mi", "", "")}, cell...)
			}
			tr.kids = append(tr.kids, p.node("mtd", a, "", cell...))
		}
		t.kids = append(t.kids, tr)
	}
	return t
}

// mapFont maps ASCII letters and digits to the Mathematical Alphanumeric Symbols of a font
// command (MathML Core has no mathvariant other than normal).
func mapFont(font, s string) string {
	var upper, lower, digit rune
	var holes map[rune]rune
	switch font {
	case "mathbf":
		upper, lower, digit = 0x1D400, 0x1D41A, 0x1D7CE
	case "boldsymbol", "bm", "mathbfit":
		upper, lower = 0x1D468, 0x1D482
	case "mathit":
		upper, lower, holes = 0x1D434, 0x1D44E, map[rune]rune{'h': 'ℎ'}
	case "mathbb":
		upper, lower, digit = 0x1D538, 0x1D552, 0x1D7D8
		holes = map[rune]rune{'C': 'ℂ', 'H': 'ℍ', 'N': 'ℕ', 'P': 'ℙ', 'Q': 'ℚ', 'R': 'ℝ', 'Z': 'ℤ'}
	case "mathcal", "mathscr":
		upper, lower = 0x1D49C, 0x1D4B6
		holes = map[rune]rune{'B': 'ℬ', 'E': 'ℰ', 'F': 'ℱ', 'H': 'ℋ', 'I': 'ℐ', 'L': 'ℒ', 'M': 'ℳ', 'R': 'ℛ', 'e': 'ℯ', 'g': 'ℊ', 'o': 'ℴ'}
	case "mathfrak":
		upper, lower = 0x1D504, 0x1D51E
		holes = map[rune]rune{'C': 'ℭ', 'H': 'ℌ', 'I': 'ℑ', 'R': 'ℜ', 'Z': 'ℨ'}
	case "mathsf":
		upper, lower, digit = 0x1D5A0, 0x1D5BA, 0x1D7E2
	case "mathtt":
		upper, lower, digit = 0x1D670, 0x1D68A, 0x1D7F6
	default:
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case holes[r] != 0:
			b.WriteRune(holes[r])
		case r >= 'A' && r <= 'Z' && upper != 0:
			b.WriteRune(upper + r - 'A')
		case r >= 'a' && r <= 'z' && lower != 0:
			b.WriteRune(lower + r - 'a')
		case r >= '0' && r <= '9' && digit != 0:
			b.WriteRune(digit + r - '0')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
