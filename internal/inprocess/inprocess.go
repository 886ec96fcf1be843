// Package inprocess serves HTTP requests with an http.Handler in the same process: an
// http.RoundTripper with no listener and no network. It is how the offline mirror model answers a
// notebook cell, and how openaitest serves a test without a port.
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// Transport returns an http.RoundTripper that serves every request with h. Responses are
// streamed through a pipe, so server-sent events reach the client as they are produced; closing
// the response body or cancelling the request's context cancels the handler's request context.
// The request's host is ignored.
//
// A handler that panics with http.ErrAbortHandler drops the connection: before the response
// header the client's request fails, after it the body ends with io.ErrUnexpectedEOF (or with
// the error of a Resetter's ResetConnection).
func Transport(h http.Handler) http.RoundTripper {
	return &transport{h: h}
}

type transport struct {
	h http.Handler
}

// ErrConnReset is what a client sees when the handler drops the connection before any response
// header.
var ErrConnReset = errors.New("inprocess: connection reset by the handler")

// Resetter is implemented by the http.ResponseWriter this transport gives a handler.
type Resetter interface {
	// ResetConnection makes the client's next read of the body fail as a TCP reset does
	// (errors.Is(err, syscall.ECONNRESET)). The handler should then return or panic with
	// http.ErrAbortHandler.
	ResetConnection()
}

// errReset is how a reset connection reads, like net's error for a TCP RST.
var errReset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	rw := &responseWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}

	sreq := req.Clone(ctx)
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Proto == "" {
		sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	}

	go func() {
		defer func() {
			if req.Body != nil {
				_ = req.Body.Close() // a RoundTripper closes the request body
			}
			p := recover()
			switch {
			case p == nil:
				rw.WriteHeader(http.StatusOK) // no-op if already written
				if err := ctx.Err(); err != nil {
					_ = pw.CloseWithError(err)
				} else {
					_ = pw.Close()
				}
			case p == http.ErrAbortHandler: //nolint:errorlint // sentinel panic value
				rw.abort(ErrConnReset)
				_ = pw.CloseWithError(io.ErrUnexpectedEOF) // keeps an earlier reset's error
			default:
				err := fmt.Errorf("inprocess: handler panic: %v", p)
				rw.abort(err)
				_ = pw.CloseWithError(err)
			}
		}()
		t.h.ServeHTTP(rw, sreq)
	}()

	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	if rw.err != nil {
		cancel()
		return nil, rw.err
	}
	res := &http.Response{
		Status:        strconv.Itoa(rw.status) + " " + http.StatusText(rw.status),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &pipeBody{pr: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(rw.sent.Get("Content-Length"), 10, 64); err == nil {
		res.ContentLength = n
	}
	return res, nil
}

// responseWriter is the handler's side of an in-process exchange.
type responseWriter struct {
	header http.Header
	pw     *io.PipeWriter

	once   sync.Once
	ready  chan struct{} // closed once the header is sent (or the exchange failed)
	status int
	sent   http.Header
	err    error // set before ready is closed when no response exists
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *responseWriter) abort(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush is a no-op: the pipe is unbuffered, every Write reaches the reader.
func (w *responseWriter) Flush() {}

// ResetConnection implements Resetter.
func (w *responseWriter) ResetConnection() {
	w.abort(errReset)
	_ = w.pw.CloseWithError(errReset)
}

type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.cancel()
	return b.pr.Close()
}
