package kernel_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/internal/kernel"
)

// The packages a lesson imports: their exported API must be the same with and without the kernel
// tag, but for kernel.Boundary.
var stubbed = []string{
	"github.com/gonbchat/gonbchat/chatcell",
	"github.com/gonbchat/gonbchat/chatcell/completions",
	"github.com/gonbchat/gonbchat/display",
}

// exportData builds pkgs (and their dependencies) with the tags and returns where the compiler
// wrote each package's export data.
func exportData(t *testing.T, tags string, pkgs ...string) map[string]string {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-json=ImportPath,Export"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		m[p.ImportPath] = p.Export
	}
	return m
}

func typesImporter(fset *token.FileSet, exp map[string]string) types.Importer {
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exp[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
}

func requireGo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
}

// api describes every exported name of p: constants with their values, variables and functions
// with their types, types with their definitions (exported fields and methods only).
func api(p *types.Package) map[string]string {
	q := types.RelativeTo(p)
	out := map[string]string{}
	for _, name := range p.Scope().Names() {
		obj := p.Scope().Lookup(name)
		if !obj.Exported() {
			continue
		}
		key := p.Name() + "." + name
		switch o := obj.(type) {
		case *types.Const:
			out[key] = "const " + types.TypeString(o.Type(), q) + " = " + o.Val().ExactString()
		case *types.Var:
			out[key] = "var " + types.TypeString(o.Type(), q)
		case *types.Func:
			out[key] = sigString(o.Type().(*types.Signature), q)
		case *types.TypeName:
			if a, ok := o.Type().(*types.Alias); ok {
				out[key] = "type = " + types.TypeString(a.Rhs(), q)
				continue
			}
			out[key] = "type " + typeDef(o.Type().Underlying(), q)
			ms := types.NewMethodSet(types.NewPointer(o.Type()))
			for i := range ms.Len() {
				m := ms.At(i).Obj()
				if m.Exported() {
					out[key+"."+m.Name()] = sigString(m.Type().(*types.Signature), q)
				}
			}
		}
	}
	return out
}

// sigString prints a signature's types (parameter names are not part of the API).
func sigString(sig *types.Signature, q types.Qualifier) string {
	tuple := func(t *types.Tuple, variadic bool) string {
		var ps []string
		for i := range t.Len() {
			s := types.TypeString(t.At(i).Type(), q)
			if variadic && i == t.Len()-1 {
				s = "..." + strings.TrimPrefix(s, "[]")
			}
			ps = append(ps, s)
		}
		return "(" + strings.Join(ps, ", ") + ")"
	}
	return "func" + tuple(sig.Params(), sig.Variadic()) + " " + tuple(sig.Results(), false)
}

// typeDef prints a type's definition as a user of the package sees it: exported fields and
// methods only.
func typeDef(t types.Type, q types.Qualifier) string {
	switch t := t.(type) {
	case *types.Struct:
		var fs []string
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				fs = append(fs, f.Name()+" "+types.TypeString(f.Type(), q))
			}
		}
		return "struct{" + strings.Join(fs, "; ") + "}"
	case *types.Interface:
		var ms []string
		sealed := false
		for i := range t.NumMethods() {
			m := t.Method(i)
			if m.Exported() {
				ms = append(ms, m.Name()+sigString(m.Type().(*types.Signature), q)[len("func"):])
			} else {
				sealed = true
			}
		}
		sort.Strings(ms)
		if sealed {
			ms = append(ms, "(unexported methods)")
		}
		return "interface{" + strings.Join(ms, "; ") + "}"
	}
	return types.TypeString(t, q)
}

func apiWith(t *testing.T, tags string) map[string]string {
	exp := exportData(t, tags, stubbed...)
	imp := typesImporter(token.NewFileSet(), exp)
	all := map[string]string{}
	for _, path := range stubbed {
		p, err := imp.Import(path)
		if err != nil {
			t.Fatalf("%s (tags %q): %v", path, tags, err)
		}
		for k, v := range api(p) {
			all[k] = v
		}
	}
	return all
}

// boundaryOf is the boundary entry a name falls under ("chatcell.APIError.Error" under
// "chatcell.APIError"), or "".
func boundaryOf(name string) string {
	for b := range kernel.Boundary {
		if name == b || strings.HasPrefix(name, b+".") {
			return b
		}
	}
	return ""
}

