package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/tidwall/sjson"

	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/inprocess"
)

// errStopped tells the mirror that a fault ended its reply: it stops writing, as when a client
// goes away.
var errStopped = errors.New("openaitest: the reply was ended by a fault")

// ending is how a reply hit by a fault ends once the mirror has returned.
type ending int

const (
	endClean ending = iota // the handler returns: the body ends (cleanly, or with the client's cancel)
	endDrop                // the connection is dropped: the client reads an unexpected EOF
	endReset               // the connection is reset
)

// faultWriter applies a Fault's in-stream effects to the mirror's reply, event by event: it sits
// between the mirror and the client like a misbehaving server or proxy would.
type faultWriter struct {
	w       http.ResponseWriter
	ctx     context.Context
	f       *Fault
	chat    bool // Chat Completions framing (no event: lines, no sequence numbers)
	started bool
	sse     bool   // the reply is an event stream
	buf     []byte // the start of an event not yet complete
	events  int    // events passed to the client
	created []byte // the data of response.created, the base of response.failed
	stopped bool
	ending  ending
}

func newFaultWriter(w http.ResponseWriter, r *http.Request, f *Fault) *faultWriter {
	return &faultWriter{w: w, ctx: r.Context(), f: f,
		chat: strings.TrimSuffix(r.URL.Path, "/") == "/v1/chat/completions"}
}

func (fw *faultWriter) Header() http.Header { return fw.w.Header() }

// Unwrap lets http.ResponseController reach the connection.
func (fw *faultWriter) Unwrap() http.ResponseWriter { return fw.w }

func (fw *faultWriter) Flush() { flush(fw.w) }

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func (fw *faultWriter) WriteHeader(status int) {
	if fw.started {
		return
	}
	fw.started = true
	fw.sse = status == http.StatusOK && strings.HasPrefix(fw.w.Header().Get("Content-Type"), "text/event-stream")
	fw.w.WriteHeader(status)
	if !fw.sse && fw.f.Stall > 0 {
		flush(fw.w)
		if !apiwire.Sleep(fw.ctx, fw.f.Stall) {
			fw.stopped = true
		}
	}
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if !fw.started {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.stopped {
		return 0, errStopped
	}
	if !fw.sse {
		return fw.w.Write(p)
	}
	fw.buf = append(fw.buf, p...)
	for {
		i := bytes.Index(fw.buf, []byte("\n\n"))
		if i < 0 {
			return len(p), nil
		}
		ev := bytes.Clone(fw.buf[:i+2])
		fw.buf = fw.buf[i+2:]
		if err := fw.event(ev); err != nil {
			fw.stopped, fw.buf = true, nil
			return 0, err
		}
	}
}

// event passes one complete event to the client, or applies the fault in its place.
func (fw *faultWriter) event(ev []byte) error {
	f, n := fw.f, fw.events
	if f.Stall > 0 && n == f.AfterEvents && !apiwire.Sleep(fw.ctx, f.Stall) {
		return fw.ctx.Err()
	}
	if f.StreamError && n == fw.errorAt() {
		fw.streamError()
		return errStopped
	}
	name, data := parseEvent(ev)
	if f.Malformed != 0 && n == f.AfterEvents {
		switch f.Malformed {
		case NotJSON:
			data = []byte("upstream connect error or disconnect/reset before headers. reset reason: connection termination")
		case TruncatedJSON:
			data = data[:len(data)/2]
		}
		fw.write(apiwire.Event(name, data))
		return errStopped
	}
	if n == 0 && !fw.chat {
		fw.created = data
	}
	if err := fw.write(ev); err != nil {
		return err
	}
	fw.events++
	switch {
	case f.DropAfterEvents > 0 && fw.events >= f.DropAfterEvents:
		fw.ending = endDrop
		return errStopped
	case f.ResetAfterEvents > 0 && fw.events >= f.ResetAfterEvents:
		fw.ending = endReset
		return errStopped
	}
	return nil
}

func (fw *faultWriter) write(b []byte) error {
	if _, err := fw.w.Write(b); err != nil {
		return err
	}
	flush(fw.w)
	return nil
}

// parseEvent splits a framed event into its event: name and its data.
func parseEvent(ev []byte) (name string, data []byte) {
	for line := range strings.SplitSeq(strings.TrimRight(string(ev), "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = v
		} else if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, v...)
		}
	}
	return name, data
}

// errorAt is the number of events before a StreamError.
func (fw *faultWriter) errorAt() int {
	switch {
	case fw.f.AfterEvents > 0:
		return fw.f.AfterEvents
	case fw.chat:
		return 1 // the role chunk
	default:
		return 2 // response.created, response.in_progress
	}
}

// streamError writes the fault's in-stream error in its shape.
func (fw *faultWriter) streamError() {
	e := fw.f.streamError()
	if fw.chat {
		b, _ := json.Marshal(apiwire.ErrorBody{Error: e.api().Object()})
		fw.write(apiwire.Event("", b))
		return
	}
	seq := fw.events
	if fw.f.ErrorShape == FlatError {
		b, _ := json.Marshal(flatErrorEvent{Type: "error", Code: nullable(e.Code), Message: e.Message, Param: nullable(e.Param)})
		fw.write(apiwire.Event("error", apiwire.WithSequence(b, seq)))
		return
	}
	b, _ := json.Marshal(nestedErrorEvent{Type: "error", Error: e.api().Object()})
	if fw.write(apiwire.Event("error", apiwire.WithSequence(b, seq))) != nil || fw.created == nil {
		return
	}
	// response.failed is the response of response.created, failed.
	code := e.Code
	if code == "" {
		code = e.Type
	}
	failed, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, e.Message})
	b, err := sjson.SetBytes(fw.created, "type", "response.failed")
	if err == nil {
		b, err = sjson.SetBytes(b, "response.status", "failed")
	}
	if err == nil {
		b, err = sjson.SetRawBytes(b, "response.error", failed)
	}
	if err == nil {
		b, err = sjson.SetBytes(b, "sequence_number", seq+1)
	}
	if err == nil {
		fw.write(apiwire.Event("response.failed", b))
	}
}

type nestedErrorEvent struct {
	Type  string              `json:"type"`
	Error apiwire.ErrorObject `json:"error"`
}

type flatErrorEvent struct {
	Type    string  `json:"type"`
	Code    *string `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// end finishes the reply once the mirror has returned: it drops or resets the connection when
// the fault says so.
func (fw *faultWriter) end() {
	switch fw.ending {
	case endDrop:
		panic(http.ErrAbortHandler)
	case endReset:
		resetConnection(fw.w)
	}
}

// resetConnection resets the client's connection: through inprocess.Transport its read fails
// with ECONNRESET; on a port the TCP connection is closed with an RST (SO_LINGER 0).
func resetConnection(w http.ResponseWriter) {
	if rs, ok := w.(inprocess.Resetter); ok {
		rs.ResetConnection()
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // cannot reach the connection: drop it
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
