package display

import "time"

// Clock is the time source a Cell throttles with. The default is the real clock; tests and
// benchmarks inject a simulated one with WithClock, so no test ever sleeps.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a simulated clock, from the goroutine that
	// advances time) once d has elapsed, unless the returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// WithClock makes the cell use c for throttling (simulated time in tests and benchmarks).
func WithClock(c Clock) Option { return func(cell *Cell) { cell.clock = c } }

// cpuNow measures the renderer's cost (Stats.RenderTime). It is monotonic wall time; the
// benchmarks replace it with the thread's CPU time.
var cpuNow = func() time.Duration { return time.Since(processStart) }

var processStart = time.Now()