// TestKernelAPIIsTheSame: a cell that compiles in-process compiles in kernel mode, and the stubs
// cannot drift from the real packages. The only differences are kernel.Boundary's, and each of
// them must still be one.
func TestKernelAPIIsTheSame(t *testing.T) {
	requireGo(t)
	normal, kern := apiWith(t, ""), apiWith(t, kernel.Tag)
	var names []string
	for k := range normal {
		names = append(names, k)
	}
	for k := range kern {
		if _, ok := normal[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	differs := map[string]bool{}
	for _, n := range names {
		a, inA := normal[n]
		b, inB := kern[n]
		if inA && inB && a == b {
			continue
		}
		if bd := boundaryOf(n); bd != "" {
			differs[bd] = true
			continue
		}
		switch {
		case !inB:
			t.Errorf("%s is missing in kernel mode (in-process: %s): run go generate ./internal/kernel/... or write it in kernel_manual.go", n, a)
		case !inA:
			t.Errorf("%s exists only in kernel mode: %s", n, b)
		default:
			t.Errorf("%s differs:\n\tin-process:  %s\n\tkernel mode: %s", n, a, b)
		}
	}
	for b := range kernel.Boundary {
		if !differs[b] {
			t.Errorf("kernel.Boundary lists %s, which is the same in both modes now: remove it", b)
		}
	}
	if len(normal) < 100 {
		t.Errorf("only %d exported names: the API was not read", len(normal))
	}
}

// TestGeneratedIsUpToDate: the stubs and the helper's table are what the generator writes from
// the real packages as they are now.
func TestGeneratedIsUpToDate(t *testing.T) {
	requireGo(t)
	out, err := exec.Command("go", "run", "./gen", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("the generated kernel-mode files are stale: run go generate ./internal/kernel/...\n%s", out)
	}
}

// TestLessonsTypeCheck type-checks the Go cells of every lesson notebook, composed into one
// program as GoNB composes a cell's (declarations kept from cell to cell, each cell's body a
// function), in-process and in kernel mode.
func TestLessonsTypeCheck(t *testing.T) {
	requireGo(t)
	var nbs []string
	for _, g := range []string{"../../notebooks/*.ipynb", "../../notebooks/testdata/*.ipynb"} {
		m, _ := filepath.Glob(g)
		nbs = append(nbs, m...)
	}
	if len(nbs) < 3 {
		t.Fatalf("found %d notebooks", len(nbs))
	}
	progs := map[string]string{}
	imports := map[string]bool{}
	for _, nb := range nbs {
		src, paths, err := compose(nb)
		if err != nil {
			t.Fatalf("%s: %v", nb, err)
		}
		progs[nb] = src
		for _, p := range paths {
			imports[p] = true
		}
	}
	var paths []string
	for p := range imports {
		paths = append(paths, p)
	}
	for _, tags := range []string{"", kernel.Tag} {
		exp := exportData(t, tags, paths...)
		for _, nb := range nbs {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Base(nb)+".go", progs[nb], 0)
			if err != nil {
				t.Fatalf("%s: %v\n%s", nb, err, progs[nb])
			}
			var errs []string
			conf := types.Config{Importer: typesImporter(fset, exp), Error: func(err error) {
				if te, ok := err.(types.Error); ok && te.Soft {
					return // unused variables and imports: GoNB's goimports and cells allow them
				}
				errs = append(errs, err.Error())
			}}
			conf.Check("main", fset, []*ast.File{f}, nil)
			if len(errs) > 0 {
				t.Errorf("%s (tags %q) does not type-check:\n\t%s", nb, tags, strings.Join(errs, "\n\t"))
			}
		}
	}
}

// compose makes one Go file of a notebook's code cells: the declarations of every cell (the last
// of a name wins, as in GoNB) and each cell's body after %% as a function.
func compose(path string) (string, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var nb struct {
		Cells []struct {
			CellType string          `json:"cell_type"`
			Source   json.RawMessage `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		return "", nil, err
	}
	// GoNB's goimports adds what a cell uses of these.
	imports := map[string]bool{`"fmt"`: true, `"context"`: true, `"time"`: true, `"os"`: true, `"strings"`: true}
	decls := map[string]string{}
	var order []string
	var bodies []string
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		var lines []string
		var s string
		if json.Unmarshal(c.Source, &s) == nil {
			lines = strings.SplitAfter(s, "\n")
		} else if err := json.Unmarshal(c.Source, &lines); err != nil {
			return "", nil, err
		}
		var decl, body strings.Builder
		inBody := false
		for _, l := range lines {
			tl := strings.TrimSpace(l)
			switch {
			case tl == "%%":
				inBody = true
				continue
			case strings.HasPrefix(tl, "%") || strings.HasPrefix(tl, "!"):
				continue
			}
			if inBody {
				body.WriteString(l)
			} else {
				decl.WriteString(l)
			}
		}
		f, err := parser.ParseFile(token.NewFileSet(), "", "package main\n"+decl.String(), parser.ParseComments)
		if err != nil {
			return "", nil, fmt.Errorf("cell %d: %v", i, err)
		}
		for _, im := range f.Imports {
			imports[im.Path.Value] = true
		}
		for _, d := range f.Decls {
			var key string
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok == token.IMPORT {
					continue
				}
				switch s := d.Specs[0].(type) {
				case *ast.ValueSpec:
					key = s.Names[0].Name
				case *ast.TypeSpec:
					key = s.Name.Name
				}
			case *ast.FuncDecl:
				key = d.Name.Name
			}
			src := decl.String()[d.Pos()-token.Pos(len("package main\n"))-1 : d.End()-token.Pos(len("package main\n"))-1]
			if _, ok := decls[key]; !ok {
				order = append(order, key)
			}
			decls[key] = src
		}
		if body.Len() > 0 {
			bodies = append(bodies, fmt.Sprintf("func cell%d() {\n%s\n}\n", i, body.String()))
		}
	}
	var out strings.Builder
	out.WriteString("package main\n\nimport (\n")
	var paths []string
	for p := range imports {
		out.WriteString("\t" + p + "\n")
		paths = append(paths, strings.Trim(p, `"`))
	}
	out.WriteString(")\n\n")
	for _, k := range order {
		out.WriteString(decls[k] + "\n\n")
	}
	out.WriteString(strings.Join(bodies, "\n"))
	out.WriteString("\nfunc main() {}\n")
	return out.String(), paths, nil
}
