//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/openaitest"
	"github.com/openai/openai-go/v3/option"
)

// Every option either works where it is given, or the compiler refuses it there. This test
// lists every option (every exported function of the package that returns an option type) and
// every place (New, NewHistList, one call, Create): where the option's type implements the
// place's interface, giving it must change what the chat does (the requests it sends, what it
// shows, its state, its errors), compared with the same run without it; elsewhere it does not
// compile, which the interface check proves.

var places = map[string]reflect.Type{
	"New":          reflect.TypeFor[ChatOption](),
	"NewHistList":  reflect.TypeFor[HistOption](),
	"call":         reflect.TypeFor[CallOption](),
	"Create":       reflect.TypeFor[CreateOption](),
	"NewGroupChat": reflect.TypeFor[GroupOption](),
}

// optionCase gives an option, and what a run needs to show its effect.
type optionCase struct {
	opt any
	// turns is how many turns the run makes (caps, windows and summaries need several).
	turns int
	// slow makes the server wait before answering (for the timeouts).
	slow bool
	// offline runs without a server (the option decides where requests go).
	offline bool
	// pace slows the server's stream.
	pace time.Duration
	// timing: the option changes how long the chat takes (compared apart, see TestOptionMatrix).
	timing bool
	// script is the server's next reply.
	script string
}

func optionCases(t *testing.T, other string) map[string]optionCase {
	counter := history.TokenBudget(60, tokenCounterFunc(func(ms []llm.Message) int {
		n := 0
		for _, m := range ms {
			n += len([]rune(m.Content))
		}
		return n
	}))
	return map[string]optionCase{
		"WithName":               {opt: WithName("另一個")},
		"WithStateDir":           {opt: WithStateDir(filepath.Join(t.TempDir(), "elsewhere"))},
		"WithModel":              {opt: WithModel("gpt-4.1-mini")},
		"WithInstructions":       {opt: WithInstructions("只用英文")},
		"WithStore":              {opt: WithStore(true)},
		"WithStream":             {opt: WithStream(false), pace: 40 * time.Millisecond},
		"WithParam":              {opt: WithParam("top_p", 0.5)},
		"WithTemperature":        {opt: WithTemperature(0.3)},
		"WithMaxOutputTokens":    {opt: WithMaxOutputTokens(40)},
		"WithQuiet":              {opt: WithQuiet()},
		"WithStartTimeout":       {opt: WithStartTimeout(200 * time.Millisecond), slow: true},
		"WithStallTimeout":       {opt: WithStallTimeout(50 * time.Millisecond), pace: 150 * time.Millisecond, script: "一段 慢慢 來的 回覆"},
		"WithLanguage":           {opt: WithLanguage("zh-TW")},
		"WithAPIKey":             {opt: WithAPIKey("sk-another-key-0123456789")},
		"WithBaseURL":            {opt: WithBaseURL(other)},
		"WithKeyPool":            {opt: WithKeyPool(mustPool(t, "sk-pool-key-one-0123456789", "sk-pool-key-two-0123456789"))},
		"WithProvider":           {opt: WithProvider("groq")},
		"WithOffline":            {opt: WithOffline()},
		"WithOfflinePace":        {opt: WithOfflinePace(time.Millisecond), offline: true, timing: true},
		"WithRequestOptions":     {opt: WithRequestOptions(option.WithHeader("X-Lesson", "3"))},
		"WithLastID":             {opt: WithLastID("resp_seed")},
		"WithPreviousResponseID": {opt: WithPreviousResponseID("resp_seed")},
		"WithSystem":             {opt: WithSystem("你是一个乐于助人的助手。")},
		"WithBackend":            {opt: WithBackend(fakeBackend{})},
		"WithMaxCount":           {opt: WithMaxCount(2), turns: 3},
		"WithWindow":             {opt: WithWindow(1), turns: 3},
		"WithTrim":               {opt: WithTrim(counter), turns: 3},
		"WithSummary":            {opt: WithSummary(2, 1), turns: 4},
		"WithPersona":            {opt: WithPersona(testPersona{})},
	}
}

