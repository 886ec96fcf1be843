package openaitest

import (
	"net/http"
	"net/http/httptest"
)

// Server is a Handler listening on a local port, like httptest.Server.
type Server struct {
	// URL is the base URL of the API, ending in /v1 (e.g.
	// http://127.0.0.1:41234/v1), ready for option.WithBaseURL.
	URL string

	ts *httptest.Server
	h  *Handler
}

// NewServer starts a Server with a Handler configured by opts.
// The caller should call Close when finished.
func NewServer(opts ...Option) *Server {
	h := NewHandler(opts...)
	ts := httptest.NewServer(h)
	return &Server{URL: ts.URL + "/v1", ts: ts, h: h}
}

// Close shuts the server down, closing client connections.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Handler returns the server's handler (for Script, InjectFault, Requests, ...).
func (s *Server) Handler() *Handler { return s.h }

// Client returns an *http.Client configured for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }
