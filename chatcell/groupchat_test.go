//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/openaitest"
)

// poets sets up the lesson's group: three poets and three remarks.
func poets(t *testing.T, g *GroupChat) {
	t.Helper()
	for _, r := range [][2]string{
		{"苏轼", "宋朝诗人，他的词风格独特，既有儒家的教诲，又有生活的乐趣。"},
		{"李清照", "宋代著名的女词人，其词句优美，情感真挚。"},
		{"杜甫", "唐朝著名诗人。"},
	} {
		if err := g.SetRole(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		s, a, r string
	}{
		{"苏轼", "李清照", "你好呀"},
		{"李清照", "苏轼", "好久不见, 你最近在忙什么?"},
		{"杜甫", "苏轼", "上次托你帮我写的那首《茅屋为秋风所破歌》写好了吗?"},
	} {
		if err := g.AddDialog(d.s, []string{d.a}, d.r); err != nil {
			t.Fatal(err)
		}
	}
}

func groupOpts(url, dir string, more ...GroupOption) []GroupOption {
	return append([]GroupOption{WithBaseURL(url), WithAPIKey(testKey), WithStateDir(dir), WithQuiet()}, more...)
}

func speakers(rs []Remark) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Speaker)
	}
	return out
}

func requestsTo(srv *openaitest.Server, path string) []map[string]any {
	var out []map[string]any
	for _, r := range srv.Handler().Requests() {
		if r.Path == path {
			out = append(out, r.JSON())
		}
	}
	return out
}

// dig follows a path of keys and indexes into decoded JSON.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// The request is a strict JSON schema on the Responses API: one numbered remark per cue, in
// order, each restricting its speaker and audiences to the names asked for; the roles and the
// dialogue so far are in the prompt; the answer comes back typed and continues the dialogue.
func TestGroupChatAsksWithAStrictSchemaAndReturnsTypedRemarks(t *testing.T) {
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir(), WithLanguage("zh-CN"))...)
	poets(t, g)
	remarks, err := g.Reply(context.Background(), Says("苏轼", "李清照"), Says("苏轼", "杜甫"), Says("李清照", "苏轼", "杜甫"))
	if err != nil {
		t.Fatal(err)
	}
	if got := speakers(remarks); !slices.Equal(got, []string{"苏轼", "苏轼", "李清照"}) {
		t.Fatalf("speakers %v", got)
	}
	if !slices.Equal(remarks[1].Audiences, []string{"杜甫"}) || !slices.Equal(remarks[2].Audiences, []string{"苏轼", "杜甫"}) {
		t.Errorf("audiences %+v", remarks)
	}
	for _, r := range remarks {
		if !strings.HasPrefix(r.Remark, "mirror: ") || r.Partial {
			t.Errorf("remark %+v is not the offline model's answer", r)
		}
	}
	req := requestsTo(srv, "/v1/responses")[0]
	format := dig(req, "text", "format")
	if dig(format, "type") != "json_schema" || dig(format, "strict") != true || dig(format, "name") != "group_remarks" {
		t.Fatalf("text.format = %v", format)
	}
	schema := dig(format, "schema")
	if dig(schema, "additionalProperties") != false || !reflect.DeepEqual(dig(schema, "required"), []any{"remark_1", "remark_2", "remark_3"}) {
		t.Errorf("schema %v", schema)
	}
	third := dig(schema, "properties", "remark_3")
	if !reflect.DeepEqual(dig(third, "properties", "speaker", "enum"), []any{"李清照"}) ||
		!reflect.DeepEqual(dig(third, "properties", "audiences", "items", "enum"), []any{"苏轼", "杜甫"}) ||
		dig(third, "additionalProperties") != false {
		t.Errorf("remark_3 schema %v", third)
	}
	// The properties are sent in order (a model writes them in the order of the schema).
	for _, r := range srv.Handler().Requests() {
		body := string(r.Body)
		if i, j, k := strings.Index(body, `"remark_1"`), strings.Index(body, `"remark_2"`), strings.Index(body, `"remark_3"`); !(i < j && j < k) {
			t.Errorf("remarks out of order in the schema: %s", body)
		}
		if i, j, k := strings.Index(body, `"speaker":{`), strings.Index(body, `"audiences":{`), strings.Index(body, `"remark":{`); !(i < j && j < k) {
			t.Errorf("fields out of order in the schema: %s", body)
		}
	}
	instr, _ := req["instructions"].(string)
	for _, want := range []string{"苏轼: 宋朝诗人", "李清照: 宋代著名的女词人", "杜甫: 唐朝著名诗人。", "JSON"} {
		if !strings.Contains(instr, want) {
			t.Errorf("instructions lack %q:\n%s", want, instr)
		}
	}
	user, _ := dig(req, "input").(string)
	for _, want := range []string{"1. 苏轼 → 李清照", "3. 李清照 → 苏轼、杜甫", `"remark":"上次托你帮我写的那首《茅屋为秋风所破歌》写好了吗?"`} {
		if !strings.Contains(user, want) {
			t.Errorf("user message lacks %q:\n%s", want, user)
		}
	}
	if dig(req, "store") != false {
		t.Errorf("store = %v, want false (the group keeps its dialogue)", dig(req, "store"))
	}
	if d := g.Dialog(); len(d) != 6 || d[5].Speaker != "李清照" || d[5].Remark != remarks[2].Remark {
		t.Errorf("dialogue %+v", d)
	}

	// The next request continues the scene: the remarks just written are in its dialogue.
	if _, err := g.Reply(context.Background(), Says("杜甫", "苏轼")); err != nil {
		t.Fatal(err)
	}
	user, _ = dig(requestsTo(srv, "/v1/responses")[1], "input").(string)
	if !strings.Contains(user, jsonString(remarks[2].Remark)) {
		t.Errorf("the second request does not carry the first answer:\n%s", user)
	}
	if g.Turns() != 2 || g.Requests() != 2 || g.Usage().TotalTokens == 0 {
		t.Errorf("turns %d requests %d usage %+v", g.Turns(), g.Requests(), g.Usage())
	}
}

