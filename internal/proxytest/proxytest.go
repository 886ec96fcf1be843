// Package proxytest is an HTTPS proxy for tests that makes a program's real-world traffic
// observable without the internet: a program configured as a user would be (only OPENAI_API_KEY
// set, so its requests go to https://api.openai.com/v1) is started with HTTPS_PROXY pointing at
// the proxy and SSL_CERT_FILE at the proxy's CA. The proxy answers CONNECT by terminating TLS
// itself, with a certificate for the requested host signed by its own CA, records what each
// request carried (host, path, Authorization) and serves it with a handler, usually an
// openaitest server's, so the program's chat completes as it would against the real host.
//
// Go's default transport reads HTTPS_PROXY, and crypto/x509 reads SSL_CERT_FILE, once per
// process: set them in a child process's environment (Env), not with os.Setenv in the test.
package proxytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Request is what the proxy saw of one request.
type Request struct {
	Host          string // host:port of the CONNECT (or of the URL, for plain http)
	Method, Path  string
	Authorization string
	// Served is the path the handler saw (see Proxy.Rewrite).
	Served string
}

// Proxy is a recording HTTPS proxy. Close it when done.
type Proxy struct {
	// URL is the proxy's address for HTTPS_PROXY and HTTP_PROXY: http://127.0.0.1:port.
	URL string
	// CAFile is a PEM file holding the proxy's CA certificate, for SSL_CERT_FILE.
	CAFile string
	// Rewrite maps the path a request was sent to onto the path the handler serves (for example
	// /openai/v1/chat/completions on api.groq.com onto /v1/chat/completions). Nil keeps it.
	Rewrite func(host, path string) string

	handler http.Handler
	ln      net.Listener
	srv     *http.Server
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	certs   sync.Map // host → *tls.Certificate

	mu   sync.Mutex
	reqs []Request
}

// New starts a proxy that serves every request with h. dir holds its CA file.
func New(h http.Handler, dir string) (*Proxy, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gonbchat proxytest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(der)
	p := &Proxy{handler: h, ca: ca, caKey: key, CAFile: filepath.Join(dir, "proxytest-ca.pem")}
	if err := os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + p.ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serveProxy), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(p.ln)
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Env returns the environment entries that send a child process's traffic through the proxy.
func (p *Proxy) Env() []string {
	return []string{"HTTPS_PROXY=" + p.URL, "https_proxy=" + p.URL, "HTTP_PROXY=" + p.URL, "http_proxy=" + p.URL,
		"NO_PROXY=", "no_proxy=", "SSL_CERT_FILE=" + p.CAFile, "SSL_CERT_DIR=" + filepath.Dir(p.CAFile)}
}

// Requests returns what the proxy saw, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Reset forgets the recorded requests.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = nil
}

func (p *Proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		// Plain http through the proxy: the request line holds the absolute URL.
		p.serve(w, r, r.URL.Host)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	host := r.Host
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	tconn := tls.Server(conn, &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := hello.ServerName
			if name == "" {
				name, _, _ = net.SplitHostPort(host)
			}
			return p.cert(name)
		},
		NextProtos: []string{"http/1.1"},
	})
	if err := tconn.Handshake(); err != nil {
		conn.Close()
		return
	}
	one := &oneConnListener{c: tconn, done: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, host) }),
		ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				one.Close()
			}
		}}
	srv.Serve(one)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, host string) {
	rec := Request{Host: host, Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization")}
	if !strings.Contains(rec.Host, ":") {
		rec.Host += ":443"
	}
	path := r.URL.Path
	if p.Rewrite != nil {
		path = p.Rewrite(host, path)
	}
	rec.Served = path
	p.mu.Lock()
	p.reqs = append(p.reqs, rec)
	p.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.RequestURI = path, "", path
	if r.URL.RawQuery != "" {
		r2.RequestURI += "?" + r.URL.RawQuery
	}
	r2.URL.Scheme, r2.URL.Host = "", ""
	p.handler.ServeHTTP(w, r2)
}

// cert returns a certificate for host signed by the proxy's CA.
func (p *Proxy) cert(host string) (*tls.Certificate, error) {
	if c, ok := p.certs.Load(host); ok {
		return c.(*tls.Certificate), nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, p.ca.Raw}, PrivateKey: key}
	p.certs.Store(host, c)
	return c, nil
}

// oneConnListener serves one connection, then reports closed.
type oneConnListener struct {
	mu   sync.Mutex
	c    net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, errors.New("proxytest: connection served")
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// APIPath maps a provider's path onto the OpenAI-style /v1/... path that openaitest serves:
// everything from "responses", "chat/completions" or "models" on.
func APIPath(_, path string) string {
	for _, tail := range []string{"/responses", "/chat/completions", "/models"} {
		if i := strings.Index(path, tail); i >= 0 {
			return "/v1" + path[i:]
		}
	}
	return path
}
