package notebooks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// benchNotebook is the notebook BenchmarkCells runs. Each code cell it measures names what it is
// in its metadata, "gonbchat_bench": one of benchKinds.
var benchNotebook = filepath.Join("testdata", "bench.ipynb")

// benchKinds are the cells of the benchmark notebook, in order:
//
//   - hello-before: `fmt.Println("hello N")` before gonbchat is imported (a new program each time);
//   - decl: the import and `var chat = chatcell.New(...)`, which GoNB keeps for every later cell;
//   - hello-after: the same hello cells after it: they now link and initialise gonbchat;
//   - ask: `chat.Ask(...)` (the Responses API chat, offline mirror model);
//   - hist: `hist.Ask(...)` of a ChatWithHistList (the first one also declares it).
var benchKinds = []string{"hello-before", "decl", "hello-after", "ask", "hist"}

// chatKinds are the kinds whose time to first display is measured.
var chatKinds = []string{"ask", "hist"}

// cellTiming is what one cell of the benchmark notebook cost, in seconds, measured on the
// messages the kernel published: from the cell's execute_input (the kernel started on it) to the
// kernel's idle status, and to the cell's first display_data.
type cellTiming struct {
	index        int
	kind         string
	total        float64
	firstDisplay float64 // -1 when the cell displayed nothing
}

// benchTimings extracts the timings of the measured cells of a run of the benchmark notebook.
func benchTimings(r *run) ([]cellTiming, error) {
	var out []cellTiming
	for _, c := range r.Cells {
		var meta struct {
			Bench string `json:"gonbchat_bench"`
		}
		if len(c.Metadata) > 0 {
			if err := json.Unmarshal(c.Metadata, &meta); err != nil {
				return nil, fmt.Errorf("cell %d: metadata: %v", c.Index, err)
			}
		}
		if meta.Bench == "" {
			continue
		}
		if !slices.Contains(benchKinds, meta.Bench) {
			return nil, fmt.Errorf("cell %d: unknown gonbchat_bench %q (want one of %s)", c.Index, meta.Bench, strings.Join(benchKinds, ", "))
		}
		if c.Status != "ok" || c.IdleT <= 0 {
			return nil, fmt.Errorf("cell %d (%s): status %q, idle after %.3fs: not measured", c.Index, meta.Bench, c.Status, c.IdleT)
		}
		start := 0.0 // the execute request, if the kernel sent no execute_input
		for _, m := range c.Messages {
			if m.MsgType == "execute_input" {
				start = m.T
				break
			}
		}
		ct := cellTiming{index: c.Index, kind: meta.Bench, total: c.IdleT - start, firstDisplay: -1}
		for _, m := range c.Messages {
			if m.MsgType == "display_data" && m.T >= start {
				ct.firstDisplay = m.T - start
				break
			}
		}
		if ct.firstDisplay < 0 && slices.Contains(chatKinds, ct.kind) {
			return nil, fmt.Errorf("cell %d (%s): no display_data: no time to first display", c.Index, ct.kind)
		}
		out = append(out, ct)
	}
	for _, k := range benchKinds {
		if !slices.ContainsFunc(out, func(ct cellTiming) bool { return ct.kind == k }) {
			return nil, fmt.Errorf("no measured %q cell in the run", k)
		}
	}
	return out, nil
}

// benchMetrics are the reported metrics, in milliseconds unless the unit is a ratio ("x/y").
type benchMetric struct {
	value float64
	unit  string
}