// openai2 builds its prompt once per class from the demo roles; ours describes the roles as
// they are at each request.
func TestGroupChatRolesChangeBetweenRequests(t *testing.T) {
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir())...)
	g.SetRole("苏轼", "宋朝诗人")
	g.SetRole("李清照", "词人")
	g.Reply(context.Background(), Says("苏轼"))
	g.SetRole("王维", "唐朝诗人，诗中有画")
	g.SetRole("苏轼", "東坡居士")
	g.RemoveRole("李清照")
	if _, err := g.Reply(context.Background(), Says("王维", "苏轼")); err != nil {
		t.Fatal(err)
	}
	reqs := requestsTo(srv, "/v1/responses")
	first, second := reqs[0]["instructions"].(string), reqs[1]["instructions"].(string)
	if !strings.Contains(first, "李清照: 词人") || strings.Contains(first, "王维") {
		t.Errorf("first instructions:\n%s", first)
	}
	if !strings.Contains(second, "王维: 唐朝诗人") || !strings.Contains(second, "苏轼: 東坡居士") || strings.Contains(second, "李清照") {
		t.Errorf("second instructions:\n%s", second)
	}
	if got := g.Roles(); len(got) != 2 || got[0].Name != "苏轼" || got[1].Name != "王维" {
		t.Errorf("roles %+v: order kept, removed one gone", got)
	}
	// Says with no audience speaks to every other role.
	if d := g.Dialog(); !slices.Equal(d[0].Audiences, []string{"李清照"}) {
		t.Errorf("audiences of Says(\"苏轼\") = %v", d[0].Audiences)
	}
}

