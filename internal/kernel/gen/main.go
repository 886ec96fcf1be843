// Command gen writes gonbchat's kernel-mode stubs and the helper's table of calls from the real
// packages (go generate ./internal/kernel/...; see package internal/kernel).
//
// For each package of the table below it reads the exported API of the real files (those without
// the gonbchat_kernel tag) and writes zz_kernel.go in the package's directory, built only with the
// tag:
//
//   - constants, variables and data types (structs with exported fields only, interfaces) are
//     copied as they are, with their documentation;
//   - functions returning an option type become options as data: the constructor's name and
//     its arguments, which the helper gives to the real constructor;
//   - every other function and method becomes a call to the helper with the same signature and
//     documentation; a constructor returning a handle type (a chat, an endpoint, a display cell)
//     gets a handle to the helper's object; a method returning iter.Seq2 streams;
//   - what the table lists as manual is written by hand in the package's kernel_manual.go, and
//     what it lists as omitted does not exist in kernel mode (see kernel.Boundary).
//
// It writes internal/kernel/helper/zz_calls.go too: for each call and option, the code that
// decodes the arguments, calls the real function and encodes the results.
//
// A signature with a type the table does not know is an error: give the type a codec below (or
// make the function manual).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// pkgSpec says how one package is stubbed.
type pkgSpec struct {
	dir, path, name string
	// handles are the types whose values live in the helper (a stub holds a handle).
	handles []string
	// options are the option types: their values cross as data.
	options []string
	// manual names (F, T, T.M) are written by hand in kernel_manual.go.
	manual []string
	// omitted names do not exist in kernel mode (kernel.Boundary lists them with the reason).
	omitted []string
	// copyMethods are methods of copied types copied as they are.
	copyMethods []string
}

var specs = []*pkgSpec{
	{
		dir: "chatcell", path: "github.com/gonbchat/gonbchat/chatcell", name: "chatcell",
		handles: []string{"Chat", "ChatWithHistList", "Endpoint", "GroupChat"},
		options: []string{"Option", "ConnOption", "NameOption", "ThreadOption", "ListOption", "MessagesOption"},
		manual: []string{
			// the option interfaces and types, the error types and the SDK/keypool boundary types
			"ChatOption", "HistOption", "CallOption", "CreateOption",
			"Option", "ConnOption", "NameOption", "ThreadOption", "ListOption", "MessagesOption",
			"Error", "APIError", "RequestOption", "KeyPool",
			// local, or an error at once
			"Describe", "WithRequestOptions", "ResponsesBackend.Stream",
			// several chats at once: handles of several chats in one call, a turn in the background
			"GroupOption", "Asker", "Question", "Ask", "AskAll", "Pending", "Chat.Go", "ChatWithHistList.Go",
		},
		copyMethods: []string{"Reply.Message", "StreamError.Error"},
	},
	{
		dir: "display", path: "github.com/gonbchat/gonbchat/display", name: "display",
		handles: []string{"Cell"},
		manual:  []string{"RegisterTerminal"},
	},
	{
		dir: "chatcell/completions", path: "github.com/gonbchat/gonbchat/chatcell/completions", name: "completions",
		manual:  []string{"Backend.Stream"},
		omitted: []string{"Messages"},
	},
}

// codec is how values of one parameter type cross: client is the expression the stub passes
// (with %s the parameter), server the statements that decode argument %[1]d into a%[1]d.
type codec struct{ client, server string }

// paramCodecs are the parameter types that do not cross as plain JSON. Option variadics are
// handled apart.
var paramCodecs = map[string]codec{
	"KeyPool":             {"poolArg(%s)", "a%[1]d, err := x.pool(%[1]d)\nif err != nil { return nil, err }"},
	"...history.Strategy": {"strategiesArg(%s)", "a%[1]d, err := x.strategies(%[1]d)\nif err != nil { return nil, err }"},
	"Starter":             {"starterArg(%s)", "a%[1]d, err := x.starter(%[1]d)\nif err != nil { return nil, err }"},
	"Backend":             {"backendArg(%s)", "a%[1]d, err := x.backend(%[1]d)\nif err != nil { return nil, err }"},
	"map[string]any":      {"metaArg(%s)", ""},
}

