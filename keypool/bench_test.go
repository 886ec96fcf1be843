package keypool

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// okTransport answers every request 200 at once: the benchmarks measure the pool's own cost.
var okTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
})

func benchmarkRoundTrip(b *testing.B, opts ...Option) {
	p, err := New(testKeys(4), opts...)
	if err != nil {
		b.Fatal(err)
	}
	tr := p.Transport(okTransport)
	start := time.Now()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://api.invalid/v1/responses", strings.NewReader(`{"model":"m"}`))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
}

// BenchmarkRoundTripInMemory is the pool's cost per request without a state directory.
func BenchmarkRoundTripInMemory(b *testing.B) { benchmarkRoundTrip(b) }

// BenchmarkRoundTripStateDir is the cost with a state directory: a file lock, a read and an
// atomic (fsynced) write of the state file per request.
func BenchmarkRoundTripStateDir(b *testing.B) { benchmarkRoundTrip(b, WithStateDir(b.TempDir())) }