func TestGroupChatSurvivesAcrossCells(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	cell1 := NewGroupChat(groupOpts(srv.URL, dir, WithName("诗人"))...)
	poets(t, cell1)
	cell1.Reply(context.Background(), Says("苏轼", "杜甫"))

	cell2 := NewGroupChat(groupOpts(srv.URL, dir, WithName("诗人"))...)
	if !reflect.DeepEqual(cell2.Roles(), cell1.Roles()) || !reflect.DeepEqual(cell2.Dialog(), cell1.Dialog()) || cell2.Turns() != 1 {
		t.Fatalf("cell 2 sees roles %+v dialog %+v", cell2.Roles(), cell2.Dialog())
	}
	if other := NewGroupChat(groupOpts(srv.URL, dir, WithName("其他"))...); len(other.Roles()) != 0 {
		t.Errorf("another group shares the roles")
	}
	cell2.Rollback(2)
	cell3 := NewGroupChat(groupOpts(srv.URL, dir, WithName("诗人"))...)
	if d := cell3.Dialog(); len(d) != 2 || d[1].Speaker != "李清照" {
		t.Errorf("after Rollback(2): %+v", d)
	}
	cell3.Reset()
	if d := NewGroupChat(groupOpts(srv.URL, dir, WithName("诗人"))...); len(d.Dialog()) != 0 || len(d.Roles()) != 3 {
		t.Errorf("Reset: dialog %d roles %d, want 0 and 3", len(d.Dialog()), len(d.Roles()))
	}
}

