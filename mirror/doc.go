// Package mirror is the offline model a student talks to without an API key: an
// OpenAI-compatible API served in-process, whose model answers with what it received.
//
// It serves the parts of the OpenAI HTTP API that gonbchat uses, with the same JSON shapes, SSE
// framing, error bodies and status codes as the real API (checked against recorded traffic in
// the tests, testdata/openai-recorded):
//
//	POST   /v1/responses                     (stream and non-stream, previous_response_id chains)
//	GET    /v1/responses/{id}
//	DELETE /v1/responses/{id}
//	GET    /v1/responses/{id}/input_items    (cursor paging: limit, after, order)
//	GET    /v1/models, GET /v1/models/{id}
//	POST   /v1/chat/completions              (stream and non-stream, stream_options.include_usage)
//
// Every model name is answered by the deterministic mirror model ([Model]): it replies, in
// Markdown, with what it received (model, instructions, the earlier turns of the context and
// the last user message), so a student sees whether a conversation was chained, trimmed or
// forged. With text.format json_schema or json_object (Chat: response_format) it answers JSON
// that fits, so structured-output lessons run offline too.
//
// Like the real API, a response chains to its previous_response_id with the whole context of
// the chain (inputs and outputs, not instructions); an unknown or unstored (store=false)
// previous response is a 400 previous_response_not_found error, and GET or DELETE of an unknown
// response a 404. Out-of-range temperature, top_p or max_output_tokens get the real 400s.
// Usage counts tokens with a vocabulary-free estimate of o200k_base ([WithTokenCounter] for
// exact counts), and max_output_tokens or max_tokens cut the reply as the real API does.
//
// The handler is usually reached in-process, with no listener ([Handler.Transport]):
//
//	h := mirror.NewHandler(mirror.WithStoreDir(dir))
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
//		option.WithBaseURL(mirror.BaseURL), option.WithAPIKey("offline"))
//
// With [WithStoreDir] the stored responses are files (one JSON file per response, written
// atomically), so a chain begun by one process can be continued by another, as GoNB does with
// every notebook cell.
//
// For tests, package openaitest wraps this handler with a server on a port, scripted replies,
// injected faults, API keys and a record of the requests.
package mirror
