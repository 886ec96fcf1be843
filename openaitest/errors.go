package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is the body of an OpenAI error: {"error":{"message","type","param","code"}}.
// Empty Param and Code are written as null.
type apiError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e apiError) object() errorObject {
	return errorObject{Message: e.Message, Type: e.Type, Param: nullable(e.Param), Code: nullable(e.Code)}
}

type errorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type errorBody struct {
	Error errorObject `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
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

func writeError(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, errorBody{Error: e.object()})
}

func badRequest(w http.ResponseWriter, msg, param, code string) {
	writeError(w, http.StatusBadRequest, apiError{Message: msg, Type: "invalid_request_error", Param: param, Code: code})
}

func invalidJSON(w http.ResponseWriter) {
	badRequest(w, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", "", "")
}

func missingParam(w http.ResponseWriter, param string) {
	badRequest(w, fmt.Sprintf("Missing required parameter: '%s'.", param), param, "missing_required_parameter")
}

func invalidType(w http.ResponseWriter, param, expected, got string) {
	badRequest(w, fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", param, expected, got), param, "invalid_type")
}

func notFoundURL(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, apiError{
		Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path),
		Type:    "invalid_request_error",
	})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, apiError{
		Message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path),
		Type:    "invalid_request_error",
	})
}

func responseNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, apiError{
		Message: fmt.Sprintf("Response with id '%s' not found.", id),
		Type:    "invalid_request_error",
	})
}

// jsonKind names the JSON type of raw the way OpenAI's messages do.
func jsonKind(raw json.RawMessage) string {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "an object"
		case '[':
			return "an array"
		case '"':
			return "a string"
		case 't', 'f':
			return "a boolean"
		case 'n':
			return "null"
		default:
			return "a number"
		}
	}
	return "nothing"
}