// refusing wraps srv: a request asking for one of the formats in refuse gets the 400 a provider
// without structured outputs (or JSON mode) sends; the rest goes to srv.
func refusing(t *testing.T, srv *openaitest.Server, refuse ...string) *httptest.Server {
	t.Helper()
	h := srv.Handler()
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		var req struct {
			Text struct {
				Format struct{ Type string } `json:"format"`
			} `json:"text"`
			ResponseFormat struct{ Type string } `json:"response_format"`
		}
		json.Unmarshal(body, &req)
		for _, f := range refuse {
			switch {
			case req.Text.Format.Type == f:
				apiwire.BadRequest(w, fmt.Sprintf("Invalid parameter: 'text.format' of type '%s' is not supported with this model.", f), "text.format.type", "invalid_parameter")
				return
			case req.ResponseFormat.Type == f:
				apiwire.BadRequest(w, fmt.Sprintf("response_format of type '%s' is not supported with this model", f), "response_format", "")
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rs.Close)
	return rs
}

// A server without structured outputs gets JSON mode; one without JSON mode either gets a plain
// prompt, whose answer (in code fences, with words around it) is read all the same. The
// fallback is remembered for the model, also in the next cell.
func TestGroupChatFallsBackWhenTheServerRefusesTheFormat(t *testing.T) {
	good := `{"remark_1":{"speaker":"苏轼","audiences":["李清照"],"remark":"最近我在写一首新的词，题目是《听雨》"},` +
		`"remark_2":{"speaker":"苏轼","audiences":["杜甫"],"remark":"那首诗已经写好啦，我在信里寄给你了"}}`
	for _, tc := range []struct {
		name    string
		refuse  []string
		reply   string
		formats []string // the text.format types sent, in order ("" for none)
	}{
		{"json_schema refused", []string{"json_schema"}, good, []string{"json_schema", "json_object"}},
		{"json_schema and json_object refused", []string{"json_schema", "json_object"},
			"好的，下面是两位诗人的发言：\n```json\n" + good + "\n```\n希望你喜欢！{还有别的吗}", []string{"json_schema", "json_object", ""}},
		{"a list in JSON mode", []string{"json_schema"},
			`[{"speaker":"苏轼","audiences":"李清照","remark":"最近我在写一首新的词，题目是《听雨》"},{"speaker":"苏轼","audiences":"杜甫","remark":"那首诗已经写好啦，我在信里寄给你了"}]`,
			[]string{"json_schema", "json_object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			front := refusing(t, srv, tc.refuse...)
			dir := t.TempDir()
			g := NewGroupChat(groupOpts(front.URL+"/v1", dir)...)
			poets(t, g)
			srv.Handler().Script(tc.reply, tc.reply)
			remarks, err := g.Reply(context.Background(), Says("苏轼", "李清照"), Says("苏轼", "杜甫"))
			if err != nil {
				t.Fatal(err)
			}
			if len(remarks) != 2 || remarks[0].Remark != "最近我在写一首新的词，题目是《听雨》" || remarks[1].Remark != "那首诗已经写好啦，我在信里寄给你了" ||
				!slices.Equal(remarks[1].Audiences, []string{"杜甫"}) {
				t.Fatalf("remarks %+v", remarks)
			}
			var sent []string
			for _, r := range srv.Handler().Requests() {
				f, _ := dig(r.JSON(), "text", "format", "type").(string)
				sent = append(sent, f)
			}
			// The refused requests never reached srv: count them from what srv got and the refusals.
			got := append(slices.Clone(tc.refuse), sent...)
			if !slices.Equal(got, tc.formats) {
				t.Errorf("formats sent %v, want %v", got, tc.formats)
			}
			// The next cell goes straight to the format that worked.
			srv.Handler().ResetRequests()
			next := NewGroupChat(groupOpts(front.URL+"/v1", dir)...)
			if _, err := next.Reply(context.Background(), Says("苏轼", "李清照"), Says("苏轼", "杜甫")); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Handler().Requests()
			if f, _ := dig(reqs[0].JSON(), "text", "format", "type").(string); len(reqs) != 1 || f != tc.formats[len(tc.formats)-1] {
				t.Errorf("next cell: %d requests, format %q", len(reqs), f)
			}
		})
	}
}

// Chat Completions gets the same in response_format (the test of the backend is in
// groupchat_completions_test.go); here: a server error that does not name the format is
// reported as it is, with no fallback.
func TestGroupChatOtherErrorsDoNotFallBack(t *testing.T) {
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir())...)
	poets(t, g)
	srv.Handler().InjectFault(openaitest.Fault{Status: 400, Error: openaitest.FaultError{Message: "Invalid value for 'temperature'", Param: "temperature", Code: "invalid_value"}})
	_, err := g.Reply(context.Background(), Says("苏轼", "李清照"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(srv.Handler().Requests()) != 1 || len(g.Dialog()) != 3 {
		t.Fatalf("err %v after %d requests", err, len(srv.Handler().Requests()))
	}
	if !strings.Contains(err.Error(), "temperature") {
		t.Errorf("error line %q", err)
	}
}

// An answer that is not the remarks asked for (other speakers, another order, too few, not
// JSON) is asked again once, saying what was wrong; a second one is an error line, and nothing
// is added.
func TestGroupChatAsksAgainOnceWhenTheSpeakersDoNotMatch(t *testing.T) {
	wrong := `{"remark_1":{"speaker":"杜甫","audiences":["苏轼"],"remark":"我来说两句"},"remark_2":{"speaker":"苏轼","audiences":["杜甫"],"remark":"好"}}`
	right := `{"remark_1":{"speaker":"苏轼","audiences":["李清照"],"remark":"在写《听雨》"},"remark_2":{"speaker":"苏轼","audiences":["杜甫"],"remark":"写好了"}}`
	for _, tc := range []struct {
		name    string
		replies []string
		ok      bool
	}{
		{"wrong then right", []string{wrong, right}, true},
		{"too few then right", []string{`{"remark_1":{"speaker":"苏轼","audiences":["李清照"],"remark":"在写"}}`, right}, true},
		{"prose then right", []string{"苏轼说：我在写《听雨》。", right}, true},
		{"empty remark then right", []string{strings.Replace(right, "写好了", "  ", 1), right}, true},
		{"wrong twice", []string{wrong, wrong, right}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			g := NewGroupChat(groupOpts(srv.URL, t.TempDir(), WithLanguage("zh-CN"))...)
			poets(t, g)
			srv.Handler().Script(tc.replies...)
			remarks, err := g.Reply(context.Background(), Says("苏轼", "李清照"), Says("苏轼", "杜甫"))
			reqs := requestsTo(srv, "/v1/responses")
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			retry, _ := dig(reqs[1], "input").(string)
			if !strings.Contains(retry, "你上一次的回答与要求不符") {
				t.Errorf("the second request does not say what was wrong:\n%s", retry)
			}
			if g.Requests() != 2 {
				t.Errorf("requests %d", g.Requests())
			}
			if !tc.ok {
				if err == nil || remarks != nil || len(g.Dialog()) != 3 || g.Turns() != 0 {
					t.Fatalf("err %v remarks %v dialog %d", err, remarks, len(g.Dialog()))
				}
				if !strings.Contains(err.Error(), "要求 苏轼, 苏轼，收到 杜甫, 苏轼") {
					t.Errorf("error line %q does not say what came", err)
				}
				return
			}
			if err != nil || len(remarks) != 2 || remarks[0].Remark != "在写《听雨》" || len(g.Dialog()) != 5 || g.Turns() != 1 {
				t.Fatalf("err %v remarks %+v", err, remarks)
			}
		})
	}
}

