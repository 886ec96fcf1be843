package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gonbchat/gonbchat/gateway/policy"
	"github.com/gonbchat/gonbchat/internal/apiwire"
	"github.com/gonbchat/gonbchat/internal/secret"
)

// apiError is an OpenAI-shaped error: {"error":{"message","type","param","code"}}. Message is
// the one line a student's cell shows.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// Retry says whether the client should retry (x-should-retry, honoured by the official
	// SDKs): a refusal of the policy is final, a busy upstream is not.
	Retry bool
	// Policy marks a refusal of the class policy: its message is the student's whole line
	// (apiwire.RefusalHeader).
	Policy bool
}

func (e *apiError) Error() string { return e.Message }

func fromRefusal(r *policy.Refusal) *apiError {
	return &apiError{Status: r.Status, Type: r.Type, Code: r.Code, Param: r.Param, Message: r.Message, Policy: true}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": map[string]any{
		"message": secret.Redact(e.Message),
		"type":    e.Type,
		"param":   nullable(e.Param),
		"code":    nullable(e.Code),
	}}
	b, _ := json.MarshalIndent(body, "", "  ")
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Should-Retry", strconv.FormatBool(e.Retry))
	if e.Policy {
		h.Set(apiwire.RefusalHeader, "policy")
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

func errUnauthorized(hub bool) *apiError {
	msg := "The class gateway did not accept your token: set GONBCHAT_GATEWAY_TOKEN to the token your teacher gave you."
	if hub {
		msg = "The class gateway did not accept your token (JUPYTERHUB_API_TOKEN, or GONBCHAT_GATEWAY_TOKEN from your teacher); restart your server from the Hub's control panel if this persists."
	}
	return &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key", Message: msg}
}

func errNotFoundResponse(id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error",
		Message: fmt.Sprintf("Response with id '%s' not found.", id)}
}

func errPreviousNotFound(id string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "previous_response_id",
		Code: "previous_response_not_found", Message: fmt.Sprintf("Previous response with id '%s' not found.", id)}
}

func errInvalidURL(r *http.Request, path string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error",
		Message: fmt.Sprintf("Invalid URL (%s %s): the class gateway serves /v1/responses, /v1/chat/completions and /v1/models.", r.Method, path)}
}

func errMethod(r *http.Request, path string) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
		Message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, path)}
}

func errBadJSON() *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error",
		Message: "We could not parse the JSON body of your request: the API expects a JSON object."}
}

func errDraining() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "gateway_restarting", Retry: true,
		Message: "The class gateway is restarting; try again in a moment."}
}

func errInternal(what string) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "The class gateway failed: " + what + "; tell your teacher."}
}