// plainTypes cross as JSON.
var plainTypes = map[string]bool{
	"string": true, "int": true, "int64": true, "float64": true, "bool": true, "time.Duration": true,
	"any": true, "...string": true, "...int": true, "[]llm.Message": true, "...llm.Message": true, "map[string]any": true,
	"Source": true, "Reply": true, "llm.Usage": true, "llm.Message": true,
	"[]string": true, "Cue": true, "...Cue": true, "[]Remark": true, "[]Role": true,
}

var check = flag.Bool("check", false, "only check that the files on disk are what gen would write")

var stale []string

func main() {
	log.SetFlags(0)
	flag.Parse()
	root, err := findRoot()
	if err != nil {
		log.Fatal(err)
	}
	var server bytes.Buffer
	for _, sp := range specs {
		g := &gen{spec: sp, root: root}
		if err := g.load(); err != nil {
			log.Fatalf("%s: %v", sp.dir, err)
		}
		client, err := g.client()
		if err != nil {
			log.Fatalf("%s: %v", sp.dir, err)
		}
		writeGo(filepath.Join(root, sp.dir, "zz_kernel.go"), client)
		server.WriteString(g.server.String())
	}
	writeGo(filepath.Join(root, "internal/kernel/helper/zz_calls.go"), serverFile(server.String()))
	if len(stale) > 0 {
		log.Fatalf("stale (run go generate ./internal/kernel/...): %s", strings.Join(stale, ", "))
	}
}

func findRoot() (string, error) {
	d, _ := os.Getwd()
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/gonbchat/gonbchat\n") {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("run gen inside the gonbchat module")
		}
		d = p
	}
}

const header = "// Code generated by internal/kernel/gen from the package's real files; DO NOT EDIT.\n\n"

func writeGo(path, src string) {
	out, err := format.Source([]byte(src))
	if err != nil {
		os.WriteFile(path+".broken", []byte(src), 0o644)
		log.Fatalf("%s: %v (the source is in %s.broken)", path, err, path)
	}
	if *check {
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, out) {
			stale = append(stale, path)
		}
		return
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		log.Fatal(err)
	}
}

type method struct {
	recv string // the type it is on, as the stub has it ("" for a function)
	decl *ast.FuncDecl
}

type gen struct {
	spec    *pkgSpec
	root    string
	fset    *token.FileSet
	files   []*ast.File
	imports map[string]string // name → path, from the real files

	consts, vars, types []*ast.GenDecl
	funcs               []*ast.FuncDecl
	methods             map[string][]*ast.FuncDecl // receiver type → methods
	typeSpecs           map[string]*ast.TypeSpec

	body   bytes.Buffer // the client file's declarations
	server bytes.Buffer // the helper's entries
}

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// load parses the package's real files.
func (g *gen) load() error {
	g.fset = token.NewFileSet()
	g.imports = map[string]string{}
	g.methods = map[string][]*ast.FuncDecl{}
	g.typeSpecs = map[string]*ast.TypeSpec{}
	dir := filepath.Join(g.root, g.spec.dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") || strings.HasPrefix(n, "kernel") || strings.HasPrefix(n, "zz_kernel") {
			continue
		}
		f, err := parser.ParseFile(g.fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if kernelOnly(f) {
			continue
		}
		g.files = append(g.files, f)
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			name := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			if strings.HasPrefix(name, "v") && len(name) == 2 { // openai-go/v3
				name = filepath.Base(filepath.Dir(p))
			}
			g.imports[name] = p
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				switch d.Tok {
				case token.CONST:
					g.consts = append(g.consts, d)
				case token.VAR:
					g.vars = append(g.vars, d)
				case token.TYPE:
					g.types = append(g.types, d)
					for _, s := range d.Specs {
						ts := s.(*ast.TypeSpec)
						g.typeSpecs[ts.Name.Name] = ts
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil {
					if d.Name.IsExported() {
						g.funcs = append(g.funcs, d)
					}
					continue
				}
				r := recvName(d)
				g.methods[r] = append(g.methods[r], d)
			}
		}
	}
	return nil
}