// benchMetrics computes the medians and the goal's two numbers from the timings of one or more
// runs: how much more a cell costs after gonbchat is imported (goal: at most 300 ms more than a
// hello cell), and how soon a chat cell shows something (goal: at most 600 ms), each also as a
// ratio to the hello cell before the import.
func benchMetrics(ts []cellTiming) []benchMetric {
	total := map[string][]float64{}
	var firsts []float64
	firstBy := map[string][]float64{}
	for _, t := range ts {
		total[t.kind] = append(total[t.kind], t.total*1000)
		if slices.Contains(chatKinds, t.kind) {
			firstBy[t.kind] = append(firstBy[t.kind], t.firstDisplay*1000)
			firsts = append(firsts, t.firstDisplay*1000)
		}
	}
	var ms []benchMetric
	for _, k := range benchKinds {
		ms = append(ms, benchMetric{median(total[k]), k + "-ms"})
	}
	for _, k := range chatKinds {
		ms = append(ms, benchMetric{median(firstBy[k]), k + "-first-display-ms"})
	}
	before, after, first := median(total["hello-before"]), median(total["hello-after"]), median(firsts)
	ms = append(ms,
		benchMetric{after - before, "after-minus-before-ms"},
		benchMetric{after / before, "after/before"},
		benchMetric{first, "first-display-ms"},
		benchMetric{first / before, "first-display/before"},
	)
	return ms
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// BenchmarkCells runs testdata/bench.ipynb on the real GoNB kernel (a fresh kernel per
// iteration, warm build cache, offline: no API key) and reports the median time of each kind of
// cell, the time to a chat cell's first display, and the goal's numbers:
//
//   - after-minus-before-ms: a hello cell after `var chat = chatcell.New(...)` minus a hello cell
//     before any gonbchat import, in the same kernel (goal: <= 300), and after/before;
//   - first-display-ms: from a chat cell's execute_input to its first display_data, the
//     "thinking…" indicator (goal: <= 600), and first-display/before.
//
// Every cell is also checked as TestNotebooks checks the lessons (status, errors, its
// "gonbchat"."expect" metadata), so a broken cell fails the benchmark instead of timing it.
// Skipped with -short. Run it alone:
//
//	go test ./notebooks -run '^$' -bench BenchmarkCells -benchtime 1x
//
// The kernel inherits the environment: GOPROXY=off measures a machine without network (GoNB runs
// `go get` before every build, which asks the module proxy about every dependency).
func BenchmarkCells(b *testing.B) {
	requireKernel(b)
	root := filepath.Dir(mustAbs(b, "."))
	var all []cellTiming
	for b.Loop() {
		r := runNotebook(b, benchNotebook, root)
		checkBenchRun(b, r)
		ts, err := benchTimings(r)
		if err != nil {
			b.Fatal(err)
		}
		logTimings(b, ts)
		all = append(all, ts...)
	}
	for _, m := range benchMetrics(all) {
		b.ReportMetric(m.value, m.unit)
	}
}

// checkBenchRun applies TestNotebooks' checks (checkRun) to every cell, without its log line per
// cell: `go test` keeps only the first lines of a benchmark's log.
func checkBenchRun(b *testing.B, r *run) {
	b.Helper()
	if r.NBFormatError != "" || r.Aborted != "" {
		b.Fatalf("%s: nbformat: %q, aborted: %q", benchNotebook, r.NBFormatError, r.Aborted)
	}
	if got, want := len(r.Cells), codeCells(readNotebook(b, benchNotebook)); got != want {
		b.Fatalf("%d code cells were run, the notebook has %d", got, want)
	}
	for i := range r.Cells {
		for _, f := range checkCell(&r.Cells[i]) {
			b.Errorf("cell %d (%s): %s", r.Cells[i].Index, firstLine(r.Cells[i].Source), f)
		}
	}
	if b.Failed() {
		b.FailNow()
	}
}

// logTimings logs one line per kind of cell: each cell's time, and each chat cell's time to its
// first display, in milliseconds, with the machine's load (the benchmark shares the CPUs).
func logTimings(b *testing.B, ts []cellTiming) {
	for _, k := range benchKinds {
		var line strings.Builder
		fmt.Fprintf(&line, "%-12s", k)
		for _, t := range ts {
			if t.kind != k {
				continue
			}
			fmt.Fprintf(&line, " %5.0f", t.total*1000)
			if t.firstDisplay >= 0 && slices.Contains(chatKinds, k) {
				fmt.Fprintf(&line, " (%.0f)", t.firstDisplay*1000)
			}
		}
		b.Log(line.String())
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("ms per cell, (first display); load average %s", strings.Join(strings.Fields(string(l))[:3], " "))
	}
}

// TestBenchTimings checks, without a kernel, how BenchmarkCells reads a run: a cell's time is from
// its execute_input to idle, the first display is the first display_data after execute_input, and
// the goal's numbers come from the medians.
func TestBenchTimings(t *testing.T) {
	cell := func(i int, kind string, idle float64, msgs ...message) cellRun {
		meta := json.RawMessage(`{"gonbchat_bench":"` + kind + `"}`)
		return cellRun{Index: i, Metadata: meta, Status: "ok", IdleT: idle, Messages: msgs}
	}
	msg := func(typ string, t float64) message { return message{MsgType: typ, T: t} }
	in := func(t float64) message { return msg("execute_input", t) }
	r := &run{Cells: []cellRun{
		{Index: 0, Status: "ok", IdleT: 0.05}, // the setup cell: not measured
		cell(1, "hello-before", 0.25, in(0.05), msg("stream", 0.2)),
		cell(2, "hello-before", 0.35, in(0.05)),
		cell(3, "hello-before", 0.45, in(0.05)),
		cell(4, "decl", 2.0, in(0.0)),
		cell(5, "hello-after", 1.1, in(0.1)),
		cell(6, "hello-after", 0.6, in(0.1)),
		cell(7, "ask", 3.0, in(0.1), msg("stream", 0.3), msg("display_data", 0.5), msg("update_display_data", 0.6), msg("display_data", 0.9)),
		cell(8, "hist", 2.0, in(0.0), msg("update_display_data", 0.2), msg("display_data", 0.7)),
	}}
	ts, err := benchTimings(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 8 {
		t.Fatalf("got %d measured cells, want 8: %+v", len(ts), ts)
	}
	approx := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if got := ts[0]; got.index != 1 || got.kind != "hello-before" || !approx(got.total, 0.2) || got.firstDisplay != -1 {
		t.Errorf("hello cell: %+v, want index 1, total 0.2 s from execute_input, no display", got)
	}
	if got := ts[6]; !approx(got.total, 2.9) || !approx(got.firstDisplay, 0.4) {
		t.Errorf("ask cell: %+v, want total 2.9 s, first display_data 0.4 s after execute_input", got)
	}
	if got := ts[7]; !approx(got.firstDisplay, 0.7) {
		t.Errorf("hist cell: %+v, want first display 0.7 s (an update is not a first display)", got)
	}
	want := map[string]float64{
		"hello-before-ms": 300, "decl-ms": 2000, "hello-after-ms": 750, "ask-ms": 2900, "hist-ms": 2000,
		"ask-first-display-ms": 400, "hist-first-display-ms": 700,
		"after-minus-before-ms": 450, "after/before": 2.5, "first-display-ms": 550, "first-display/before": 550.0 / 300,
	}
	got := map[string]float64{}
	for _, m := range benchMetrics(ts) {
		got[m.unit] = m.value
	}
	for unit, w := range want {
		if g, ok := got[unit]; !ok || g-w > 1e-6 || w-g > 1e-6 {
			t.Errorf("%s = %v, want %v", unit, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got metrics %v, want %v", got, want)
	}

	for name, bad := range map[string]*run{
		"timeout":      {Cells: []cellRun{{Index: 1, Metadata: json.RawMessage(`{"gonbchat_bench":"ask"}`), Status: "timeout"}}},
		"unknown kind": {Cells: []cellRun{cell(1, "helo", 0.3)}},
		"no display":   {Cells: []cellRun{cell(1, "ask", 0.3, in(0.1), msg("stream", 0.2))}},
		"missing kind": {Cells: r.Cells[:4]},
	} {
		if _, err := benchTimings(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
