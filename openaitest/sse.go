package openaitest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// errDropped reports that a fault cut the stream: the caller must abort the
// connection (panic(http.ErrAbortHandler)) so the client sees it drop.
var errDropped = errors.New("openaitest: stream dropped by fault")

// sseWriter writes server-sent events and applies the per-stream faults.
type sseWriter struct {
	ctx       context.Context
	w         http.ResponseWriter
	seq       int // next sequence_number
	events    int // events written
	dropAfter int // >0: drop the connection after this many events
	withSeq   bool
}

func newSSEWriter(ctx context.Context, w http.ResponseWriter, f *Fault, withSeq bool) *sseWriter {
	s := &sseWriter{ctx: ctx, w: w, withSeq: withSeq}
	if f != nil {
		s.dropAfter = f.DropAfterEvents
	}
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

// event writes "event: typ" and the JSON of v, with sequence_number appended
// when the stream numbers its events (Responses API).
func (s *sseWriter) event(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if s.withSeq && len(b) > 1 && b[len(b)-1] == '}' {
		b = append(b[:len(b)-1], `,"sequence_number":`+strconv.Itoa(s.seq)+`}`...)
	}
	s.seq++
	var buf []byte
	if typ != "" {
		buf = append(buf, "event: "+typ+"\n"...)
	}
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	return s.raw(buf)
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
	s.events++
	if s.dropAfter > 0 && s.events >= s.dropAfter {
		return errDropped
	}
	return nil
}

// pause waits d between deltas; it fails when the client went away.
func (s *sseWriter) pause(d time.Duration) error {
	if !sleepCtx(s.ctx, d) {
		return s.ctx.Err()
	}
	return nil
}

// testHookStreamEnd, set by tests, sees how each stream ended (nil: completely).
var testHookStreamEnd atomic.Pointer[func(error)]

// finishStream turns a stream error into the right ending: a fault's drop
// aborts the connection; other errors (client gone) just stop.
func finishStream(err error) {
	if hook := testHookStreamEnd.Load(); hook != nil {
		(*hook)(err)
	}
	if errors.Is(err, errDropped) {
		panic(http.ErrAbortHandler)
	}
}