// kernelOnly reports whether a file is built only with the kernel tag.
func kernelOnly(f *ast.File) bool {
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:build ") {
				expr := strings.TrimPrefix(c.Text, "//go:build ")
				return strings.Contains(expr, "gonbchat_kernel") && !strings.Contains(expr, "!gonbchat_kernel")
			}
		}
		if cg.Pos() > f.Package {
			break
		}
	}
	return false
}

func recvName(d *ast.FuncDecl) string {
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func (g *gen) src(n ast.Node) string {
	var b bytes.Buffer
	printer.Fprint(&b, g.fset, n)
	return b.String()
}

func (g *gen) doc(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range cg.List {
		b.WriteString(c.Text + "\n")
	}
	return b.String()
}

// client writes the stub file.
func (g *gen) client() (string, error) {
	sp := g.spec
	// Constants and variables: the exported ones, as they are.
	for _, d := range append(g.consts, g.vars...) {
		var specs []string
		for _, s := range d.Specs {
			vs := s.(*ast.ValueSpec)
			exported := false
			for _, n := range vs.Names {
				exported = exported || n.IsExported()
			}
			if !exported || in(sp.omitted, vs.Names[0].Name) {
				continue
			}
			for _, n := range vs.Names {
				if !n.IsExported() {
					return "", fmt.Errorf("%s is declared with an unexported name: split the declaration", vs.Names[0].Name)
				}
			}
			if len(vs.Values) == 0 && d.Tok == token.CONST {
				return "", fmt.Errorf("constant %s has no value of its own (iota): copy it by hand", vs.Names[0].Name)
			}
			specs = append(specs, g.doc(vs.Doc)+g.src(vs)+"\n")
		}
		if len(specs) == 0 {
			continue
		}
		g.body.WriteString(g.doc(d.Doc) + d.Tok.String() + " (\n" + strings.Join(specs, "") + ")\n\n")
	}
	// Sentinel errors: matched by name across the wire.
	var sentinels []string
	for _, d := range g.vars {
		for _, s := range d.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.IsExported() && i < len(vs.Values) && strings.HasPrefix(g.src(vs.Values[i]), "errors.New(") {
					sentinels = append(sentinels, n.Name)
				}
			}
		}
	}
	if len(sentinels) > 0 {
		g.body.WriteString("func init() {\n")
		for _, n := range sentinels {
			fmt.Fprintf(&g.body, "\tkernel.Sentinel(%q, %s)\n", sp.name+"."+n, n)
			fmt.Fprintf(&g.server, "sentinel(%q, %s.%s)\n", sp.name+"."+n, sp.name, n)
		}
		g.body.WriteString("}\n\n")
	}
	// Types: data types copied; handle types get a handle; manual ones are written by hand.
	names := sortedKeys(g.typeSpecs)
	for _, n := range names {
		ts := g.typeSpecs[n]
		if !ts.Name.IsExported() || in(sp.manual, n) || in(sp.omitted, n) {
			continue
		}
		doc := g.doc(ts.Doc)
		if doc == "" {
			doc = g.doc(g.genDeclOf(ts).Doc)
		}
		if in(sp.handles, n) {
			g.body.WriteString(doc + "type " + n + " struct{ h *kernel.Handle }\n\n")
			continue
		}
		if st, ok := ts.Type.(*ast.StructType); ok {
			for _, f := range st.Fields.List {
				for _, fn := range f.Names {
					if !fn.IsExported() {
						return "", fmt.Errorf("type %s has unexported fields: make it a handle or manual", n)
					}
				}
				if len(f.Names) == 0 {
					return "", fmt.Errorf("type %s embeds a type: make it a handle or manual", n)
				}
			}
		}
		g.body.WriteString(doc + "type " + g.src(ts) + "\n\n")
	}
	// Functions.
	for _, f := range g.funcs {
		n := f.Name.Name
		if in(sp.manual, n) || in(sp.omitted, n) {
			continue
		}
		if err := g.stub("", f); err != nil {
			return "", err
		}
	}
	// Methods: of handle types (with those promoted from embedded types), and of copied types.
	for _, t := range sortedKeys(g.methods) {
		if !ast.IsExported(t) {
			continue
		}
		for _, m := range g.methods[t] {
			if !m.Name.IsExported() {
				continue
			}
			full := t + "." + m.Name.Name
			switch {
			case in(sp.manual, full) || in(sp.manual, t) || in(sp.omitted, t):
			case in(sp.handles, t):
				if err := g.stub(t, m); err != nil {
					return "", err
				}
			case in(sp.copyMethods, full):
				g.body.WriteString(g.src(m) + "\n\n")
			default:
				return "", fmt.Errorf("method %s of a copied type: list it in copyMethods or manual", full)
			}
		}
	}
	for _, h := range sp.handles {
		for _, emb := range g.embedded(h) {
			for _, m := range g.methods[emb] {
				if !m.Name.IsExported() || in(sp.manual, h+"."+m.Name.Name) || g.hasMethod(h, m.Name.Name) {
					continue
				}
				if err := g.stub(h, m); err != nil {
					return "", err
				}
			}
		}
	}
	body := g.body.String()
	return "//go:build gonbchat_kernel\n\n" + header + "package " + sp.name + "\n\n" + g.importBlock(body) + body, nil
}

