package mirror

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

type chatRequest struct {
	Model         *string         `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        *bool           `json:"stream"`
	StreamOptions *struct {
		IncludeUsage       *bool `json:"include_usage"`
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	N                   *int            `json:"n"`
	ServiceTier         *string         `json:"service_tier"`
	ResponseFormat      json.RawMessage `json:"response_format"`
}

type chatMessage struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name"`
}

var chatRoles = map[string]bool{"system": true, "user": true, "assistant": true, "developer": true, "tool": true, "function": true}

// chatContentText extracts the text of a message's content (a string or an
// array of parts); ok is false for any other JSON type.
func chatContentText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		switch p.Type {
		case "text":
			b.WriteString(p.Text)
		case "image_url":
			b.WriteString("[image]")
		case "input_audio":
			b.WriteString("[audio]")
		case "file":
			b.WriteString("[file]")
		}
	}
	return b.String(), true
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func chatID() string {
	b := make([]byte, 29)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return "chatcmpl-" + string(b)
}

// systemFingerprint is a fixed, plausible fingerprint.
const systemFingerprint = "fp_6d1ba0e1c2"

type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             *chatUsage   `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatOutMessage  `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatOutMessage struct {
	Role        string          `json:"role"`
	Content     string          `json:"content"`
	Refusal     json.RawMessage `json:"refusal"`
	Annotations []any           `json:"annotations"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	ServiceTier       string            `json:"service_tier"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             json.RawMessage   `json:"usage,omitempty"`
	Obfuscation       string            `json:"obfuscation,omitempty"`
}

