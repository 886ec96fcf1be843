//go:build !gonbchat_kernel

package display

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkStream streams the long Chinese answer in 2–8 byte deltas (one delta per token) at
// 50 and 200 tokens/s on a simulated clock (no sleeping), in replace mode, in append mode with
// a page that runs the scripts and answers over comms (the live case), and in append mode with
// no answer (append-noack: no comms or no JavaScript, the safety net stays on), and reports:
//
//	wire-B/op         bytes of the messages sent, as GoNB's iopub content (JSON, <>& escaped)
//	seed-wire-B/op    the same for the seed's approach (whole text as text/markdown at every delta)
//	updates/op        messages sent
//	render-cpu-ns/op  CPU time spent in the Markdown renderer (the thread's CPU clock on Linux)
//	max-lag-ms        worst delay from a delta's arrival to a message showing it (simulated time)
func BenchmarkStream(b *testing.B) {
	src := streamDoc(b)
	deltas := splitDeltas(src, 1)
	seed := seedWire(deltas)
	for _, c := range []struct {
		name string
		mode mode
		opts []simOpt
	}{
		{"replace", modeReplace, nil},
		{"append", modeAppend, []simOpt{withPage(true, ackDelay)}},
		{"append-noack", modeAppend, nil},
	} {
		for _, tps := range []float64{50, 200} {
			b.Run(fmt.Sprintf("%s/%.0ftps", c.name, tps), func(b *testing.B) {
				defer threadCPU()()
				var wire, updates int64
				var render, lag time.Duration
				for b.Loop() {
					r := simulate(b, src, deltas, tps, c.mode, 0, c.opts...)
					st := r.nb().stats
					wire += r.wire()
					updates += int64(st.updates)
					render += st.renderTime
					b.StopTimer()
					lag = max(lag, r.maxLag(250*time.Millisecond))
					b.StartTimer()
				}
				n := float64(b.N)
				b.ReportMetric(float64(wire)/n, "wire-B/op")
				b.ReportMetric(float64(seed), "seed-wire-B/op")
				b.ReportMetric(float64(updates)/n, "updates/op")
				b.ReportMetric(float64(render.Nanoseconds())/n, "render-cpu-ns/op")
				b.ReportMetric(float64(lag)/float64(time.Millisecond), "max-lag-ms")
			})
		}
	}
}
