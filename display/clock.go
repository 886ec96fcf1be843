//go:build !gonbchat_kernel

package display

import "time"

// clock is the time source a Cell throttles with: the real clock, or a simulated one in tests
// and benchmarks, so that no test ever sleeps.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a simulated clock, from the goroutine that
	// advances time) once d has elapsed, unless the returned timer is stopped first.
	AfterFunc(d time.Duration, f func()) timer
}

// timer is a pending AfterFunc call.
type timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

// cpuNow measures the renderer's cost (stats.renderTime). It is monotonic wall time; the
// benchmarks replace it with the thread's CPU time.
var cpuNow = func() time.Duration { return time.Since(processStart) }

var processStart = time.Now()