// recordCells replaces the reply cells with ones that keep what they were given.
type recCell struct {
	mu     sync.Mutex
	text   strings.Builder
	closed bool
	cut    bool
	meta   map[string]any
}

func (c *recCell) Write(d string) { c.mu.Lock(); c.text.WriteString(d); c.mu.Unlock() }
func (c *recCell) Status(string)  {}
func (c *recCell) CutShort()      { c.mu.Lock(); c.cut = true; c.mu.Unlock() }
func (c *recCell) Close(meta map[string]any) {
	c.mu.Lock()
	c.closed, c.meta = true, meta
	c.mu.Unlock()
}
func (c *recCell) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.text.String() }

func recordCells(t *testing.T) func() []*recCell {
	var mu sync.Mutex
	var cells []*recCell
	old := newCell
	newCell = func(string) replyCell {
		mu.Lock()
		defer mu.Unlock()
		c := &recCell{}
		cells = append(cells, c)
		return c
	}
	t.Cleanup(func() { newCell = old })
	return func() []*recCell {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(cells)
	}
}

// Ask shows the dialogue as it streams (who said what to whom), never the JSON; an answer
// asked again is shown in a second cell, the first one saying why.
func TestGroupChatShowsTheDialogue(t *testing.T) {
	cells := recordCells(t)
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir(), WithLanguage("zh-CN"))...)
	poets(t, g)
	srv.Handler().Script(`{"remark_1":{"speaker":"杜甫","audiences":["苏轼"],"remark":"乱说"},"remark_2":{"speaker":"苏轼","audiences":["杜甫"],"remark":"好"}}`,
		"```json\n{\"remark_1\":{\"speaker\":\"苏轼\",\"audiences\":[\"李清照\"],\"remark\":\"雨声\\n\\\"潇潇\\\" \\ud83c\\udf27\"},\"remark_2\":{\"speaker\":\"苏轼\",\"audiences\":[\"杜甫\"],\"remark\":\"写好啦\"}}\n```")
	remarks := g.Ask(Says("苏轼", "李清照"), Says("苏轼", "杜甫"))
	if len(remarks) != 2 || remarks[0].Remark != "雨声\n\"潇潇\" 🌧" {
		t.Fatalf("remarks %+v err %v", remarks, g.Err())
	}
	cs := cells()
	if len(cs) != 2 {
		t.Fatalf("%d cells, want 2", len(cs))
	}
	first, second := cs[0].String(), cs[1].String()
	if !strings.Contains(first, "**杜甫** → 李清照：乱说") || !strings.Contains(first, "⚠ 不是所要求的发言（要求 苏轼, 苏轼，收到 杜甫, 苏轼）：重新请求") {
		t.Errorf("first cell:\n%s", first)
	}
	want := "**苏轼** → 李清照：雨声  \n\"潇潇\" 🌧\n\n**苏轼** → 杜甫：写好啦"
	if second != want {
		t.Errorf("second cell:\n%q\nwant\n%q", second, want)
	}
	for _, c := range cs {
		if strings.Contains(c.String(), `"remark"`) || !c.closed {
			t.Errorf("cell shows JSON or was not closed: %q", c.String())
		}
	}
}

