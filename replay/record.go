package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// Recorder records every exchange that goes through it into a directory.
type Recorder struct {
	dir  string
	base http.RoundTripper
	now  func() time.Time
	// OnError, if set, is told about a recording that could not be written (the response
	// itself is never affected). Default: nothing.
	OnError func(error)
}

// NewRecorder returns a Recorder writing into dir (created if needed) and sending requests
// with base (http.DefaultTransport if nil).
func NewRecorder(dir string, base http.RoundTripper) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Recorder{dir: dir, base: base, now: time.Now}, nil
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	start := r.now()
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err // a transport error is not an answer: nothing to replay
	}
	rl := requestLine{Kind: "request", Format: Format, Time: start, Method: req.Method, Path: normPath(req.URL.Path), Query: req.URL.RawQuery}
	if len(bytes.TrimSpace(body)) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, body) == nil {
			rl.Body = buf.Bytes()
		} else {
			rl.Text = string(body)
		}
	}
	hdr := http.Header{}
	for k, v := range resp.Header {
		if !dropHeader(k) {
			hdr[k] = v
		}
	}
	headersAt := r.now()
	rec := &recording{
		r:      r,
		name:   fileName(start, req.URL.Path),
		req:    rl,
		resp:   responseLine{Kind: "response", Status: resp.StatusCode, Header: hdr, AfterMS: ms(headersAt.Sub(start))},
		sse:    strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"),
		start:  headersAt,
		source: resp.Body,
	}
	resp.Body = rec
	return resp, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recording is a response body being read by the client and recorded on the way.
type recording struct {
	r      *Recorder
	name   string
	req    requestLine
	resp   responseLine
	sse    bool
	start  time.Time
	source io.ReadCloser

	mu      sync.Mutex
	pending []byte // bytes of an event not yet complete (or the whole body)
	chunks  []chunkLine
	done    bool
}

func (c *recording) Read(p []byte) (int, error) {
	n, err := c.source.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.pending = append(c.pending, p[:n]...)
		if c.sse {
			c.splitEvents()
		}
		c.mu.Unlock()
	}
	if err == io.EOF {
		c.finish()
	}
	return n, err
}

// splitEvents moves the complete events out of pending, stamped with the time now.
func (c *recording) splitEvents() {
	at := ms(c.r.now().Sub(c.start))
	for {
		i, sep := bytes.Index(c.pending, []byte("\n\n")), 2
		if j := bytes.Index(c.pending, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
			i, sep = j, 4
		}
		if i < 0 {
			return
		}
		c.chunks = append(c.chunks, chunkLine{Kind: "event", AtMS: at, Data: string(c.pending[:i+sep])})
		c.pending = c.pending[i+sep:]
	}
}

// Close closes the body. A client may stop reading at the end of the answer without reading
// to EOF (an SDK stops at a stream's "data: [DONE]"; a JSON decoder at the closing brace): such
// an answer is complete and recorded; one abandoned midway is not.
func (c *recording) Close() error {
	c.mu.Lock()
	done, sse := c.done, c.sse
	c.mu.Unlock()
	if !done {
		if sse {
			c.mu.Lock()
			complete := len(c.chunks) > 0 && strings.HasPrefix(strings.TrimSpace(c.chunks[len(c.chunks)-1].Data), "data: [DONE]")
			c.mu.Unlock()
			if complete {
				c.finish()
			}
		} else {
			// what is left of a whole body is already on its way: read it (bounded)
			rest, err := io.ReadAll(io.LimitReader(c.source, 64<<20))
			c.mu.Lock()
			c.pending = append(c.pending, rest...)
			c.mu.Unlock()
			if err == nil {
				c.finish()
			}
		}
	}
	return c.source.Close()
}

// finish writes the recording once the whole body was read. A body the client abandoned is
// not recorded: replaying half an answer would teach nothing.
func (c *recording) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	at := ms(c.r.now().Sub(c.start))
	if len(c.pending) > 0 {
		kind := "body"
		if c.sse {
			kind = "event"
		}
		c.chunks = append(c.chunks, chunkLine{Kind: kind, AtMS: at, Data: string(c.pending)})
		c.pending = nil
	}
	var buf bytes.Buffer
	for _, v := range append([]any{c.req, c.resp}, chunksAny(c.chunks)...) {
		line, err := marshalLine(v)
		if err != nil {
			c.fail(err)
			return
		}
		buf.Write(line)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(c.r.dir, c.name), buf.Bytes(), 0o644); err != nil {
		c.fail(err)
	}
}

func (c *recording) fail(err error) {
	if c.r.OnError != nil {
		c.r.OnError(fmt.Errorf("replay: recording %s: %w", c.name, err))
	}
}

func chunksAny(cs []chunkLine) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}
