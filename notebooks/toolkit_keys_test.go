package notebooks_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/openaitest"
)

// TestToolkitNotebookWithSeveralKeys runs lesson 002 as a student with several keys does:
// OPENAI_API_KEYS (the lesson's pool cells), OPENAI_API_KEY and OPENAI_BASE_URL pointing at an
// OpenAI-compatible server on a real port. The pool cells must then talk to that server with the
// pool's keys in turn, fail over from a key answered 429, show keys by fingerprint only, and the
// rest of the lesson must still run (the cancelled stream cut short, the poets' typed remarks).
func TestToolkitNotebookWithSeveralKeys(t *testing.T) {
	requireKernel(t)
	keys := []string{
		"sk-pool-aaaaaaaaaaaaaaaaaaaaaaaa0001",
		"sk-pool-bbbbbbbbbbbbbbbbbbbbbbbb0002",
		"sk-pool-cccccccccccccccccccccccc0003",
	}
	srv := openaitest.NewServer(openaitest.WithAPIKeys(keys...), openaitest.WithPace(5*time.Millisecond))
	defer srv.Close()
	// The first request of the lesson's pool AK2 goes with keys[0]: it is rate limited.
	srv.Handler().InjectFault(openaitest.Fault{Key: keys[0], Status: 429, RetryAfter: 30 * time.Second})
	const nb = "openai2-toolkit.ipynb"
	r := runNotebook(t, nb, mustAbs(t, "."), "OPENAI_BASE_URL="+srv.URL, "OPENAI_API_KEY="+keys[2],
		"OPENAI_API_KEYS="+strings.Join(keys, ","))
	if r.Aborted != "" {
		t.Fatalf("the run was aborted: %s", r.Aborted)
	}
	text := func(c cellRun) string {
		var b strings.Builder
		for _, m := range c.Messages {
			if m.MsgType == "error" {
				t.Errorf("cell %d failed: %s %s", c.Index, m.Content.Ename, m.Content.Evalue)
			}
			j, _ := json.Marshal(m.Content)
			b.Write(j)
		}
		return b.String()
	}
	var pool, cancelled, poets string
	for _, c := range r.Cells {
		s := text(c)
		for _, k := range keys {
			if strings.Contains(s, k) || strings.Contains(s, k[8:20]) {
				t.Errorf("cell %d shows an API key: %.200s", c.Index, s)
			}
		}
		switch {
		case strings.Contains(c.Source, `Carl.Ask("你好")`):
			pool = s
		case strings.Contains(c.Source, "n == 3"):
			cancelled = s
		case strings.Contains(c.Source, `chatcell.Says("苏轼", "李清照")`):
			poets = s
		}
	}
	fp := func(i int) string { return secret.Fingerprint(keys[i]) }
	for _, want := range []string{"Carl 的回复来自： live", fp(0) + "  状态 cooling", fp(1) + "  状态 ready  已使用 1 次"} {
		if !strings.Contains(pool, want) {
			t.Errorf("the key pool cell does not show %q: %.600s", want, pool)
		}
	}
	if !strings.Contains(cancelled, "被截断=true") {
		t.Errorf("the cancelled stream was not cut short: %.400s", cancelled)
	}
	if !strings.Contains(poets, "苏轼 → 李清照：") || !strings.Contains(poets, "苏轼 → 杜甫：") {
		t.Errorf("the poets' remarks: %.400s", poets)
	}

	// Which key each request carried: the pool cells used the pool's keys in turn (AK2 failed
	// over from keys[0] to keys[1]; AK6, a pool of its own, started at keys[0]); every other
	// chat used OPENAI_API_KEY.
	var byKey [3]int
	var order []string
	for _, req := range srv.Handler().Requests() {
		if req.Method != "POST" {
			continue
		}
		for i, k := range keys {
			if req.Key == k {
				byKey[i]++
				if i < 2 {
					order = append(order, fp(i))
				}
			}
		}
	}
	t.Logf("requests by key: %v; pool keys in order %v", byKey, order)
	if want := []string{fp(0), fp(1), fp(0)}; strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("pool requests went with keys %v, want %v (429, failover, then AK6's first key)", order, want)
	}
	if byKey[2] < 20 {
		t.Errorf("only %d requests with OPENAI_API_KEY", byKey[2])
	}
}
