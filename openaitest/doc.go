// Package openaitest is a local OpenAI-compatible server in the spirit of
// net/http/httptest.
//
// It serves the parts of the OpenAI HTTP API that gonbchat uses, with the same
// JSON shapes, SSE framing, error bodies and status codes as the real API
// (checked against recorded traffic in the tests):
//
//	POST   /v1/responses                     (stream and non-stream, previous_response_id chains)
//	GET    /v1/responses/{id}
//	DELETE /v1/responses/{id}
//	GET    /v1/responses/{id}/input_items    (cursor paging: limit, after, order)
//	GET    /v1/models, GET /v1/models/{id}
//	POST   /v1/chat/completions              (stream and non-stream, stream_options.include_usage)
//
// Every model name is answered by the deterministic "mirror" model
// ([MirrorModel]): it replies, in Markdown, with what it received (model,
// instructions, the earlier turns of the context and the last user message),
// which makes it a useful offline default for teaching how chaining works.
//
// Like the real API, a response chains to its previous_response_id with the
// whole context of the chain (inputs and outputs, not instructions); an
// unknown or unstored (store=false) previous response is a 400
// previous_response_not_found error, and GET or DELETE of an unknown
// response a 404. With text.format json_schema or json_object (Chat:
// response_format) the mirror answers JSON that fits.
//
// Tests can script exact replies ([Handler.Script]), inject faults
// ([Handler.InjectFault]: latency, HTTP errors with Retry-After, a stream cut
// mid-way, the in-stream insufficient_quota failure) and inspect what was
// sent ([Handler.Requests]).
//
// Two ways to use it:
//
//	srv := openaitest.NewServer(openaitest.WithPace(0))   // a real listener, like httptest.Server
//	defer srv.Close()
//	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"))
//
//	h := openaitest.NewHandler(openaitest.WithStoreDir(dir)) // in-process, no port
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
//		option.WithBaseURL(openaitest.InProcessBaseURL), option.WithAPIKey("offline"))
//
// With [WithStoreDir] the stored responses are files (one JSON file per
// response, written atomically), so a chain begun by one process can be
// continued by another, as GoNB does with every notebook cell.
package openaitest
