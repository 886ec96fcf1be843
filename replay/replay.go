// Package replay records real model answers and plays them back offline, paced as they came.
//
// A Recorder is an http.RoundTripper wrapper (GONBCHAT_RECORD=dir): each exchange becomes one
// JSON-lines file in dir: the request (method, path, query and its JSON body; never a header,
// so never an Authorization or key header), then the response's status and headers (no
// cookies, no account or key headers), then its body as it arrived: one line per server-sent
// event with the time it arrived, or one line for a whole JSON body. Everything written goes
// through secret.Redact. The files are plain text a teacher can read and commit.
//
// A Player (GONBCHAT_REPLAY=dir) serves the recordings back: a request is matched by method,
// path (from /v1/ on, so the host and a gateway's prefix do not matter), query and canonical
// JSON body (key order and volatile fields such as stream_options ignored), and by how many
// times it was seen: the second identical request gets the second recording. Events come at
// their recorded pace (WithSpeed changes it). Anything not recorded goes to the fallback
// transport (the offline mirror model). A replayed response carries the header
// X-Gonbchat-Source: replayed. Response ids are those of the recording, so a
// previous_response_id chain recorded together replays together.
//
// GoNB runs each cell as a new process: give the Player a state directory (WithStateDir,
// e.g. under $GONB_TMP_DIR) so that the count of identical requests survives from cell to cell.
package replay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
)

// SourceHeader is set on every replayed response, with the value Replayed.
const (
	SourceHeader = "X-Gonbchat-Source"
	Replayed     = "replayed"
)

// DefaultIgnore are the top-level request fields that do not take part in matching: they change
// how a reply is delivered, not what it says.
var DefaultIgnore = []string{"stream_options"}

// Format is the format version written in each file's first line.
const Format = 1

// The lines of a recording file.
type requestLine struct {
	Kind   string          `json:"kind"` // "request"
	Format int             `json:"format"`
	Time   time.Time       `json:"time"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Query  string          `json:"query,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"` // a JSON body as sent
	Text   string          `json:"text,omitempty"` // a body that is not JSON
}

type responseLine struct {
	Kind    string      `json:"kind"` // "response"
	Status  int         `json:"status"`
	Header  http.Header `json:"header"`
	AfterMS float64     `json:"after_ms"` // from the request to the response headers
}

type chunkLine struct {
	Kind string  `json:"kind"`  // "event" (one server-sent event) or "body" (a whole body)
	AtMS float64 `json:"at_ms"` // since the response headers
	Data string  `json:"data"`
}

// normPath keeps a path from its /v1/ on: recordings made through a gateway's prefix or
// against another host match the same requests.
func normPath(p string) string {
	if i := strings.LastIndex(p, "/v1/"); i >= 0 {
		return p[i:]
	}
	if strings.HasSuffix(p, "/v1") {
		return "/v1"
	}
	return p
}

// canonical returns a body in the form used for matching: JSON with sorted keys, the ignored
// top-level fields removed, numbers as written; other bodies as they are.
func canonical(body []byte, ignore []string) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(body)
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range ignore {
			delete(m, k)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(body)
	}
	return string(b)
}

// matchKey identifies a request for matching.
func matchKey(method, path, query string, body []byte, ignore []string) string {
	return method + " " + normPath(path) + "?" + query + "\n" + canonical(body, ignore)
}

func keyHash(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:12])
}

// dropHeader reports whether a response header stays out of recordings.
func dropHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "set-cookie", "cookie", "authorization", "www-authenticate", "openai-organization", "openai-project",
		"content-length", "date", "connection", "transfer-encoding", "keep-alive", "alt-svc", "strict-transport-security",
		"cf-ray", "server", "x-envoy-upstream-service-time":
		return true
	}
	for _, w := range []string{"key", "token", "secret", "cookie", "auth", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readBody reads a request's body and puts back a fresh copy.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// marshalLine encodes one line, redacted.
func marshalLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := secret.Redact(string(b))
	if !json.Valid([]byte(s)) {
		return nil, errors.New("replay: a line could not be redacted safely")
	}
	return append([]byte(s), '\n'), nil
}

// fileName names a recording: its start time first, so that names sort in request order.
func fileName(start time.Time, path string) string {
	slug := strings.Trim(strings.NewReplacer("/", "-", ".", "-").Replace(strings.TrimPrefix(normPath(path), "/v1/")), "-")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	if slug == "" {
		slug = "root"
	}
	return fmt.Sprintf("%s-%s-%s.jsonl", start.UTC().Format("20060102T150405.000000000"), slug, randHex(3))
}
