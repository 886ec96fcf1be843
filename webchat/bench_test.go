package webchat

import (
	"io"
	"strings"
	"testing"
	"time"
)

// benchReply is a typical long answer: paragraphs, a list, code, a table.
var benchReply = strings.Repeat("## 為什麼這是幸運的事\n\n今天出門忘記帶傘，結果**淋成落湯雞**，可是這讓我發現街角的咖啡店。\n\n"+
	"- 第一，雨中的城市很美\n- 第二，咖啡很香\n- 第三，完全是 Lucky Vicky 呀!\n\n"+
	"```go\nfor i := 0; i < 3; i++ {\n\tfmt.Println(\"幸運\", i)\n}\n```\n\n| 事情 | 幸運指數 |\n|---|---|\n| 淋雨 | 100 |\n\n", 3)

// BenchmarkStreamBytes streams a reply at a model's pace (6 characters every 5 ms, about
// 1,200 characters a second) and reports what reached the page: bytes sent per byte of the
// final HTML (the final render included), and progress events per reply. Resending the whole
// HTML at each event instead would cost about events/2 times the final HTML.
func BenchmarkStreamBytes(b *testing.B) {
	m := &fakeModel{reply: says(benchReply, 6), pace: 5 * time.Millisecond}
	s, ts := newTestServer(b, m, WithLimits(Limits{RequestsPerMinute: 1 << 20, MaxTurns: 1}))
	s.flushInterval = 50 * time.Millisecond // the default
	v := newVisitor(b, ts.URL)
	v.page()
	var sent, final, events int
	b.ResetTimer()
	for range b.N {
		res := v.post("/api/send", map[string]string{"text": "q"})
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := parseResult(b, res, body)
		sent += len(body)
		final += len(r.done.HTML)
		events += len(r.progress)
	}
	b.ReportMetric(float64(sent)/float64(final), "sent/final")
	b.ReportMetric(float64(events)/float64(b.N), "events/reply")
	b.ReportMetric(float64(final)/float64(b.N), "final-B/reply")
}
