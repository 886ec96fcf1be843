package openaitest_test

import (
	"context"
	"fmt"

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