type chatChunkChoice struct {
	Index        int             `json:"index"`
	Delta        json.RawMessage `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

var jsonNull = json.RawMessage("null")

func (h *Handler) createChatCompletion(w http.ResponseWriter, r *http.Request, body []byte) {
	var req chatRequest
	if !decodeBody(w, body, &req) {
		return
	}
	if req.Model == nil || *req.Model == "" {
		missingParam(w, "model")
		return
	}
	if len(req.Messages) == 0 || string(req.Messages) == "null" {
		missingParam(w, "messages")
		return
	}
	var msgs []json.RawMessage
	if json.Unmarshal(req.Messages, &msgs) != nil {
		invalidType(w, "messages", "an array", jsonKind(req.Messages))
		return
	}
	if len(msgs) == 0 {
		badRequest(w, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array")
		return
	}
	if !checkRange(w, "temperature", req.Temperature, 0, 2) || !checkRange(w, "top_p", req.TopP, 0, 1) {
		return
	}
	if req.N != nil && *req.N != 1 {
		badRequest(w, "mirror: only n=1 is supported.", "n", "")
		return
	}
	var instructions []string
	var turns []turn
	for i, raw := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		var m chatMessage
		if json.Unmarshal(raw, &m) != nil {
			invalidType(w, param, "an object", jsonKind(raw))
			return
		}
		if m.Role == nil {
			missingParam(w, param+".role")
			return
		}
		if !chatRoles[*m.Role] {
			badRequest(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", *m.Role), param+".role", "invalid_value")
			return
		}
		text, ok := chatContentText(m.Content)
		if !ok {
			invalidType(w, param+".content", "one of a string or array of objects", jsonKind(m.Content))
			return
		}
		switch *m.Role {
		case "system", "developer":
			instructions = append(instructions, text)
		case "user", "assistant":
			if m.Name != "" && *m.Role == "user" {
				text = m.Name + ": " + text
			}
			turns = append(turns, turn{Role: *m.Role, Text: text})
		}
	}
	instr := strings.Join(instructions, "\n")
	text := reply(r, func() string {
		return answer(prompt{Model: *req.Model, Instructions: instr, Turns: turns, Simplified: h.simplified}, chatFormat(req.ResponseFormat))
	})
	finish := "stop"
	limit := req.MaxCompletionTokens
	if limit == nil {
		limit = req.MaxTokens
	}
	if limit != nil && *limit >= 1 {
		if cut, truncated := h.truncateTokens(text, int(*limit)); truncated {
			text, finish = cut, "length"
		}
	}
	u := &chatUsage{PromptTokens: h.promptTokens(instr, turns), CompletionTokens: h.countTokens(text)}
	if finish == "length" {
		u.CompletionTokens = int(*limit) // the whole budget was spent
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens

	id, created := chatID(), h.now().Unix()
	tier := "default"
	if req.ServiceTier != nil && *req.ServiceTier != "auto" {
		tier = *req.ServiceTier
	}
	if req.Stream == nil || !*req.Stream {
		apiwire.WriteJSON(w, http.StatusOK, chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: *req.Model,
			Choices: []chatChoice{{Index: 0, Message: chatOutMessage{Role: "assistant", Content: text, Refusal: jsonNull, Annotations: []any{}},
				Logprobs: jsonNull, FinishReason: finish}},
			Usage: u, ServiceTier: tier, SystemFingerprint: systemFingerprint,
		})
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage != nil && *req.StreamOptions.IncludeUsage
	obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil || *req.StreamOptions.IncludeObfuscation
	sw := newSSEWriter(r.Context(), w, false)
	chunk := func(delta string, finishReason *string) chatChunk {
		c := chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: *req.Model,
			ServiceTier: tier, SystemFingerprint: systemFingerprint,
			Choices: []chatChunkChoice{{Index: 0, Delta: json.RawMessage(delta), Logprobs: jsonNull, FinishReason: finishReason}}}
		if includeUsage {
			c.Usage = jsonNull
		}
		if obfuscate {
			c.Obfuscation = obfuscation(delta)
			if len(c.Obfuscation) > 8 {
				c.Obfuscation = c.Obfuscation[:8]
			}
		}
		return c
	}
	err := func() error {
		if err := sw.event("", chunk(`{"role":"assistant","content":"","refusal":null}`, nil)); err != nil {
			return err
		}
		for i, d := range splitDeltas(text) {
			if i > 0 {
				if err := sw.pause(h.pace); err != nil {
					return err
				}
			}
			b, _ := json.Marshal(struct {
				Content string `json:"content"`
			}{d})
			if err := sw.event("", chunk(string(b), nil)); err != nil {
				return err
			}
		}
		if err := sw.event("", chunk(`{}`, &finish)); err != nil {
			return err
		}
		if includeUsage {
			c := chunk(`{}`, nil)
			c.Choices = []chatChunkChoice{}
			ub, _ := json.Marshal(u)
			c.Usage = ub
			if err := sw.event("", c); err != nil {
				return err
			}
		}
		return sw.raw([]byte("data: [DONE]\n\n"))
	}()
	finishStream(err)
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// knownModels are listed by /v1/models; every other name works too.
var knownModels = []modelObject{
	{Model, "model", 1767225600, "gonbchat"},
	{"gpt-4.1-nano", "model", 1744321707, "system"},
	{"gpt-4.1-mini", "model", 1744318173, "system"},
	{"gpt-4.1", "model", 1744316542, "system"},
	{"gpt-4o-mini", "model", 1721172741, "system"},
	{"gpt-4o", "model", 1715367049, "system"},
	{"gpt-5-nano", "model", 1754426384, "system"},
	{"gpt-5-mini", "model", 1754425928, "system"},
	{"gpt-5", "model", 1754425777, "system"},
}

func (h *Handler) listModels(w http.ResponseWriter) {
	apiwire.WriteJSON(w, http.StatusOK, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", knownModels})
}

func (h *Handler) getModel(w http.ResponseWriter, id string) {
	for _, m := range knownModels {
		if m.ID == id {
			apiwire.WriteJSON(w, http.StatusOK, m)
			return
		}
	}
	apiwire.WriteError(w, http.StatusNotFound, apiwire.Error{
		Message: fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", id),
		Type:    "invalid_request_error",
		Code:    "model_not_found",
	})
}
