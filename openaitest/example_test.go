package openaitest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

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

// The offline default: the mirror model in-process, through a RoundTripper.
func ExampleHandler_Transport() {
	h := openaitest.NewHandler(openaitest.WithPace(0)) // add WithStoreDir(dir) to share chains across processes
	client := openai.NewClient(
		option.WithBaseURL(openaitest.InProcessBaseURL),
		option.WithHTTPClient(&http.Client{Transport: h.Transport()}),
		option.WithAPIKey("offline"),
	)
	ctx := context.Background()
	first, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1-nano",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("你知道什麼是流冰嗎？")},
	})
	if err != nil {
		panic(err)
	}
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model:              "gpt-4.1-nano",
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("哪裡看得到？")},
		PreviousResponseID: openai.String(first.ID),
	})
	var reply strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.output_text.delta" {
			reply.WriteString(ev.Delta)
		}
	}
	if err := stream.Err(); err != nil {
		panic(err)
	}
	fmt.Println(reply.String())
	// Output:
	// **鏡像模型 Mirror** · 模型 model: `gpt-4.1-nano`
	//
	// - 上下文 context: 1 earlier turn 之前的對話 (via previous_response_id):
	//   1. “你知道什麼是流冰嗎？”
	// - 指示 instructions: (無 none)
	// - 你說 you said: “哪裡看得到？”
	//
	// _離線鏡像模型：我只轉述收到的內容。Offline mirror model: I only reflect what I receive._
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
