package chatcell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

// APIError is the SDK's error for a non-2xx answer (the same type as *openai.Error).
type APIError = responses.Error

// Describe turns an error into one readable line for a notebook cell: the server's own message
// for API errors (the SDK's Error() only says "400 Bad Request"), plain words for interrupts,
// timeouts and network failures. It never includes an API key.
func Describe(err error) string {
	return redactKeys(describe(err))
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	var h *hintError
	if errors.As(err, &h) {
		return describe(h.err) + " (" + h.hint + ")"
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		status := fmt.Sprintf("%d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
		msg := apiErr.Message
		if msg == "" {
			msg = strings.TrimSpace(apiErr.RawJSON())
		}
		if msg == "" {
			return "the server answered " + status
		}
		return fmt.Sprintf("the server answered %s: %s", status, msg)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		var body struct {
			Error         struct{ Code, Message string } `json:"error"`
			Code, Message string
		}
		json.Unmarshal(se.Event.Data, &body)
		code, msg := body.Error.Code, body.Error.Message
		if code == "" {
			code, msg = body.Code, body.Message
		}
		if msg == "" {
			msg = se.Message
		}
		if code != "" {
			return fmt.Sprintf("the server stopped the reply (%s): %s", code, msg)
		}
		return "the server stopped the reply: " + msg
	}
	switch {
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		return "interrupted: the reply was cut short"
	case errors.Is(err, ErrStalled):
		return "no reply: the server sent nothing for too long"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, ErrDropped):
		return "the connection ended before the reply was complete"
	case errors.Is(err, fs.ErrNotExist):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Sprintf("%s: no such file", pe.Path)
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("cannot reach %s: unknown host (check OPENAI_BASE_URL and your network)", dnsErr.Name)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Sprintf("cannot reach the server: %v", opErr.Err)
	}
	return err.Error()
}

var keyPattern = regexp.MustCompile(`\b(sk|gsk|xai|fw)[-_][A-Za-z0-9_\-*.]{6,}|\bAIza[0-9A-Za-z_\-]{20,}`)

// redactKeys hides anything shaped like an API key.
func redactKeys(s string) string {
	return keyPattern.ReplaceAllString(s, "[redacted key]")
}
