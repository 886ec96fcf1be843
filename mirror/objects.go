package mirror

import (
	"bytes"
	"encoding/json"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// responseObject is the Responses API "response" object, fields in the order
// the real API sends them (gpt-4.1, 2026 recordings).
type responseObject struct {
	ID                   string             `json:"id"`
	Object               string             `json:"object"`
	CreatedAt            int64              `json:"created_at"`
	Status               string             `json:"status"`
	Background           bool               `json:"background"`
	Billing              *billing           `json:"billing,omitempty"`
	CompletedAt          *int64             `json:"completed_at"`
	Error                *responseError     `json:"error"`
	FrequencyPenalty     float64            `json:"frequency_penalty"`
	IncompleteDetails    *incompleteDetails `json:"incomplete_details"`
	Instructions         *string            `json:"instructions"`
	MaxOutputTokens      *int64             `json:"max_output_tokens"`
	MaxToolCalls         *int64             `json:"max_tool_calls"`
	Model                string             `json:"model"`
	Moderation           json.RawMessage    `json:"moderation"`
	Output               []item             `json:"output"`
	ParallelToolCalls    bool               `json:"parallel_tool_calls"`
	PresencePenalty      float64            `json:"presence_penalty"`
	PreviousResponseID   *string            `json:"previous_response_id"`
	PromptCacheKey       *string            `json:"prompt_cache_key"`
	PromptCacheRetention *string            `json:"prompt_cache_retention"`
	Reasoning            reasoning          `json:"reasoning"`
	SafetyIdentifier     *string            `json:"safety_identifier"`
	ServiceTier          string             `json:"service_tier"`
	Store                bool               `json:"store"`
	Temperature          float64            `json:"temperature"`
	Text                 json.RawMessage    `json:"text"`
	ToolChoice           json.RawMessage    `json:"tool_choice"`
	Tools                json.RawMessage    `json:"tools"`
	TopLogprobs          int                `json:"top_logprobs"`
	TopP                 float64            `json:"top_p"`
	Truncation           string             `json:"truncation"`
	Usage                *usage             `json:"usage"`
	User                 *string            `json:"user"`
	Metadata             map[string]string  `json:"metadata"`
}

type billing struct {
	Payer string `json:"payer"`
}

type responseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incompleteDetails struct {
	Reason string `json:"reason"`
}

type reasoning struct {
	Context *string `json:"context"`
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type usage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  inputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails outputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

type inputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type outputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// item is an input or output item. Message items are normalised; any other
// item type (function_call, function_call_output, ...) is kept verbatim in Raw.
type item struct {
	ID      string
	Type    string
	Status  string
	Content []part
	Role    string
	Raw     json.RawMessage
}

type messageItemJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Content []part `json:"content"`
	Role    string `json:"role"`
}

func (it item) MarshalJSON() ([]byte, error) {
	if it.Raw != nil {
		return it.Raw, nil
	}
	c := it.Content
	if c == nil {
		c = []part{}
	}
	return json.Marshal(messageItemJSON{ID: it.ID, Type: it.Type, Status: it.Status, Content: c, Role: it.Role})
}

func (it *item) UnmarshalJSON(b []byte) error {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if probe.Type != "message" {
		*it = item{Type: probe.Type, Raw: bytes.Clone(b)}
		return nil
	}
	var m messageItemJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*it = item{ID: m.ID, Type: m.Type, Status: m.Status, Content: m.Content, Role: m.Role}
	return nil
}

// text is the concatenated text of a message item's text parts.
func (it item) text() string {
	var b bytes.Buffer
	for _, p := range it.Content {
		switch p.Type {
		case "input_text", "output_text":
			b.WriteString(p.Text)
		case "refusal":
			b.WriteString(p.Refusal)
		case "input_image":
			b.WriteString("[image]")
		case "input_file":
			b.WriteString("[file]")
		}
	}
	return b.String()
}

// part is a content part. Text parts are normalised; other parts are kept in Raw.
type part struct {
	Type    string
	Text    string
	Refusal string
	Raw     json.RawMessage
}

func (p part) MarshalJSON() ([]byte, error) {
	switch {
	case p.Raw != nil:
		return p.Raw, nil
	case p.Type == "output_text":
		return json.Marshal(struct {
			Type        string `json:"type"`
			Annotations []any  `json:"annotations"`
			Logprobs    []any  `json:"logprobs"`
			Text        string `json:"text"`
		}{p.Type, []any{}, []any{}, p.Text})
	case p.Type == "refusal":
		return json.Marshal(struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{p.Type, p.Refusal})
	default:
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{p.Type, p.Text})
	}
}

func (p *part) UnmarshalJSON(b []byte) error {
	var m struct {
		Type    string  `json:"type"`
		Text    *string `json:"text"`
		Refusal string  `json:"refusal"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	switch m.Type {
	case "input_text", "output_text":
		if m.Text == nil {
			return errMissingText
		}
		*p = part{Type: m.Type, Text: *m.Text}
	case "refusal":
		*p = part{Type: m.Type, Refusal: m.Refusal}
	default:
		*p = part{Type: m.Type, Raw: bytes.Clone(b)}
	}
	return nil
}

type textError string

func (e textError) Error() string { return string(e) }

const errMissingText = textError("missing text")

// newID returns an id like the real API's: prefix_ and 50 hex digits.
func newID(prefix string) string {
	return prefix + "_" + apiwire.RandHex(25)
}

func ptr[T any](v T) *T { return &v }