func mustPool(t *testing.T, keys ...string) *keypool.Pool {
	p, err := keypool.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type testPersona struct{}

func (testPersona) Start() []llm.Message {
	return []llm.Message{llm.SystemMsg("你是 Lucky Vicky。"), llm.AssistantMsg("嗨！有什麼不順的事？")}
}

type tokenCounterFunc func([]llm.Message) int

func (f tokenCounterFunc) MessageTokens(m llm.Message) int { return f([]llm.Message{m}) }
func (f tokenCounterFunc) PrimingTokens() int              { return 0 }

// fakeBackend answers without a network: its replies say which backend answered.
type fakeBackend struct{}

func (fakeBackend) Stream(ctx context.Context, _ []option.RequestOption, req *Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if !yield(Event{Delta: "fake backend"}, nil) {
			return
		}
		yield(Event{Done: &Reply{ID: "fake", Model: req.Model}}, nil)
	}
}

// exportedOptions lists the package's option constructors from its source.
func exportedOptions(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{"Option": true, "ConnOption": true, "NameOption": true, "ThreadOption": true, "ListOption": true, "MessagesOption": true}
	out := map[string]string{}
	for _, f := range pkgs["chatcell"].Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); ok && kinds[id.Name] {
				out[fd.Name.Name] = id.Name
			}
		}
	}
	return out
}

var volatile = regexp.MustCompile(`(resp|msg|chatcmpl|rs)_?-?[0-9a-zA-Z]{6,}|"created(_at)?":\s*[0-9]+|/tmp/[^"\s]*|[0-9]+\.[0-9]{2,}s`)

