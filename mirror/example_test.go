package mirror_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/mirror"
)

// The offline model in-process, through a RoundTripper: a chained conversation.
func ExampleHandler_Transport() {
	h := mirror.NewHandler(mirror.WithPace(0)) // add WithStoreDir(dir) to share chains across processes
	client := openai.NewClient(
		option.WithBaseURL(mirror.BaseURL),
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
