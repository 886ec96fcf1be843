package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/gonbchat/gonbchat/mirror"
)

func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-4.1-nano",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a tutor."),
			openai.UserMessage("What is a goroutine?"),
			openai.AssistantMessage("A lightweight thread."),
			{OfUser: &openai.ChatCompletionUserMessageParam{
				Content: openai.ChatCompletionUserMessageParamContentUnion{OfString: openai.String("And a channel?")},
				Name:    openai.String("Lin"),
			}},
		},
		Temperature: openai.Float(0.2),
		TopP:        openai.Float(0.9),
	}
}

func TestChatNonStreaming(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, _ *atomic.Int64) {
		cc, err := c.Chat.Completions.New(context.Background(), chatParams())
		if err != nil {
			t.Fatal(err)
		}
		if cc.Object != "chat.completion" || !strings.HasPrefix(cc.ID, "chatcmpl-") || cc.Model != "gpt-4.1-nano" {
			t.Errorf("object %q id %q model %q", cc.Object, cc.ID, cc.Model)
		}
		if len(cc.Choices) != 1 || cc.Choices[0].FinishReason != "stop" || cc.Choices[0].Message.Role != "assistant" {
			t.Fatalf("choices %+v", cc.Choices)
		}
		out := cc.Choices[0].Message.Content
		for _, want := range []string{"You are a tutor.", "1 earlier turn ", "What is a goroutine?", "Lin: And a channel?"} {
			if !strings.Contains(out, want) {
				t.Errorf("reply lacks %q:\n%s", want, out)
			}
		}
		u := cc.Usage
		if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
			t.Errorf("usage %+v", u)
		}
	})
}

func TestChatStreamingWithUsage(t *testing.T) {
	backends(t, func(t *testing.T, c openai.Client, _ *atomic.Int64) {
		p := chatParams()
		p.StreamOptions.IncludeUsage = openai.Bool(true)
		s := c.Chat.Completions.NewStreaming(context.Background(), p)
		var acc openai.ChatCompletionAccumulator
		var chunks []openai.ChatCompletionChunk
		for s.Next() {
			ch := s.Current()
			chunks = append(chunks, ch)
			acc.AddChunk(ch)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(chunks) < 4 {
			t.Fatalf("%d chunks", len(chunks))
		}
		if chunks[0].Choices[0].Delta.Role != "assistant" || chunks[0].Choices[0].Delta.Content != "" {
			t.Errorf("first chunk %s", chunks[0].RawJSON())
		}
		stop := chunks[len(chunks)-2]
		if stop.Choices[0].FinishReason != "stop" {
			t.Errorf("finish chunk %s", stop.RawJSON())
		}
		last := chunks[len(chunks)-1]
		if len(last.Choices) != 0 || last.Usage.TotalTokens == 0 {
			t.Errorf("usage chunk %s", last.RawJSON())
		}
		var b strings.Builder
		for _, ch := range chunks[1 : len(chunks)-2] {
			d := ch.Choices[0].Delta.Content
			if len(d) < 2 || len(d) > 8 {
				t.Errorf("delta %q of %d bytes", d, len(d))
			}
			b.WriteString(d)
		}
		if got := acc.Choices[0].Message.Content; got != b.String() || !strings.Contains(got, "And a channel?") {
			t.Errorf("accumulated %q", got)
		}
	})
}

func TestChatMaxTokensAndValidation(t *testing.T) {
	c, _ := newServerClient(t)
	ctx := context.Background()
	p := chatParams()
	p.MaxCompletionTokens = openai.Int(5)
	cc, err := c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Choices[0].FinishReason != "length" || cc.Usage.CompletionTokens != 5 {
		t.Errorf("finish %q completion tokens %d", cc.Choices[0].FinishReason, cc.Usage.CompletionTokens)
	}

	p = chatParams()
	p.Messages = nil
	_, err = c.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "messages" {
		t.Errorf("no messages: %v", err)
	}
}

func TestModels(t *testing.T) {
	c, _ := newServerClient(t)
	pager := c.Models.ListAutoPaging(context.Background())
	var ids []string
	for pager.Next() {
		ids = append(ids, pager.Current().ID)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	joined := "," + strings.Join(ids, ",") + ","
	if !strings.Contains(joined, ","+mirror.Model+",") || !strings.Contains(joined, ",gpt-4.1-nano,") {
		t.Errorf("models %v", ids)
	}
	m, err := c.Models.Get(context.Background(), "gpt-4.1-nano")
	if err != nil || m.ID != "gpt-4.1-nano" || m.Object != "model" {
		t.Errorf("get model: %v %+v", err, m)
	}
}

// TestLanguage: the labels follow WithLanguage, in Simplified Chinese for the zh-CN lessons and
// Traditional Chinese by default, with the English beside them either way.
func TestLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang      string
		want, not []string
	}{
		{"", []string{"鏡像模型", "你說", "離線鏡像模型", "you said"}, []string{"镜像模型", "你说"}},
		{"zh-TW", []string{"鏡像模型", "之前的對話", "你說"}, []string{"镜像模型", "你说"}},
		{"zh-CN", []string{"镜像模型", "之前的对话", "你说", "离线镜像模型", "you said"}, []string{"鏡像模型", "對話", "你說"}},
		{"zh_CN.UTF-8", []string{"镜像模型"}, []string{"鏡像模型"}},
		{"zh-Hans", []string{"镜像模型"}, []string{"鏡像模型"}},
	} {
		h := mirror.NewHandler(mirror.WithPace(0), mirror.WithLanguage(tc.lang))
		c := openai.NewClient(option.WithBaseURL(mirror.BaseURL), option.WithAPIKey("x"),
			option.WithHTTPClient(&http.Client{Transport: h.Transport()}))
		cc, err := c.Chat.Completions.New(context.Background(), chatParams())
		if err != nil {
			t.Fatal(err)
		}
		out := cc.Choices[0].Message.Content
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("WithLanguage(%q): the reply lacks %q:\n%s", tc.lang, w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("WithLanguage(%q): the reply has %q:\n%s", tc.lang, w, out)
			}
		}
	}
}