// observe runs a scenario and records what the chat did, in a form that compares across runs.
func observe(t *testing.T, place string, opts []any, tc optionCase) string {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("GONB_TMP_DIR", "")
	var srvOpts []openaitest.Option
	srvOpts = append(srvOpts, openaitest.WithPace(tc.pace))
	srv := openaitest.NewServer(srvOpts...)
	defer srv.Close()
	if tc.slow {
		srv.Handler().InjectFault(openaitest.Fault{Latency: 400 * time.Millisecond, Times: -1})
		srv.Handler().Script("x")
	}
	if tc.script != "" {
		srv.Handler().Script(tc.script)
	}
	dir := t.TempDir()
	base := []any{WithStateDir(dir)}
	if !tc.offline {
		base = append(base, WithBaseURL(srv.URL), WithAPIKey(testKey))
	} else {
		base = append(base, WithOffline())
	}
	var first, last time.Time
	var mu sync.Mutex
	old := newCell
	newCell = func(lang string) replyCell {
		return countingCell{old(lang), func() {
			mu.Lock()
			if first.IsZero() {
				first = time.Now()
			}
			last = time.Now()
			mu.Unlock()
		}}
	}
	defer func() { newCell = old }()

	var result []string
	turns := max(tc.turns, 1)
	start := time.Now()
	out := captureOutput(t, func() {
		switch place {
		case "New", "NewHistList", "call":
			var c interface {
				Reply(context.Context, string, ...CallOption) (string, error)
				Ask(string, ...CallOption) string
				Err() error
				Name() string
				Source() Source
			}
			var callOpts []CallOption
			chatOpts := []ChatOption{}
			histOpts := []HistOption{}
			for _, o := range base {
				if co, ok := o.(ChatOption); ok {
					chatOpts = append(chatOpts, co)
				}
				if ho, ok := o.(HistOption); ok {
					histOpts = append(histOpts, ho)
				}
			}
			for _, o := range opts {
				switch place {
				case "New":
					chatOpts = append(chatOpts, o.(ChatOption))
				case "NewHistList":
					histOpts = append(histOpts, o.(HistOption))
				case "call":
					callOpts = append(callOpts, o.(CallOption))
				}
			}
			var hist *ChatWithHistList
			if place == "New" {
				c = New(chatOpts...)
			} else {
				hist = NewHistList(histOpts...)
				c = hist
			}
			for i := 0; i < turns; i++ {
				c.Ask(fmt.Sprintf("第 %d 題", i), callOpts...)
			}
			result = append(result, "name="+c.Name(), "source="+string(c.Source()))
			if err := c.Err(); err != nil {
				result = append(result, "err="+err.Error())
			}
			if hist != nil {
				for _, m := range hist.Messages() {
					result = append(result, fmt.Sprintf("msg %s %q", m.Role, m.Content))
				}
			}
		case "NewGroupChat":
			var gopts []GroupOption
			for _, o := range append(base, opts...) {
				gopts = append(gopts, o.(GroupOption))
			}
			g := NewGroupChat(gopts...)
			g.SetRole("苏轼", "北宋文学家")
			g.SetRole("李清照", "宋代女词人")
			for i := 0; i < turns; i++ {
				for _, r := range g.Ask(Says("苏轼", "李清照"), Says("李清照", "苏轼")) {
					result = append(result, "remark "+r.Speaker+": "+r.Remark)
				}
			}
			result = append(result, "name="+g.Name(), "source="+string(g.Source()))
			if err := g.Err(); err != nil {
				result = append(result, "err="+err.Error())
			}
		case "Create":
			var co []CreateOption
			for _, o := range append(base[1:], opts...) {
				co = append(co, o.(CreateOption))
			}
			r := Create("第 0 題", co...)
			result = append(result, "reply model="+r.Model, "text="+r.Text)
		}
	})
	if elapsed := time.Since(start); tc.timing {
		result = append(result, fmt.Sprintf("elapsed=%s", elapsed.Round(time.Millisecond)))
	} else if elapsed > 700*time.Millisecond {
		result = append(result, "slow")
	}
	// Streamed text is written over the reply's time; text shown at the end, all at once.
	result = append(result, "output:"+out, fmt.Sprintf("streamed=%v", last.Sub(first) > 60*time.Millisecond))
	for _, r := range srv.Handler().Requests() {
		body, _ := json.Marshal(r.JSON())
		result = append(result, fmt.Sprintf("req %s %s %s lesson=%s auth=%s", r.Method, r.Path, body, r.Header.Get("X-Lesson"), r.Header.Get("Authorization")))
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			result = append(result, "file "+rel)
		}
		return nil
	})
	return volatile.ReplaceAllString(strings.Join(result, "\n"), "X")
}

var elapsedRE = regexp.MustCompile(`elapsed=([0-9.a-zµ]+)`)

func elapsedOf(obs string) time.Duration {
	m := elapsedRE.FindStringSubmatch(obs)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(m[1])
	return d
}

func strip(obs string) string { return elapsedRE.ReplaceAllString(obs, "") }

type countingCell struct {
	replyCell
	onWrite func()
}

func (c countingCell) Write(d string) { c.onWrite(); c.replyCell.Write(d) }

func captureOutput(t *testing.T, fn func()) string {
	r, w, _ := os.Pipe()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		done <- b.String()
	}()
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	fn()
	w.Close()
	os.Stdout, os.Stderr = stdout, stderr
	return <-done
}

