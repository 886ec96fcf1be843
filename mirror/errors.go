package mirror

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// The real API's errors for requests it cannot serve.

func badRequest(w http.ResponseWriter, msg, param, code string) {
	apiwire.BadRequest(w, msg, param, code)
}

func serverError(w http.ResponseWriter, msg string) {
	apiwire.WriteError(w, http.StatusInternalServerError, apiwire.Error{Message: msg, Type: "server_error"})
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
	apiwire.WriteError(w, http.StatusNotFound, apiwire.Error{
		Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path),
		Type:    "invalid_request_error",
	})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	apiwire.WriteError(w, http.StatusMethodNotAllowed, apiwire.Error{
		Message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path),
		Type:    "invalid_request_error",
	})
}

func responseNotFound(w http.ResponseWriter, id string) {
	apiwire.WriteError(w, http.StatusNotFound, apiwire.Error{
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
