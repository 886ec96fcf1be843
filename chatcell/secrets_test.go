//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
)

// Keys of shapes no pattern knows, echoed back by a server in every place a server can put
// text: error messages of every status, in-stream error events, response.failed, an HTML error
// page. No string the library returns or shows may hold the key, or a 12-character piece of it.
var probeKeys = []string{
	"opaque-teacher-key-ABCDEFGHIJ0123",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdHVkZW50In0.c2lnbmF0dXJl",
	"Zq9+tok/en==ABCDEFGHIJKLMNOP",
	"gonbchat_live_4f3a9b8c7d6e5f4a3b2c1d0e",
}

func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch r.Header.Get("X-Probe") {
		case "401":
			apiError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: "+key+".")(w, r, "")
		case "400-param":
			apiError(400, "invalid_request_error", key, "Bad value "+key[:14]+"… for param")(w, r, "")
		case "html-502":
			status(502, "<html><head><title>Gateway error for "+key+"</title></head></html>", "x-should-retry", "false")(w, r, "")
		case "stream-error":
			startStream(w)
			sse(w, "error", map[string]any{"type": "error", "code": key, "message": "key " + key + " is over quota", "param": nil, "sequence_number": 0})
		case "nested-error":
			startStream(w)
			sse(w, "error", map[string]any{"type": "error", "error": map[string]any{"type": "server_error", "code": nil, "message": "refused \"" + key + "\""}})
		case "failed":
			startStream(w)
			sse(w, "response.failed", map[string]any{"type": "response.failed", "sequence_number": 1, "response": map[string]any{
				"id": "resp_f", "object": "response", "status": "failed", "model": "m", "output": []any{},
				"error": map[string]any{"code": "server_error", "message": "upstream said: " + key}}})
		case "escaped":
			q, _ := json.Marshal(key)
			apiError(403, "invalid_request_error", "x", "key="+string(q[1:len(q)-1])+" url="+strings.ReplaceAll(key, "+", "%2B"))(w, r, "")
		default:
			good(w, r, "responses")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// captureStdout runs fn with os.Stdout and os.Stderr going to a pipe, and returns what it wrote.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	fn()
	w.Close()
	os.Stdout, os.Stderr = stdout, stderr
	return <-done
}

func leaks(key, s string) bool {
	for i := 0; i+12 <= len(key); i++ {
		if strings.Contains(s, key[i:i+12]) {
			return true
		}
	}
	return false
}

func TestSecretsProbe(t *testing.T) {
	srv := echoServer(t)
	probes := []string{"401", "400-param", "html-502", "stream-error", "nested-error", "failed", "escaped"}
	for _, key := range probeKeys {
		for _, probe := range probes {
			for _, kind := range []string{"chat", "hist", "hist-completions", "create", "events"} {
				if kind == "events" && probe == "html-502" {
					continue
				}
				if kind == "hist-completions" && (probe == "failed" || probe == "stream-error" || probe == "nested-error") {
					continue // Responses events; Chat Completions has its own error chunk
				}
				name := fmt.Sprintf("%s/%s/%.8s", probe, kind, key)
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					conn := []chatcell.ConnOption{chatcell.WithBaseURL(srv.URL + "/v1"), chatcell.WithAPIKey(key),
						chatcell.WithRequestOptions(optionHeader("X-Probe", probe))}
					var errs []error
					out := captureStdout(t, func() {
						switch kind {
						case "chat":
							c := chatcell.New(chatcell.WithStateDir(dir), conn[0], conn[1], conn[2])
							c.Ask("hi")
							_, err := c.Reply(context.Background(), "hi")
							errs = append(errs, c.Err(), err)
							c.Save(filepath.Join(dir, "saved"))
						case "hist", "hist-completions":
							opts := []chatcell.HistOption{chatcell.WithStateDir(dir), conn[0], conn[1], conn[2]}
							if kind == "hist-completions" {
								opts = append(opts, chatcell.WithBackend(completions.Backend{}))
							}
							c := chatcell.NewHistList(opts...)
							c.Ask("hi")
							errs = append(errs, c.Err())
							c.Save(filepath.Join(dir, "saved.gob"))
							c.ExportJSON(filepath.Join(dir, "saved.json"))
						case "create":
							chatcell.Create("hi", conn[0], conn[1], conn[2])
							_, err := chatcell.CreateContext(context.Background(), "hi", conn[0], conn[1], conn[2])
							errs = append(errs, err)
						case "events":
							errs = append(errs, chatcell.ShowEvents("hi", conn[0], conn[1], conn[2]))
						}
					})
					var texts []string
					for _, err := range errs {
						if err != nil {
							texts = append(texts, err.Error(), chatcell.Describe(err), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err))
						}
						// What a Go program reaches with errors.As: the SDK's error, its
						// fields, raw JSON, body and the request it keeps.
						var apiErr *chatcell.APIError
						if errors.As(err, &apiErr) {
							texts = append(texts, apiErr.Message, apiErr.Code, apiErr.Param, apiErr.Type, apiErr.RawJSON(), string(apiErr.DumpRequest(false)))
							if apiErr.Response != nil && apiErr.Response.Body != nil {
								b, _ := io.ReadAll(apiErr.Response.Body)
								texts = append(texts, string(b))
							}
						}
						var se *chatcell.StreamError
						if errors.As(err, &se) {
							texts = append(texts, se.Message, se.Code, fmt.Sprintf("%+v", *se))
						}
					}
					if len(texts) == 0 && probe != "default" {
						t.Errorf("no error for probe %s", probe)
					}
					texts = append(texts, out)
					filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
						if err == nil && !fi.IsDir() {
							b, _ := os.ReadFile(p)
							texts = append(texts, string(b))
						}
						return nil
					})
					for _, s := range texts {
						if leaks(key, s) {
							t.Errorf("the key leaks:\n%s", s)
						}
					}
				})
			}
		}
	}
}
