package webchat

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net"
	"net/http"
	"strings"
)

// Cookie names carry the port: browsers share cookies between the ports of a host, and two
// bots on localhost:7860 and localhost:7861 must not overwrite each other's visitors.
func cookieName(base string, r *http.Request) string {
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil || port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	return base + "_" + port
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
}

// hostAllowed guards against DNS rebinding: without a share token, the server answers only
// to localhost names, IP addresses and the hosts of WithAllowedHosts. (A rebinding attack
// needs a domain name of the attacker's.)
func (s *Server) hostAllowed(r *http.Request) bool {
	if s.cfg.shareToken != "" {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil {
		return true
	}
	for _, h := range s.cfg.allowedHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// accessValue is the cookie value that proves a visitor came with the share token.
func (s *Server) accessValue() string {
	sum := sha256.Sum256([]byte("gonbchat webchat access\x00" + s.cfg.shareToken))
	return hex.EncodeToString(sum[:])
}

// access checks the share token in share mode. A GET with ?token= sets the access cookie and
// redirects to the same URL without the token (so that it leaves the address bar). It writes
// the refusal and returns false when the visitor has no access.
func (s *Server) access(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.shareToken == "" {
		return true
	}
	name := cookieName("gonbchat_access", r)
	if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet {
		if subtle.ConstantTimeCompare([]byte(t), []byte(s.cfg.shareToken)) == 1 {
			setCookie(w, r, name, s.accessValue(), 30*24*3600)
			if r.URL.Path != "/" {
				return true
			}
			// Take the token out of the address bar (and the browser's history). The
			// relative URL keeps working behind a proxy that adds a path prefix.
			q := r.URL.Query()
			q.Del("token")
			loc := "./"
			if len(q) > 0 {
				loc += "?" + q.Encode()
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusSeeOther)
			return false
		}
	} else if c, err := r.Cookie(name); err == nil &&
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.accessValue())) == 1 {
		return true
	}
	s.log.Warn("webchat: refused a visitor without the share token", "path", r.URL.Path)
	line := s.tx.SharedByLink
	if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
		failPage(w, http.StatusForbidden, line)
		return false
	}
	s.fail(w, http.StatusForbidden, line)
	return false
}

var failTemplate = template.Must(template.New("fail").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.}}</title></head>
<body><p role="alert">{{.}}</p></body></html>
`))

func failPage(w http.ResponseWriter, code int, line string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	failTemplate.Execute(w, line)
}

// csrfToken is the token a session's page sends with each POST (header X-Gonbchat-Csrf). It
// is derived from the session id, which only the visitor's browser has (an HttpOnly cookie),
// so it survives a restart of the server, and another site cannot compute it.
func csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("gonbchat webchat csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func csrfOK(r *http.Request, sessionID string) bool {
	got := r.Header.Get("X-Gonbchat-Csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(sessionID))) == 1
}

// sameOriginJSON reports whether a POST is JSON (a cross-site form cannot send that type
// without a CORS preflight, which this server never grants).
func sameOriginJSON(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}
