package buildcheck

import (
	"encoding/json"
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// listed is what `go list -json` says of a package.
type listed struct {
	ImportPath string
	Dir        string
	Name       string
	Doc        string
	GoFiles    []string
}

func listPackages(t *testing.T, args ...string) []listed {
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// A newcomer starts with `go doc` of a package: every package of the module says what it is (a
// doc comment that a //go:generate line or a blank line detaches from the package clause shows
// nothing).
func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		if len(p.GoFiles) == 0 {
			continue // only tests (notebooks)
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package documentation (go doc shows nothing)", p.ImportPath)
		}
	}
}

// unresolved finds what looks like a doc link ([Name], [pkg.Name], [*Name], [Type.Method]) but
// is not one: the name does not exist (any more), so go doc shows the brackets as plain text.
var unresolved = regexp.MustCompile(`\[\*?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\]`)

// Doc links name what exists: a renamed or moved name leaves a link that resolves to nothing.
func TestDocLinksResolve(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		if len(p.GoFiles) == 0 {
			continue
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		dp, err := doc.NewFromFiles(fset, files, p.ImportPath)
		if err != nil {
			t.Fatal(err)
		}
		check := func(where, text string) {
			for _, bad := range brokenLinks(dp.Parser().Parse(text)) {
				t.Errorf("%s: %s: doc link %s names nothing", p.ImportPath, where, bad)
			}
		}
		check("package doc", dp.Doc)
		for _, c := range dp.Consts {
			check(strings.Join(c.Names, ","), c.Doc)
		}
		for _, v := range dp.Vars {
			check(strings.Join(v.Names, ","), v.Doc)
		}
		for _, f := range dp.Funcs {
			check(f.Name, f.Doc)
		}
		for _, typ := range dp.Types {
			check(typ.Name, typ.Doc)
			for _, f := range append(typ.Funcs, typ.Methods...) {
				check(typ.Name+"."+f.Name, f.Doc)
			}
		}
	}
}

// brokenLinks returns the bracketed names of d's plain text: text that a doc link would have
// become had its name resolved (go/doc/comment's rule: the brackets stand between spaces or
// punctuation, so map[string]T is not a link).
func brokenLinks(d *comment.Doc) []string {
	var out []string
	var texts func([]comment.Text)
	texts = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case comment.Plain:
				out = append(out, linkLike(string(t))...)
			case comment.Italic:
				out = append(out, linkLike(string(t))...)
			case *comment.Link:
				texts(t.Text)
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			texts(b.Text)
		case *comment.Heading:
			texts(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, ib := range it.Content {
					if para, ok := ib.(*comment.Paragraph); ok {
						texts(para.Text)
					}
				}
			}
		}
	}
	return out
}

func linkLike(s string) []string {
	var out []string
	for _, m := range unresolved.FindAllStringIndex(s, -1) {
		before, after := rune(' '), rune(' ')
		if m[0] > 0 {
			before = rune(s[m[0]-1])
		}
		if m[1] < len(s) {
			after = rune(s[m[1]])
		}
		if isWordByte(before) || before == ']' || isWordByte(after) || after == '[' || after == '(' {
			continue
		}
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

func isWordByte(r rune) bool {
	return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80
}
