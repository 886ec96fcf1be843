package mirror

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// sseWriter writes server-sent events, one Write per event.
type sseWriter struct {
	ctx     context.Context
	w       http.ResponseWriter
	seq     int // next sequence_number
	withSeq bool
}

func newSSEWriter(ctx context.Context, w http.ResponseWriter, withSeq bool) *sseWriter {
	s := &sseWriter{ctx: ctx, w: w, withSeq: withSeq}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s.flush()
	return s
}

func (s *sseWriter) flush() {
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// event writes "event: typ" and the JSON of v, with sequence_number appended when the stream
// numbers its events (Responses API).
func (s *sseWriter) event(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if s.withSeq {
		b = apiwire.WithSequence(b, s.seq)
	}
	s.seq++
	return s.raw(apiwire.Event(typ, b))
}

// raw writes pre-framed bytes as one event.
func (s *sseWriter) raw(b []byte) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.flush()
	return nil
}

// pause waits d between deltas; it fails when the client went away.
func (s *sseWriter) pause(d time.Duration) error {
	if !apiwire.Sleep(s.ctx, d) {
		return s.ctx.Err()
	}
	return nil
}

// testHookStreamEnd, set by tests, sees how each stream ended (nil: completely).
var testHookStreamEnd atomic.Pointer[func(error)]

// finishStream ends a stream. An error (the client went away, a write failed) just stops it:
// there is no one left to tell.
func finishStream(err error) {
	if hook := testHookStreamEnd.Load(); hook != nil {
		(*hook)(err)
	}
}

// chunkSizes is the deterministic cycle of delta sizes in bytes.
var chunkSizes = [...]int{4, 6, 3, 8, 5, 2, 7, 4, 5}

// splitDeltas cuts s into deltas of 2-8 bytes, never splitting a UTF-8
// rune (only a text shorter than 2 bytes gives a shorter delta).
func splitDeltas(s string) []string {
	var out []string
	for i := 0; len(s) > 0; i++ {
		n := min(chunkSizes[i%len(chunkSizes)], len(s))
		n = runeBoundary(s, n)
		if rem := len(s) - n; rem == 1 { // no 1-byte tail
			if n+1 <= 8 {
				n++
			} else {
				_, size := utf8.DecodeLastRuneInString(s[:n])
				n -= size
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// runeBoundary moves n to a rune boundary of s: forward if the delta stays
// within 8 bytes, else back (keeping at least 2 bytes when it can).
func runeBoundary(s string, n int) int {
	if n >= len(s) || utf8.RuneStart(s[n]) {
		return n
	}
	f := n
	for f < len(s) && !utf8.RuneStart(s[f]) {
		f++
	}
	if f <= 8 {
		return f
	}
	b := n
	for b > 0 && !utf8.RuneStart(s[b]) {
		b--
	}
	if b == 0 {
		return f
	}
	return b
}
