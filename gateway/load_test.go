package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
)

// streamRun is one student's stream as the student saw it.
type streamRun struct {
	first  time.Duration // to the first delta
	total  time.Duration
	deltas int
}

// streamOnce sends one streaming Responses request and reads it to the end.
func streamOnce(client *http.Client, url, tok, prompt string) (streamRun, error) {
	req, _ := http.NewRequest("POST", url+"/responses", strings.NewReader(
		fmt.Sprintf(`{"model":"gpt-4.1-mini","input":%q,"stream":true}`, prompt)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return streamRun{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return streamRun{}, fmt.Errorf("status %s", resp.Status)
	}
	var r streamRun
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	completed := false
	for sc.Scan() {
		line := sc.Text()
		if line == "event: response.output_text.delta" {
			if r.deltas == 0 {
				r.first = time.Since(start)
			}
			r.deltas++
		}
		if line == "event: response.completed" {
			completed = true
		}
	}
	r.total = time.Since(start)
	if !completed {
		return r, fmt.Errorf("stream ended without response.completed: %v", sc.Err())
	}
	return r, sc.Err()
}

// round runs n students' streams at once and returns their runs.
func round(b *testing.B, client *http.Client, url string, toks []string) []streamRun {
	runs := make([]streamRun, len(toks))
	var wg sync.WaitGroup
	for i, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := streamOnce(client, url, tok, fmt.Sprintf("Student %d asks: explain slices, maps and goroutines in Go, with an example of each.", i))
			if err != nil {
				b.Error(err)
			}
			runs[i] = r
		}()
	}
	wg.Wait()
	return runs
}

func mean(runs []streamRun) (first, total time.Duration, deltas float64) {
	for _, r := range runs {
		first += r.first
		total += r.total
		deltas += float64(r.deltas)
	}
	n := time.Duration(len(runs))
	return first / n, total / n, deltas / float64(len(runs))
}

// BenchmarkThirtyStudents: 30 students stream at once through the gateway (upstream: the local
// OpenAI-compatible server, pacing its deltas like a hosted model). Reported: what the gateway
// adds per streamed token and to the first token (against the same 30 streams sent straight to
// the upstream), and the throughput; every request must be in the ledger.
func BenchmarkThirtyStudents(b *testing.B) {
	const students = 30
	e := newEnv(b, envOpt{pace: 10 * time.Millisecond, policy: `
models: {allowed: [gpt-4.1-mini]}
max_output_tokens: 400
budgets: {student: {tokens: 100000000, per: day}, class: {usd: 100000, per: day}}
`})
	ctx := context.Background()
	toks := make([]string, students)
	for i := range toks {
		var err error
		if toks[i], err = e.ledger.AddToken(ctx, fmt.Sprintf("student%02d", i)); err != nil {
			b.Fatal(err)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * students
	client := &http.Client{Transport: tr}

	// the baseline: the same load straight to the upstream (it needs the teacher's key), in
	// turn with each round through the gateway, so that both see the same machine load
	direct := make([]string, students)
	for i := range direct {
		direct[i] = teacherKey
	}
	var runs, base []streamRun
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		base = append(base, round(b, client, e.upstream.URL, direct)...)
		start := time.Now()
		runs = append(runs, round(b, client, e.url, toks)...)
		elapsed += time.Since(start)
	}
	b.StopTimer()

	baseFirst, baseTotal, baseDeltas := mean(base)
	first, total, deltas := mean(runs)
	if deltas != baseDeltas {
		b.Fatalf("the gateway changed the replies: %.1f deltas, %.1f direct", deltas, baseDeltas)
	}
	b.ReportMetric(float64(total-baseTotal)/float64(time.Millisecond)/deltas, "added-ms/token")
	b.ReportMetric(float64(first-baseFirst)/float64(time.Millisecond), "added-ms/first-token")
	b.ReportMetric(deltas*float64(len(runs))/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(float64(len(runs))/elapsed.Seconds(), "streams/s")
	b.ReportMetric(float64(total)/float64(time.Millisecond), "ms/stream")
	b.Logf("direct: first %v, stream %v; through the gateway: first %v, stream %v; %.0f deltas a stream",
		baseFirst, baseTotal, first, total, deltas)

	// nothing lost: after a shutdown every stream has its row, with its usage
	if err := e.gw.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	rows := e.rows(b)
	ok := 0
	for _, r := range rows {
		if r.Outcome == ledger.OK && r.OutputTokens > 0 && r.InputTokens > 0 {
			ok++
		}
	}
	if len(rows) != len(runs) || ok != len(runs) {
		b.Fatalf("ledger: %d rows, %d complete, for %d streams", len(rows), ok, len(runs))
	}
}