func (g *gen) genDeclOf(ts *ast.TypeSpec) *ast.GenDecl {
	for _, d := range g.types {
		for _, s := range d.Specs {
			if s == ts {
				return d
			}
		}
	}
	return &ast.GenDecl{}
}

func (g *gen) hasMethod(t, name string) bool {
	for _, m := range g.methods[t] {
		if m.Name.Name == name {
			return true
		}
	}
	return false
}

// embedded returns the package's types embedded in handle type h (their methods are promoted).
func (g *gen) embedded(h string) []string {
	ts := g.typeSpecs[h]
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 {
			if id, ok := f.Type.(*ast.Ident); ok && !id.IsExported() {
				out = append(out, id.Name)
				out = append(out, g.embedded(id.Name)...)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// param is one parameter of a stubbed function.
type param struct {
	name, typ string // typ as the package writes it ("...CallOption", "context.Context")
	variadic  bool
}

func (g *gen) params(ft *ast.FuncType) []param {
	var ps []param
	i := 0
	for _, f := range ft.Params.List {
		typ := g.src(f.Type)
		_, variadic := f.Type.(*ast.Ellipsis)
		names := f.Names
		if len(names) == 0 {
			names = []*ast.Ident{ast.NewIdent(fmt.Sprintf("p%d", i))}
		}
		for _, n := range names {
			name := n.Name
			if name == "_" {
				name = fmt.Sprintf("p%d", i)
			}
			ps = append(ps, param{name: name, typ: typ, variadic: variadic})
			i++
		}
	}
	return ps
}

func (g *gen) results(ft *ast.FuncType) []string {
	var rs []string
	if ft.Results == nil {
		return nil
	}
	for _, f := range ft.Results.List {
		n := max(len(f.Names), 1)
		for range n {
			rs = append(rs, g.src(f.Type))
		}
	}
	return rs
}

// signature prints a func type with named parameters (the stub needs the names).
func (g *gen) signature(name string, ps []param, ft *ast.FuncType) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, p.name+" "+p.typ)
	}
	res := ""
	if ft.Results != nil {
		var rs []string
		named := false
		for _, f := range ft.Results.List {
			t := g.src(f.Type)
			if len(f.Names) == 0 {
				rs = append(rs, t)
				continue
			}
			named = true
			var ns []string
			for _, n := range f.Names {
				ns = append(ns, n.Name)
			}
			rs = append(rs, strings.Join(ns, ", ")+" "+t)
		}
		if len(rs) == 1 && !named {
			res = " " + rs[0]
		} else {
			res = " (" + strings.Join(rs, ", ") + ")"
		}
	}
	return name + "(" + strings.Join(parts, ", ") + ")" + res
}

// optionIface is the option interface of a variadic option parameter ("...CallOption").
func (g *gen) optionIface(typ string) string {
	t := strings.TrimPrefix(typ, "...")
	if strings.HasSuffix(t, "Option") && typ != t && g.spec.name == "chatcell" && t != "RequestOption" {
		return t
	}
	return ""
}

