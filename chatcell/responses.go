//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/gonbchat/gonbchat/llm"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// ResponsesBackend talks to the Responses API (POST /v1/responses, streamed). It is the default.
type ResponsesBackend struct{}

// paramOpts passes request parameters through as JSON.
func paramOpts(params map[string]any) []option.RequestOption {
	var opts []option.RequestOption
	for k, v := range params {
		opts = append(opts, option.WithJSONSet(k, v))
	}
	return opts
}

// textFormat is an OutputFormat as the Responses API's text.format.
func textFormat(f *OutputFormat) (responses.ResponseTextConfigParam, error) {
	var t responses.ResponseTextConfigParam
	if f.Schema == nil {
		t.Format.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		return t, nil
	}
	var top map[string]json.RawMessage // raw values keep the order of the properties
	if err := json.Unmarshal(f.Schema, &top); err != nil {
		return t, fmt.Errorf("output format %q: the schema is not a JSON object: %w", f.Name, err)
	}
	schema := make(map[string]any, len(top))
	for k, v := range top {
		schema[k] = v
	}
	t.Format.OfJSONSchema = &responses.ResponseFormatTextJSONSchemaConfigParam{Name: f.Name, Schema: schema, Strict: param.NewOpt(f.Strict)}
	return t, nil
}

// Stream implements Backend.
func (ResponsesBackend) Stream(ctx context.Context, opts []RequestOption, req *Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		params := responses.ResponseNewParams{Model: req.Model}
		if len(req.Input) == 1 && req.Input[0].Role == llm.User && req.Input[0].Name == "" {
			params.Input.OfString = param.NewOpt(req.Input[0].Content)
		} else {
			for _, m := range req.Input {
				params.Input.OfInputItemList = append(params.Input.OfInputItemList,
					responses.ResponseInputItemParamOfMessage(m.Content, responses.EasyInputMessageRole(string(m.Role))))
			}
		}
		if req.Instructions != "" {
			params.Instructions = param.NewOpt(req.Instructions)
		}
		if req.PreviousResponseID != "" {
			params.PreviousResponseID = param.NewOpt(req.PreviousResponseID)
		}
		if req.Store != nil {
			params.Store = param.NewOpt(*req.Store)
		}
		if req.Format != nil {
			text, err := textFormat(req.Format)
			if err != nil {
				yield(Event{}, err)
				return
			}
			params.Text = text
		}
		svc := responses.NewResponseService()
		s := svc.NewStreaming(ctx, params, append(opts, paramOpts(req.Params)...)...)
		defer s.Close()
		if s.Err() == nil && !yield(Event{Connected: true}, nil) {
			return
		}
		for s.Next() {
			ev := s.Current()
			switch ev.Type {
			case "response.output_text.delta":
				if !yield(Event{Delta: ev.Delta}, nil) {
					return
				}
			case "response.completed", "response.incomplete":
				r := ev.Response
				rep := &Reply{ID: r.ID, PreviousResponseID: r.PreviousResponseID, Model: r.Model, Text: r.OutputText(),
					Usage: llm.Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens, TotalTokens: r.Usage.TotalTokens},
					Raw:   r.RawJSON()}
				if ev.Type == "response.incomplete" {
					rep.Incomplete = r.IncompleteDetails.Reason
					if rep.Incomplete == "" {
						rep.Incomplete = "incomplete"
					}
				}
				if !yield(Event{Done: rep}, nil) {
					return
				}
			case "error", "response.failed":
				// The API reference's error event is flat ({"type":"error","code","message"});
				// response.failed carries the error in the response. Either ends the reply.
				yield(Event{}, parseStreamError([]byte(ev.RawJSON())))
				return
			default: // created, in_progress, reasoning, output items…: the server is alive
				if !yield(Event{}, nil) {
					return
				}
			}
		}
		if err := s.Err(); err != nil {
			yield(Event{}, err)
		}
	}
}
