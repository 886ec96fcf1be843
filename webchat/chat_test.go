package webchat

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/llm"
)

func TestPage(t *testing.T) {
	m := &fakeModel{}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	res, err := v.c.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || regexp.MustCompile(`script-src[^;]*unsafe-inline`).MatchString(csp) {
		t.Errorf("CSP %q allows inline scripts", csp)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("security headers: %v", res.Header)
	}
	var sid *http.Cookie
	for _, c := range res.Cookies() {
		if strings.HasPrefix(c.Name, "gonbchat_sid_") {
			sid = c
		}
	}
	if sid == nil || !sid.HttpOnly || sid.SameSite != http.SameSiteLaxMode || len(sid.Value) < 40 {
		t.Fatalf("session cookie: %+v", sid)
	}

	page := v.page()
	for _, want := range []string{
		"<title>員瑛式思考生成器</title>",
		`<html lang="zh">`,
		`class="msg bot greeting"`,
		"<strong>員瑛式思考生成器</strong>", // the description, rendered as Markdown
		`<button type="button" class="chip" title="今天忘記帶傘">今天忘記帶傘</button>`,
		`aria-label="Stop the reply"`,
		`<label for="input"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Scripts come from the server only, never inline.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, `src="static/app.js?v=`) {
			t.Errorf("inline script: %s", tag)
		}
	}
	if count(page, "有什麼不順的事") != 1 {
		t.Errorf("the greeting appears %d times", count(page, "有什麼不順的事"))
	}
	// The static files are embedded.
	for path, ctype := range map[string]string{"/static/app.js": "text/javascript", "/static/app.css": "text/css"} {
		res, err := v.c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %s %s", path, res.Status, res.Header.Get("Content-Type"))
		}
	}
	if res, _ := v.c.Get(ts.URL + "/static/page.html"); res.StatusCode != 404 {
		t.Errorf("/static/page.html: %s", res.Status)
	}
	if m.nCalls() != 0 {
		t.Errorf("loading the page called the model")
	}
}

const markdownReply = "好的！**完全是 Lucky Vicky 呀!**\n\n```go\nfmt.Println(\"幸運\")\n```\n\n還有一段文字。"

func TestSendStreams(t *testing.T) {
	m := &fakeModel{reply: says(markdownReply, 3), pace: 3 * time.Millisecond}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()

	r := v.send("今天忘記帶傘")
	if r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.errLine)
	}
	if len(r.progress) < 3 {
		t.Errorf("%d progress events; want the reply to stream in steps", len(r.progress))
	}
	// Committed blocks are sent once, in order.
	next := 0
	for _, p := range r.progress {
		if p.K != next {
			t.Fatalf("progress k=%d, want %d", p.K, next)
		}
		next += len(p.B)
	}
	if next == 0 {
		t.Errorf("no block was committed while streaming")
	}
	d := r.done
	if d.Partial || d.Error != "" || d.Note != "" {
		t.Errorf("done: %+v", d)
	}
	if !strings.Contains(d.HTML, "<strong>完全是 Lucky Vicky 呀!</strong>") || !strings.Contains(d.HTML, "<pre") ||
		!strings.Contains(d.HTML, "style=\"color:") {
		t.Errorf("final HTML is not the highlighted render: %s", d.HTML)
	}
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description, "user:今天忘記帶傘"}
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("the model got %q, want %q", got, want)
	}

	v.send("還有呢？")
	want = append(want, "assistant:"+markdownReply, "user:還有呢？")
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("second request: the model got %q, want %q", got, want)
	}
	// A reload shows the conversation, rendered by the server.
	page := v.page()
	if count(page, `class="msg user"`) != 2 || count(page, "<strong>完全是 Lucky Vicky 呀!</strong>") != 2 {
		t.Errorf("the reloaded page does not show the conversation:\n%s", page)
	}
}

func TestVisitorsAreIsolated(t *testing.T) {
	m := &fakeModel{reply: func(n int, msgs []llm.Message) []string {
		return []string{fmt.Sprintf("you said %d things", len(msgs)/2)}
	}}
	_, ts := newTestServer(t, m)
	a, b := newVisitor(t, ts.URL), newVisitor(t, ts.URL)
	a.page()
	b.page()
	a.send("A 的秘密")
	a.send("A again")
	b.send("B here")
	if got := contents(m.lastCall()); slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "A ") }) || len(got) != 3 {
		t.Errorf("B's request holds A's conversation: %q", got)
	}
	if page := b.page(); strings.Contains(page, "A 的秘密") {
		t.Errorf("B sees A's message")
	}
	if page := a.page(); !strings.Contains(page, "A 的秘密") || strings.Contains(page, "B here") {
		t.Errorf("A's page is wrong")
	}
	// A visitor without a session cannot post (and gets a readable line).
	c := newVisitor(t, ts.URL)
	r := c.send("hi")
	if r.status != http.StatusConflict || !strings.Contains(r.errLine, "Reload") {
		t.Errorf("no session: %d %q", r.status, r.errLine)
	}
}

