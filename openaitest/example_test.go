package openaitest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

// A test server: script a reply, then check what the client sent.
func ExampleNewServer() {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	srv.Handler().Script("Paris.")

	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"))
	r, err := client.Responses.New(context.Background(), responses.ResponseNewParams{
		Model:        "gpt-4.1-nano",
		Instructions: openai.String("Answer in one word."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Capital of France?")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.OutputText())
	fmt.Println(srv.Handler().Requests()[0].JSON()["instructions"])
	// Output:
	// Paris.
	// Answer in one word.
}

// Faults: a rate limit the SDK retries, then a stream cut mid-way.
func ExampleHandler_InjectFault() {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	h := srv.Handler()
	h.InjectFault(openaitest.RateLimitFault(1e6)) // 429 with retry-after-ms: 1
	h.InjectFault(openaitest.Fault{Path: "/v1/responses", DropAfterEvents: 3})

	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"))
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4.1-nano",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
	})
	n := 0
	for stream.Next() {
		n++
	}
	fmt.Println(len(h.Requests()), "requests,", n, "events, error:", stream.Err() != nil)
	// Output:
	// 2 requests, 3 events, error: true
}

// Two keys, and a fault for one of them: key A is rate-limited twice, key B is revoked. Each
// recorded request says which key it carried.
func ExampleWithAPIKeys() {
	const keyA, keyB = "sk-test-key-A-0000000000", "sk-test-key-B-0000000000"
	srv := openaitest.NewServer(openaitest.WithPace(0), openaitest.WithAPIKeys(keyA, keyB))
	defer srv.Close()
	h := srv.Handler()
	h.InjectFault(openaitest.Fault{Key: keyA, Status: 429, RetryAfter: 2 * time.Second, Times: 2})
	h.InjectFault(openaitest.Fault{Key: keyB, Status: 401, Times: -1})

	for _, key := range []string{keyA, keyB, keyA, keyA, "sk-test-key-C-0000000000"} {
		client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := client.Responses.New(context.Background(), responses.ResponseNewParams{
			Model: "gpt-4.1-nano",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
		})
		var apiErr *responses.Error
		switch {
		case errors.As(err, &apiErr):
			fmt.Println(key[12:13], apiErr.StatusCode, apiErr.Code)
		case err == nil:
			fmt.Println(key[12:13], "ok")
		}
	}
	fmt.Println(len(h.Requests()), "requests, the last with key", h.Requests()[4].Key[12:13])
	// Output:
	// A 429 rate_limit_exceeded
	// B 401 invalid_api_key
	// A 429 rate_limit_exceeded
	// A ok
	// C 401 invalid_api_key
	// 5 requests, the last with key C
}
