package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// responsesParams are the parameters POST /v1/responses accepts: those of the SDK's
// ResponseNewParams, and stream.
var responsesParams = sync.OnceValue(func() map[string]bool {
	known := map[string]bool{"stream": true, "frequency_penalty": true, "presence_penalty": true}
	t := reflect.TypeFor[responses.ResponseNewParams]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	return known
})

// chatParams are the parameters POST /v1/chat/completions accepts (those of openai-go's
// ChatCompletionNewParams, and stream; a test keeps them in sync).
var chatParams = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`audio frequency_penalty function_call functions logit_bias logprobs
		max_completion_tokens max_tokens messages metadata modalities model moderation n parallel_tool_calls
		prediction presence_penalty prompt_cache_key prompt_cache_options prompt_cache_retention reasoning_effort
		response_format safety_identifier seed service_tier stop store stream stream_options temperature
		tool_choice tools top_logprobs top_p user verbosity web_search_options`) {
		chatParams[p] = true
	}
}

// unknownParam answers the real API's error for an unknown top-level parameter of a generation
// request (a typo in a client) and reports whether it did. Bodies that are not a JSON object are
// left to the mirror.
func unknownParam(w http.ResponseWriter, path string, body []byte) bool {
	var known map[string]bool
	switch strings.TrimSuffix(path, "/") {
	case "/v1/responses":
		known = responsesParams()
	case "/v1/chat/completions":
		known = chatParams
	default:
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	names := make([]string, 0, len(m))
	for k := range m {
		if !known[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return false
	}
	sort.Strings(names)
	apiwire.BadRequest(w, fmt.Sprintf("Unknown parameter: '%s'.", names[0]), names[0], "unknown_parameter")
	return true
}