func TestStop(t *testing.T) {
	m := &fakeModel{reply: says("第一段，慢慢來。", 2), block: true, started: make(chan struct{}, 1)}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	got := make(chan result, 1)
	go func() { got <- v.send("慢慢說") }()
	<-m.started
	time.Sleep(50 * time.Millisecond) // let the deltas arrive
	if r := v.send("another"); r.status != http.StatusConflict {
		t.Errorf("a second message while a reply streams: %d %q", r.status, r.errLine)
	}
	res := v.post("/api/stop", nil)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stop: %s", res.Status)
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the reply")
	}
	if !r.done.Partial || r.done.Note != "Cut short: stopped." || !strings.Contains(r.done.HTML, "第一段，慢慢來。") {
		t.Errorf("stopped reply: %+v", r.done)
	}
	// The next message works, and the model sees the partial reply.
	m.set(func(m *fakeModel) { m.block = false; m.reply = says("好", 1) })
	if r := v.send("繼續"); r.status != 200 || r.done.HTML != "<p>好</p>\n" {
		t.Fatalf("after Stop: %d %+v", r.status, r.done)
	}
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description,
		"user:慢慢說", "assistant:第一段，慢慢來。", "user:繼續"}
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("after Stop the model got %q", got)
	}
	if l := v.logHTML(); !strings.Contains(l, `class="msg bot partial"`) || !strings.Contains(l, "Cut short: stopped.") {
		t.Errorf("the log does not mark the cut reply:\n%s", l)
	}
	// Stop with no reply streaming is harmless.
	res = v.post("/api/stop", nil)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("idle stop: %s", res.Status)
	}
}

func TestStopBeforeAnyText(t *testing.T) {
	m := &fakeModel{block: true, started: make(chan struct{}, 1)}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	got := make(chan result, 1)
	go func() { got <- v.send("問題一") }()
	<-m.started
	v.post("/api/stop", nil).Body.Close()
	r := <-got
	if r.done.Partial || r.done.HTML != "" || r.done.Note != "Stopped before the reply began." {
		t.Errorf("done: %+v", r.done)
	}
	// The question stays on the page; the model is not sent it again with the next one.
	m.set(func(m *fakeModel) { m.block = false; m.reply = says("答", 1) })
	v.send("問題二")
	if got := contents(m.lastCall()); slices.Contains(got, "user:問題一") {
		t.Errorf("the unanswered question was sent again: %q", got)
	}
	if l := v.logHTML(); !strings.Contains(l, "問題一") || !strings.Contains(l, "Stopped before the reply began.") {
		t.Errorf("log:\n%s", l)
	}
}

func TestRetry(t *testing.T) {
	m := &fakeModel{reply: func(n int, _ []llm.Message) []string { return []string{fmt.Sprintf("answer %d", n)} }}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	if r := v.ask("/api/retry", nil); r.status != http.StatusConflict || r.errLine == "" {
		t.Errorf("retry with no question: %d %q", r.status, r.errLine)
	}
	v.send("q1")
	v.send("q2")
	r := v.ask("/api/retry", nil)
	if r.status != 200 || r.done.HTML != "<p>answer 3</p>\n" {
		t.Fatalf("retry: %d %+v", r.status, r.done)
	}
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description,
		"user:q1", "assistant:answer 1", "user:q2"}
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("retry sent %q, want %q", got, want)
	}
	l := v.logHTML()
	if strings.Contains(l, "answer 2") || count(l, "q2") != 1 || !strings.Contains(l, "answer 3") {
		t.Errorf("after retry the log is:\n%s", l)
	}
}

func TestUndoAndClear(t *testing.T) {
	m := &fakeModel{reply: func(n int, _ []llm.Message) []string { return []string{fmt.Sprintf("answer %d", n)} }}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	if line, code := jsonLog(t, v.post("/api/undo", nil)); code != http.StatusConflict || line == "" {
		t.Errorf("undo with nothing: %d %q", code, line)
	}
	v.send("q1")
	v.send("q2")
	l, code := jsonLog(t, v.post("/api/undo", nil))
	if code != 200 || strings.Contains(l, "q2") || !strings.Contains(l, "q1") || !strings.Contains(l, "greeting") {
		t.Fatalf("undo: %d\n%s", code, l)
	}
	v.send("q3")
	want := []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description,
		"user:q1", "assistant:answer 1", "user:q3"}
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("after undo the model got %q", got)
	}
	l, code = jsonLog(t, v.post("/api/clear", nil))
	if code != 200 || strings.Contains(l, "q1") || count(l, "有什麼不順的事") != 1 || count(l, `class="msg`) != 1 {
		t.Fatalf("clear: %d\n%s", code, l)
	}
	// Clear twice: still one greeting.
	jsonLog(t, v.post("/api/clear", nil))
	v.send("q4")
	want = []string{"system:" + testPersona.Character, "assistant:" + testPersona.Description, "user:q4"}
	if got := contents(m.lastCall()); !slices.Equal(got, want) {
		t.Errorf("after clear the model got %q", got)
	}
	if page := v.page(); count(page, "有什麼不順的事") != 1 {
		t.Errorf("greeting duplicated")
	}
}

