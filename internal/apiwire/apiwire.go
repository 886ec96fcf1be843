// Package apiwire is the part of OpenAI's wire format that package mirror (the offline model)
// and package openaitest (its test double) both write: error bodies, JSON replies, response
// headers, server-sent event framing and the masking of API keys. Keeping it in one place keeps
// the two byte-for-byte alike.
package apiwire

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an OpenAI error: {"message","type","param","code"}. Empty Param and Code are written
// as null.
type Error struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// Object is the JSON of e, fields in the order the real API sends them in error bodies.
func (e Error) Object() ErrorObject {
	return ErrorObject{Message: e.Message, Type: e.Type, Param: nullable(e.Param), Code: nullable(e.Code)}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ErrorObject is the JSON of an Error.
type ErrorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorBody is an error reply: {"error":{...}}. It is also the in-stream error chunk of Chat
// Completions.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// WriteJSON answers status with v as indented JSON and a Content-Length.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError answers status with e's error body.
func WriteError(w http.ResponseWriter, status int, e Error) {
	WriteJSON(w, status, ErrorBody{Error: e.Object()})
}

// BadRequest answers 400 invalid_request_error.
func BadRequest(w http.ResponseWriter, msg, param, code string) {
	WriteError(w, http.StatusBadRequest, Error{Message: msg, Type: "invalid_request_error", Param: param, Code: code})
}

// SetHeaders sets the headers every reply of the real API carries (a request id, the API
// version).
func SetHeaders(w http.ResponseWriter) {
	w.Header().Set("x-request-id", "req_"+RandHex(16))
	w.Header().Set("openai-version", "2020-10-01")
}

// RandHex returns nbytes random bytes in hex.
func RandHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MaskKey shows a key the way the real API's 401 message does: its first 8 and last 4
// characters, the rest as stars ("sk-proj-****…****wxyz"). Shorter keys show less (at most a
// quarter of the key at each end); keys under 12 characters are all stars.
func MaskKey(k string) string {
	if len(k) < 12 {
		return strings.Repeat("*", len(k))
	}
	pre := min(8, len(k)/4)
	suf := min(4, len(k)/4)
	return k[:pre] + strings.Repeat("*", len(k)-pre-suf) + k[len(k)-suf:]
}

// Event frames one server-sent event: an "event:" line when name is set, the data line and the
// blank line that ends the event.
func Event(name string, data []byte) []byte {
	var buf []byte
	if name != "" {
		buf = append(buf, "event: "+name+"\n"...)
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}

// WithSequence appends "sequence_number":seq to a JSON object, as the Responses API numbers its
// events.
func WithSequence(obj []byte, seq int) []byte {
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	return append(obj[:len(obj)-1:len(obj)-1], `,"sequence_number":`+strconv.Itoa(seq)+`}`...)
}

type replyKey struct{}

// WithReply returns a context under which the mirror model answers a generation request with
// reply's text when reply reports ok (it is called once, when the request is valid and about to
// be answered). It is how openaitest scripts replies without the mirror knowing about scripts.
func WithReply(ctx context.Context, reply func() (string, bool)) context.Context {
	return context.WithValue(ctx, replyKey{}, reply)
}

// Reply is the reply function set by WithReply, or nil.
func Reply(ctx context.Context) func() (string, bool) {
	f, _ := ctx.Value(replyKey{}).(func() (string, bool))
	return f
}

// Sleep paces a stream: it waits d, or until ctx is done, and reports whether it waited fully.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// RefusalHeader marks an error the class gateway (package gateway) sends when its policy
// refuses a request (a budget used up, AI switched off, a model not allowed). Its message is
// written for the student as it is, so chatcell shows that message alone, as the cell's one
// line, without the HTTP status around it.
const RefusalHeader = "X-Gonbchat-Refusal"