// The scanner finds the same remarks whatever the pieces the answer streams in.
func TestRemarkScannerAnySplit(t *testing.T) {
	answer := "好的：\n```json\n" + `{"remark_2":{"remark":"第二\"句\"\n\u2028","speaker":"苏轼"},` +
		`"remark_1":{"speaker":"李清照","audiences":["苏轼","杜甫"],"remark":"\u4f60\u597d \ud83c\udf27 \\\/ end"}}` + "\n```\n之后的文字 {\"remark\":\"不算\"}"
	want := map[int]string{1: "第二\"句\"\n\u2028", 0: "你好 🌧 \\/ end"}
	check := func(t *testing.T, pieces []string) {
		var s remarkScanner
		var shown strings.Builder
		s.onText = func(x string) { shown.WriteString(x) }
		for _, p := range pieces {
			s.Write(p)
		}
		if len(s.remarks) != 2 {
			t.Fatalf("%d remarks from %q", len(s.remarks), pieces)
		}
		for _, r := range s.remarks {
			if r.text.String() != want[r.index] || !r.complete {
				t.Errorf("remark %d = %q complete=%v, want %q", r.index, r.text.String(), r.complete, want[r.index])
			}
		}
		if s.remarks[0].index != 1 || s.remarks[0].speaker != "" || s.remarks[1].speaker != "李清照" {
			t.Errorf("order/speakers: %+v %+v", s.remarks[0], s.remarks[1])
		}
		if shown.String() != want[1]+want[0] || !utf8.ValidString(shown.String()) {
			t.Errorf("shown %q", shown.String())
		}
	}
	check(t, []string{answer})
	for i := 1; i < len(answer); i++ {
		check(t, []string{answer[:i], answer[i:]})
	}
	// Byte by byte: a character split between pieces is never shown in halves.
	var bytesOf []string
	for i := 0; i < len(answer); i++ {
		bytesOf = append(bytesOf, answer[i:i+1])
	}
	var s remarkScanner
	s.onText = func(string) {}
	for _, b := range bytesOf {
		s.Write(b)
	}
	if len(s.remarks) != 2 || s.remarks[1].text.String() != want[0] {
		t.Errorf("byte by byte: %+v", s.remarks)
	}
	got, ok := parseRemarks(answer)
	if !ok || len(got) != 2 || got[0].Speaker != "李清照" || got[1].Remark != want[1] || !slices.Equal(got[0].Audiences, []string{"苏轼", "杜甫"}) {
		t.Errorf("parseRemarks: %+v %v", got, ok)
	}
}