func TestOptionMatrix(t *testing.T) {
	other := openaitest.NewServer(openaitest.WithPace(0))
	defer other.Close()
	cases := optionCases(t, other.URL)
	exported := exportedOptions(t)
	if len(exported) < 20 {
		t.Fatalf("found only %d option constructors: %v", len(exported), exported)
	}
	for name := range exported {
		if _, ok := cases[name]; !ok {
			t.Errorf("option %s has no case in this test", name)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range cases {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		tc := cases[name]
		typ := reflect.TypeOf(tc.opt)
		if kind := exported[name]; kind != "" && typ.Name() != kind {
			t.Errorf("%s returns %s, the case holds %s", name, kind, typ.Name())
		}
		for _, place := range []string{"New", "NewHistList", "call", "Create", "NewGroupChat"} {
			if !typ.Implements(places[place]) {
				continue // the compiler refuses it there
			}
			t.Run(name+"/"+place, func(t *testing.T) {
				without := observe(t, place, nil, tc)
				with := observe(t, place, []any{tc.opt}, tc)
				if tc.timing {
					// The same run, at least three times faster (or slower) with the option.
					dw, dwo := elapsedOf(with), elapsedOf(without)
					if strip(with) != strip(without) || dw*3 < dwo || dwo*3 < dw {
						return
					}
					t.Errorf("%s given to %s changes nothing the chat does (%s with, %s without):\n%s", name, place, dw, dwo, with)
					return
				}
				if with == without {
					t.Errorf("%s given to %s changes nothing the chat does:\n%s", name, place, with)
				}
			})
		}
	}
}

// The table in the package documentation is what the types do.
func TestOptionPlacesTable(t *testing.T) {
	want := map[string][]string{
		"Option":         {"New", "NewHistList", "call", "Create", "NewGroupChat"},
		"ConnOption":     {"New", "NewHistList", "Create", "NewGroupChat"},
		"NameOption":     {"New", "NewHistList", "NewGroupChat"},
		"ThreadOption":   {"New", "Create"},
		"ListOption":     {"NewHistList"},
		"MessagesOption": {"NewHistList", "Create", "NewGroupChat"},
	}
	for kind, ps := range want {
		var typ reflect.Type
		switch kind {
		case "Option":
			typ = reflect.TypeFor[Option]()
		case "ConnOption":
			typ = reflect.TypeFor[ConnOption]()
		case "NameOption":
			typ = reflect.TypeFor[NameOption]()
		case "ThreadOption":
			typ = reflect.TypeFor[ThreadOption]()
		case "ListOption":
			typ = reflect.TypeFor[ListOption]()
		case "MessagesOption":
			typ = reflect.TypeFor[MessagesOption]()
		}
		for place, iface := range places {
			if got := typ.Implements(iface); got != slices.Contains(ps, place) {
				t.Errorf("%s on %s: implements=%v", kind, place, got)
			}
		}
	}
}

// A value an option cannot take is an error at once, shown once, before any request.
func TestBadOptionValuesFailAtNew(t *testing.T) {
	srv := newServer(t)
	for name, opt := range map[string]HistOption{
		"WithTemperature(3)":     WithTemperature(3),
		"WithMaxOutputTokens(0)": WithMaxOutputTokens(0),
		"WithMaxCount(0)":        WithMaxCount(0),
		"WithWindow(0)":          WithWindow(0),
		"WithSummary(1,1)":       WithSummary(1, 1),
		"WithProvider(nope)":     WithProvider("nope"),
		"WithBaseURL(ftp)":       WithBaseURL("ftp://x"),
		"WithLanguage(fr)":       WithLanguage("fr"),
		"WithName(a b)":          WithName("a b"),
		"WithModel()":            WithModel(""),
		"WithAPIKey()":           WithAPIKey(" "),
		"WithBackend(nil)":       WithBackend(nil),
	} {
		before := len(srv.Handler().Requests())
		c := NewHistList(histOpts(srv, t.TempDir(), opt)...)
		if c.Err() == nil {
			t.Errorf("%s: no error at NewHistList", name)
			continue
		}
		if _, err := c.Reply(context.Background(), "hi"); err == nil || len(srv.Handler().Requests()) != before {
			t.Errorf("%s: the chat still sent a request (%v)", name, err)
		}
	}
	if err := New(chatOpts(srv, t.TempDir(), WithProvider("nope"))...).Err(); err == nil || !strings.Contains(err.Error(), "groq") {
		t.Errorf("an unknown provider should list the known ones: %v", err)
	}
	// One call's bad value fails that call only.
	c := NewHistList(histOpts(srv, t.TempDir())...)
	if _, err := c.Reply(context.Background(), "hi", WithTemperature(-1)); err == nil {
		t.Error("a bad per-call value was sent")
	}
	if _, err := c.Reply(context.Background(), "hi"); err != nil {
		t.Errorf("the next call failed too: %v", err)
	}
}
