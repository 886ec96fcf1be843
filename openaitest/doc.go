// Package openaitest is a local OpenAI-compatible server for tests, in the spirit of
// net/http/httptest.
//
// It serves the offline mirror model of package [mirror] (the Responses API with stored
// responses, Chat Completions, models; see there for what it answers) and adds what only tests
// need:
//
//   - a real listener ([NewServer]) besides the in-process [Handler.Transport];
//   - scripted replies ([Handler.Script]);
//   - API keys ([WithAPIKeys]): other keys get OpenAI's 401 invalid_api_key;
//   - injected faults ([Handler.InjectFault]), optionally for one key ([Fault].Key): a silent
//     server (Latency, Stall), HTTP errors with Retry-After (429, 401, 403, 5xx,
//     insufficient_quota), a 200 with an HTML page, a stream dropped or reset mid-way,
//     malformed events, in-stream errors in the real API's shapes;
//   - a record of the requests ([Handler.Requests]), with the key each one carried;
//   - strict validation: an unknown request parameter is the real API's 400
//     unknown_parameter, so a client's typo fails its test.
//
// Two ways to use it:
//
//	srv := openaitest.NewServer(openaitest.WithPace(0))   // a real listener, like httptest.Server
//	defer srv.Close()
//	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"))
//
//	h := openaitest.NewHandler(openaitest.WithPace(0))    // in-process, no port
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
//		option.WithBaseURL(openaitest.InProcessBaseURL), option.WithAPIKey("test"))
//
// Production code talks to package mirror directly and never imports this package.
package openaitest
