//go:build !gonbchat_kernel

// Package completions is the Chat Completions backend of chatcell: POST /v1/chat/completions,
// the API of textbook lessons 001 and 003 and of providers that have no Responses API (Groq,
// Gemini, Mistral, Together, Fireworks…).
//
//	var chat = chatcell.NewHistList(chatcell.WithBackend(completions.Backend{}))
//
// Linking this package also lets chatcell use Chat Completions by itself on a provider that has
// nothing else (chatcell.NewHistList(chatcell.WithProvider("groq"))).
//
// It is a separate package because it imports openai-go's root package, which makes every
// notebook cell that links it slower to build; chats on the Responses API do not pay.
package completions

import (
	"encoding/json"
	"strings"

	"context"
	"github.com/gonbchat/gonbchat/internal/registry"
	"iter"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"
)

// Backend sends requests to the Chat Completions API, streamed with usage.
type Backend struct{}

func init() { registry.Completions = Backend{} }

// Stream implements chatcell.Backend. Instructions become a leading system message; a
// max_output_tokens parameter (chatcell.WithMaxOutputTokens) is sent as max_tokens.
func (Backend) Stream(ctx context.Context, opts []chatcell.RequestOption, req *chatcell.Request) iter.Seq2[chatcell.Event, error] {
	return func(yield func(chatcell.Event, error) bool) {
		params := openai.ChatCompletionNewParams{
			Model:         req.Model,
			Messages:      Messages(req.Instructions, req.Input),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)},
		}
		if f := req.Format; f != nil {
			params.ResponseFormat = responseFormat(f)
		}
		callOpts := append([]option.RequestOption(nil), opts...)
		for k, v := range req.Params {
			if k == "max_output_tokens" {
				k = "max_tokens"
			}
			callOpts = append(callOpts, option.WithJSONSet(k, v))
		}
		svc := openai.NewChatCompletionService()
		s := svc.NewStreaming(ctx, params, callOpts...)
		defer s.Close()
		if s.Err() == nil && !yield(chatcell.Event{Connected: true}, nil) {
			return
		}
		rep := &chatcell.Reply{}
		var text strings.Builder
		var last openai.ChatCompletionChunk
		finish := "" // the choice's finish_reason; with include_usage the last chunk has no choices
		for s.Next() {
			ch := s.Current()
			last = ch
			if rep.ID == "" {
				rep.ID, rep.Model = ch.ID, ch.Model
			}
			for _, c := range ch.Choices {
				if c.Index != 0 {
					continue
				}
				text.WriteString(c.Delta.Content)
				if c.Delta.Content != "" && !yield(chatcell.Event{Delta: c.Delta.Content}, nil) {
					return
				}
				if c.FinishReason != "" {
					finish = c.FinishReason
					if c.FinishReason == "length" {
						rep.Incomplete = "max_tokens"
					}
				}
			}
			if !yield(chatcell.Event{}, nil) { // a sign of life, for the stall timeout
				return
			}
			if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
				rep.Usage = llm.Usage{InputTokens: ch.Usage.PromptTokens, OutputTokens: ch.Usage.CompletionTokens, TotalTokens: ch.Usage.TotalTokens}
			}
		}
		if err := s.Err(); err != nil {
			yield(chatcell.Event{}, err)
			return
		}
		if finish != "" {
			rep.Raw = rawMessage(last, finish, text.String())
			yield(chatcell.Event{Done: rep}, nil)
		}
	}
}

// responseFormat is a chatcell.OutputFormat as Chat Completions' response_format.
func responseFormat(f *chatcell.OutputFormat) openai.ChatCompletionNewParamsResponseFormatUnion {
	if f.Schema == nil {
		return openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	}
	return openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: f.Name, Schema: f.Schema, Strict: param.NewOpt(f.Strict)},
	}}
}

// Messages builds a Chat Completions message list: the instructions as a system message (when
// not empty), then the messages with their roles and names.
func Messages(instructions string, msgs []llm.Message) []openai.ChatCompletionMessageParamUnion {
	var out []openai.ChatCompletionMessageParamUnion
	if instructions != "" {
		out = append(out, openai.SystemMessage(instructions))
	}
	for _, m := range msgs {
		var u openai.ChatCompletionMessageParamUnion
		name := param.Opt[string]{}
		if m.Name != "" {
			name = param.NewOpt(llm.WireName(m.Name))
		}
		switch string(m.Role) {
		case "system":
			u = openai.SystemMessage(m.Content)
			u.OfSystem.Name = name
		case "developer":
			u = openai.DeveloperMessage(m.Content)
			u.OfDeveloper.Name = name
		case "assistant":
			u = openai.AssistantMessage(m.Content)
			u.OfAssistant.Name = name
		default:
			u = openai.UserMessage(m.Content)
			u.OfUser.Name = name
		}
		out = append(out, u)
	}
	return out
}

// rawMessage is the chat.completion object put back together from the stream's chunks (the
// last one's id, model and usage, the choice's finish_reason and the whole message): what
// client.chat.completions.create returns without stream=True.
func rawMessage(last openai.ChatCompletionChunk, finish, content string) string {
	obj := map[string]any{
		"id": last.ID, "object": "chat.completion", "created": last.Created, "model": last.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": content}}},
	}
	if last.JSON.Usage.Valid() {
		obj["usage"] = json.RawMessage(last.Usage.RawJSON())
	}
	data, _ := json.Marshal(obj)
	return string(data)
}