func TestModelErrors(t *testing.T) {
	m := &fakeModel{reply: says("部分回答", 2), err: errors.New("POST https://api.example/v1/chat/completions: 503 Service Unavailable\n{\"error\": {\"message\": \"upstream down\"}}")}
	_, ts := newTestServer(t, m)
	v := newVisitor(t, ts.URL)
	v.page()
	r := v.send("q1")
	if r.status != 200 || !r.done.Partial || r.done.Error != "POST https://api.example/v1/chat/completions: 503 Service Unavailable" ||
		!strings.Contains(r.done.HTML, "部分回答") {
		t.Errorf("error after text: %+v", r.done)
	}
	// An error before any text: the question stays, with the error line.
	m.set(func(m *fakeModel) { m.reply = nil; m.err = errors.New("OPENAI_API_KEY is not set") })
	r = v.send("q2")
	if r.status != 200 || r.done.Error != "OPENAI_API_KEY is not set" || r.done.HTML != "" {
		t.Errorf("error before text: %+v", r.done)
	}
	l := v.logHTML()
	if !strings.Contains(l, `<div class="msg bot failed"><p class="note">⚠ OPENAI_API_KEY is not set</p></div>`) {
		t.Errorf("log does not show the error line:\n%s", l)
	}
	// The conversation stays usable, and Retry asks the failed question again.
	m.set(func(m *fakeModel) { m.err = nil; m.reply = says("好了", 2) })
	r = v.ask("/api/retry", nil)
	if r.status != 200 || r.done.Error != "" || r.done.HTML != "<p>好了</p>\n" {
		t.Fatalf("retry after the error: %d %+v", r.status, r.done)
	}
	if got := contents(m.lastCall()); got[len(got)-1] != "user:q2" || slices.Contains(got[:len(got)-1], "user:q2") {
		t.Errorf("retry sent %q", got)
	}
	if l := v.logHTML(); strings.Contains(l, "OPENAI_API_KEY") {
		t.Errorf("the retried question still shows its old error")
	}
	// A panicking model is one line too, with no stack trace.
	m.set(func(m *fakeModel) { m.panic = true })
	r = v.send("q3")
	if r.done.Error != errPanicked.Error() || strings.Contains(r.raw, "goroutine") {
		t.Errorf("panic: %+v", r.done)
	}
	m.set(func(m *fakeModel) { m.panic = false })
	if r := v.send("q4"); r.done.Error != "" {
		t.Errorf("after a panic: %+v", r.done)
	}
	// An empty reply is said so.
	m.set(func(m *fakeModel) { m.reply = nil })
	if r := v.send("q5"); r.done.Error != "The model sent an empty reply." {
		t.Errorf("empty reply: %+v", r.done)
	}
}

func TestDescribe(t *testing.T) {
	m := &fakeModel{err: errors.New("429 rate limit")}
	_, ts := newTestServer(t, m, WithDescribe(func(err error) string {
		return "The provider is busy (" + err.Error() + "); try again in a minute.\nsecond line"
	}))
	v := newVisitor(t, ts.URL)
	v.page()
	if r := v.send("q"); r.done.Error != "The provider is busy (429 rate limit); try again in a minute." {
		t.Errorf("described: %q", r.done.Error)
	}
}

func TestReplyTooLong(t *testing.T) {
	m := &fakeModel{reply: says(strings.Repeat("長", 50), 7)}
	_, ts := newTestServer(t, m, WithLimits(Limits{MaxReplyRunes: 20}))
	v := newVisitor(t, ts.URL)
	v.page()
	r := v.send("q")
	if !r.done.Partial || r.done.HTML != "<p>"+strings.Repeat("長", 20)+"</p>\n" || !strings.Contains(r.done.Note, "limit of 20") {
		t.Errorf("long reply: %+v", r.done)
	}
}

// Browsers share cookies between the ports of a host: two bots on one machine must not take
// each other's visitors.
func TestTwoBotsOneBrowser(t *testing.T) {
	m := &fakeModel{reply: says("ok", 1)}
	_, ts1 := newTestServer(t, m)
	_, ts2 := newTestServer(t, m)
	v1 := newVisitor(t, ts1.URL)
	v2 := &visitor{t: t, base: ts2.URL, c: v1.c} // the same cookie jar
	v1.page()
	v1.send("to bot 1")
	v2.page()
	v2.send("to bot 2")
	if p := v1.page(); !strings.Contains(p, "to bot 1") || strings.Contains(p, "to bot 2") {
		t.Errorf("bot 1 lost its visitor's conversation")
	}
}