// qualify writes a type of the package as the helper sees it (chatcell.Source).
func (g *gen) qualify(typ string) string {
	expr, err := parser.ParseExpr(strings.TrimPrefix(typ, "..."))
	if err != nil {
		return typ
	}
	var fix func(e ast.Expr) ast.Expr
	fix = func(e ast.Expr) ast.Expr {
		switch e := e.(type) {
		case *ast.Ident:
			if e.IsExported() {
				return &ast.SelectorExpr{X: ast.NewIdent(g.spec.name), Sel: e}
			}
		case *ast.StarExpr:
			e.X = fix(e.X)
		case *ast.ArrayType:
			e.Elt = fix(e.Elt)
		case *ast.MapType:
			e.Key, e.Value = fix(e.Key), fix(e.Value)
		case *ast.IndexListExpr:
			for i := range e.Indices {
				e.Indices[i] = fix(e.Indices[i])
			}
		}
		return e
	}
	var b bytes.Buffer
	printer.Fprint(&b, token.NewFileSet(), fix(expr))
	return b.String()
}

// stub writes the client stub of f (a function, or a method of handle type recv) and its
// helper-side entry.
func (g *gen) stub(recv string, f *ast.FuncDecl) error {
	sp := g.spec
	ps := g.params(f.Type)
	rs := g.results(f.Type)
	call := f.Name.Name
	if recv != "" {
		call = recv + "." + call
	}
	if sp.name != "chatcell" {
		call = sp.name + "." + call
	}
	where := sp.name + "." + strings.TrimPrefix(call, sp.name+".")
	doc := g.doc(f.Doc)
	sig := g.signature(f.Name.Name, ps, f.Type)
	if recv != "" {
		sig = "(c *" + recv + ") " + sig
	}
	// Option constructors: data.
	if recv == "" && len(rs) == 1 && in(sp.options, rs[0]) {
		var args []string
		for _, p := range ps {
			a, err := g.clientArg(p, where)
			if err != nil {
				return err
			}
			args = append(args, a)
		}
		fmt.Fprintf(&g.body, "%sfunc %s {\n\treturn %s{kernel.Opt(%q%s)}\n}\n\n", doc, sig, rs[0], f.Name.Name, joinPre(args))
		dec, callArgs, err := g.serverArgs(ps, where)
		if err != nil {
			return err
		}
		fmt.Fprintf(&g.server, "options[%q] = func(x *call) ([]any, error) {\n%s\treturn []any{%s.%s(%s)}, nil\n}\n", f.Name.Name, dec, sp.name, f.Name.Name, callArgs)
		return nil
	}
	// Arguments.
	ctxExpr := "nil"
	var args []string
	var plain []param
	for _, p := range ps {
		if p.typ == "context.Context" {
			ctxExpr = p.name
			continue
		}
		a, err := g.clientArg(p, where)
		if err != nil {
			return err
		}
		args = append(args, a)
		plain = append(plain, p)
	}
	recvExpr := "nil"
	if recv != "" {
		recvExpr = "c.h"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%sfunc %s {\n", doc, sig)
	fmt.Fprintf(&b, "\targs, aerr := kernel.Args(%q%s)\n", where, joinPre(args))
	serverRecv := ""
	if recv != "" {
		serverRecv = fmt.Sprintf("\tr, err := recvAs(x, func() *%[1]s.%[2]s { return &%[1]s.%[2]s{} })\n\tif err != nil { return nil, err }\n", sp.name, recv)
	}
	dec, callArgs, err := g.serverArgs(plain, where)
	if err != nil {
		return err
	}
	// The server passes the call's context where the function takes one.
	if ctxExpr != "nil" {
		var full []string
		i := 0
		for _, p := range ps {
			if p.typ == "context.Context" {
				full = append(full, "x.ctx")
				continue
			}
			a := fmt.Sprintf("a%d", i)
			if p.variadic {
				a += "..."
			}
			full = append(full, a)
			i++
		}
		callArgs = strings.Join(full, ", ")
	}
	target := sp.name + "." + f.Name.Name
	if recv != "" {
		target = "r." + f.Name.Name
	}
	switch {
	case len(rs) == 1 && rs[0] == "iter.Seq2[string, error]":
		// A stream: items cross as they come.
		fmt.Fprintf(&b, "\treturn func(yield func(string, error) bool) {\n")
		fmt.Fprintf(&b, "\t\tif aerr != nil { yield(\"\", asError(aerr)); return }\n")
		fmt.Fprintf(&b, "\t\tstopped := false\n")
		fmt.Fprintf(&b, "\t\t_, err := kernel.StreamCall(%s, %s, %q, args, func(item []json.RawMessage) bool {\n", ctxExpr, recvExpr, call)
		fmt.Fprintf(&b, "\t\t\tvar d string\n\t\t\tkernel.Res(item, 0, &d)\n\t\t\tif !yield(d, resErr(item, 1)) { stopped = true; return false }\n\t\t\treturn true\n\t\t})\n")
		fmt.Fprintf(&b, "\t\tif err != nil && !stopped { yield(\"\", callFailed(err)) }\n\t}\n}\n\n")
		fmt.Fprintf(&g.server, "calls[%q] = func(x *call) ([]any, error) {\n%s%s\tfor d, err := range %s(%s) {\n\t\tif !x.yield(d, errOut(err)) { break }\n\t}\n\treturn nil, nil\n}\n", call, serverRecv, dec, target, callArgs)
		g.body.WriteString(b.String())
		return nil
	case recv == "" && len(rs) == 1 && in(sp.handles, strings.TrimPrefix(rs[0], "*")):
		// A constructor: a handle to the helper's object.
		h := strings.TrimPrefix(rs[0], "*")
		fmt.Fprintf(&b, "\treturn &%s{kernel.NewShow(%q, args, aerr)}\n}\n\n", h, call)
		fmt.Fprintf(&g.server, "calls[%q] = func(x *call) ([]any, error) {\n%s\treturn []any{x.handle(%s(%s))}, nil\n}\n", call, dec, target, callArgs)
		g.body.WriteString(b.String())
		return nil
	}
	var decl, decode, rets, srvRes, srvOut []string
	for i, r := range rs {
		v := fmt.Sprintf("r%d", i)
		decl = append(decl, fmt.Sprintf("\tvar %s %s\n", v, r))
		srvRes = append(srvRes, v)
		switch {
		case r == "error":
			decode = append(decode, fmt.Sprintf("\t%s = resErr(res, %d)\n", v, i))
			srvOut = append(srvOut, "errOut("+v+")")
		case r == "*history.List":
			decode = append(decode, fmt.Sprintf("\t%s = resList(res, %d)\n", v, i))
			srvOut = append(srvOut, "listOut("+v+")")
		case plainTypes[r]:
			decode = append(decode, fmt.Sprintf("\tkernel.Res(res, %d, &%s)\n", i, v))
			srvOut = append(srvOut, v)
		default:
			return fmt.Errorf("%s: result type %s has no codec (internal/kernel/gen)", where, r)
		}
		rets = append(rets, v)
	}
	b.WriteString(strings.Join(decl, ""))
	errRes := -1
	for i, r := range rs {
		if r == "error" {
			errRes = i
		}
	}
	if len(rs) == 0 {
		fmt.Fprintf(&b, "\tkernel.CallShow(%s, %s, %q, args, aerr)\n}\n\n", ctxExpr, recvExpr, call)
		g.body.WriteString(b.String())
		fmt.Fprintf(&g.server, "calls[%q] = func(x *call) ([]any, error) {\n%s%s\t%s(%s)\n\treturn nil, nil\n}\n", call, serverRecv, dec, target, callArgs)
		return nil
	}
	fmt.Fprintf(&b, "\tres, err := kernel.CallShow(%s, %s, %q, args, aerr)\n", ctxExpr, recvExpr, call)
	if errRes >= 0 {
		fmt.Fprintf(&b, "\tif err != nil {\n\t\tr%d = callFailed(err)\n\t\treturn %s\n\t}\n", errRes, strings.Join(rets, ", "))
	} else {
		b.WriteString("\t_ = err\n")
	}
	b.WriteString(strings.Join(decode, ""))
	if len(rets) > 0 {
		fmt.Fprintf(&b, "\treturn %s\n", strings.Join(rets, ", "))
	}
	b.WriteString("}\n\n")
	g.body.WriteString(b.String())
	if len(rs) == 0 {
		fmt.Fprintf(&g.server, "calls[%q] = func(x *call) ([]any, error) {\n%s%s\t%s(%s)\n\treturn nil, nil\n}\n", call, serverRecv, dec, target, callArgs)
	} else {
		fmt.Fprintf(&g.server, "calls[%q] = func(x *call) ([]any, error) {\n%s%s\t%s := %s(%s)\n\treturn []any{%s}, nil\n}\n", call, serverRecv, dec, strings.Join(srvRes, ", "), target, callArgs, strings.Join(srvOut, ", "))
	}
	return nil
}

func joinPre(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return ", " + strings.Join(args, ", ")
}

// clientArg is what the stub passes for p.
func (g *gen) clientArg(p param, where string) (string, error) {
	if o := g.optionIface(p.typ); o != "" {
		return "optsOf(" + p.name + ")", nil
	}
	if c, ok := paramCodecs[p.typ]; ok {
		return fmt.Sprintf(c.client, p.name), nil
	}
	if plainTypes[p.typ] {
		return p.name, nil
	}
	return "", fmt.Errorf("%s: parameter %s of type %s has no codec (internal/kernel/gen)", where, p.name, p.typ)
}

// serverArgs decodes the parameters ps (context excluded) into a0, a1… and returns the call's
// argument list.
func (g *gen) serverArgs(ps []param, where string) (string, string, error) {
	var b strings.Builder
	var list []string
	for i, p := range ps {
		a := fmt.Sprintf("a%d", i)
		switch {
		case g.optionIface(p.typ) != "":
			fmt.Fprintf(&b, "\t%s, err := optsAs[%s.%s](x, %d)\n\tif err != nil { return nil, err }\n", a, g.spec.name, g.optionIface(p.typ), i)
		case paramCodecs[p.typ].server != "":
			fmt.Fprintf(&b, "\t"+paramCodecs[p.typ].server+"\n", i)
		default:
			typ := g.qualify(p.typ)
			if p.variadic {
				typ = "[]" + typ
			}
			fmt.Fprintf(&b, "\tvar %s %s\n\tif err := x.arg(%d, &%s); err != nil { return nil, err }\n", a, typ, i, a)
		}
		if p.variadic {
			a += "..."
		}
		list = append(list, a)
	}
	return b.String(), strings.Join(list, ", "), nil
}

// importBlock imports what the generated code refers to.
func (g *gen) importBlock(body string) string {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+body, 0)
	if err != nil {
		return "" // format.Source reports it
	}
	known := map[string]string{"kernel": "github.com/gonbchat/gonbchat/internal/kernel", "json": "encoding/json",
		"context": "context", "iter": "iter", "time": "time", "errors": "errors", "llm": "github.com/gonbchat/gonbchat/llm",
		"history": "github.com/gonbchat/gonbchat/history", "chatcell": "github.com/gonbchat/gonbchat/chatcell", "io": "io"}
	for n, p := range g.imports {
		if _, ok := known[n]; !ok {
			known[n] = p
		}
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && id.Obj == nil {
				used[id.Name] = true
			}
		}
		return true
	})
	var lines []string
	for n := range used {
		if p, ok := known[n]; ok {
			lines = append(lines, fmt.Sprintf("\t%q\n", p))
		}
	}
	sort.Strings(lines)
	return "import (\n" + strings.Join(lines, "") + ")\n\n"
}

func serverFile(entries string) string {
	body := "func init() {\n" + entries + "}\n"
	g := &gen{spec: &pkgSpec{}, imports: map[string]string{
		"chatcell": "github.com/gonbchat/gonbchat/chatcell", "display": "github.com/gonbchat/gonbchat/display",
		"completions": "github.com/gonbchat/gonbchat/chatcell/completions",
	}}
	return "//go:build !gonbchat_kernel && unix\n\n" + header + "package helper\n\n" + g.importBlock(body) + body
}