// A reply cut short keeps the remarks that arrived, the last marked; one that stopped before
// any remark adds nothing.
func TestGroupChatCutShortKeepsWhatArrived(t *testing.T) {
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir())...)
	poets(t, g)
	reply := `{"remark_1":{"speaker":"苏轼","audiences":["李清照"],"remark":"最近我在写一首新的词"},"remark_2":{"speaker":"苏轼","audiences":["杜甫"],"remark":"那首诗已经写好啦，我在信里寄给你了，请查收"}}`
	srv.Handler().Script(reply)
	// The offline model streams 2-8 bytes a delta: 40 events reach into the second remark.
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", DropAfterEvents: 40})
	remarks, err := g.Reply(context.Background(), Says("苏轼", "李清照"), Says("苏轼", "杜甫"))
	if !errors.Is(err, ErrDropped) {
		t.Fatalf("err %v", err)
	}
	if len(remarks) != 2 || remarks[0].Partial || remarks[0].Remark != "最近我在写一首新的词" || !remarks[1].Partial ||
		remarks[1].Remark == "" || !strings.HasPrefix("那首诗已经写好啦，我在信里寄给你了，请查收", remarks[1].Remark) {
		t.Fatalf("kept %+v", remarks)
	}
	if d := g.Dialog(); len(d) != 5 || !d[4].Partial {
		t.Errorf("dialog %+v", d)
	}
	// The next request shows the cut remark as cut.
	g.Reply(context.Background(), Says("杜甫", "苏轼"))
	user, _ := dig(requestsTo(srv, "/v1/responses")[1], "input").(string)
	if !strings.Contains(user, remarks[1].Remark+"…") {
		t.Errorf("cut remark not marked in the next prompt:\n%s", user)
	}
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", DropAfterEvents: 3, Times: -1})
	if _, err := g.Reply(context.Background(), Says("李清照", "杜甫")); err == nil || len(g.Dialog()) != 6 {
		t.Errorf("err %v dialog %d", err, len(g.Dialog()))
	}
}

func TestGroupChatBadInput(t *testing.T) {
	srv := newServer(t)
	g := NewGroupChat(groupOpts(srv.URL, t.TempDir(), WithLanguage("zh-CN"))...)
	if _, err := g.Reply(context.Background(), Says("苏轼", "李清照")); err == nil || !strings.Contains(err.Error(), "还没有角色") {
		t.Errorf("no roles: %v", err)
	}
	poets(t, g)
	for name, err := range map[string]error{
		"unknown speaker":  g.AddDialog("王维", []string{"苏轼"}, "你好"),
		"unknown audience": g.AddDialog("苏轼", []string{"王 维"}, "你好"),
		"empty remark":     g.AddDialog("苏轼", []string{"杜甫"}, " "),
		"bad name":         g.SetRole("a\nb", ""),
		"remove unknown":   g.RemoveRole("王维"),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := g.AddDialog("王维", nil, "x"); err == nil || !strings.Contains(err.Error(), "苏轼, 李清照, 杜甫") {
		t.Errorf("the error does not name the roles: %v", err)
	}
	if _, err := g.Reply(context.Background()); err == nil || !strings.Contains(err.Error(), "Says") {
		t.Errorf("no cues: %v", err)
	}
	if len(srv.Handler().Requests()) != 0 || len(g.Dialog()) != 3 {
		t.Errorf("bad input sent %d requests, dialog %d", len(srv.Handler().Requests()), len(g.Dialog()))
	}
	var zero GroupChat
	if zero.Ask(Says("a")) != nil || zero.Err() == nil || !strings.Contains(zero.Err().Error(), "NewGroupChat") {
		t.Errorf("zero value: %v", zero.Err())
	}
	one := NewGroupChat(groupOpts(srv.URL, t.TempDir())...)
	one.SetRole("独白", "")
	if _, err := one.Reply(context.Background(), Says("独白")); err == nil {
		t.Errorf("a remark to nobody was asked for")
	}
}

// The offline model answers the schema (each speaker is an enum of one name), so the lesson
// runs without a key, and Chinese role names work everywhere.
func TestGroupChatOffline(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	g := NewGroupChat(WithOffline(), WithStateDir(t.TempDir()), WithQuiet())
	poets(t, g)
	cues := []Cue{Says("杜甫", "李清照"), Says("李清照", "苏轼", "杜甫"), Says("苏轼", "杜甫")}
	remarks, err := g.Reply(context.Background(), cues...)
	if err != nil {
		t.Fatal(err)
	}
	if got := speakers(remarks); !slices.Equal(got, []string{"杜甫", "李清照", "苏轼"}) || g.Source() != Offline {
		t.Fatalf("speakers %v source %s", got, g.Source())
	}
}
