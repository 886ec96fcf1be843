package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gonbchat/gonbchat/llm"
)

// jsonMessage is one message of openai2's fetch_messages() format.
type jsonMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// MarshalMessages writes msgs as openai2's fetch_messages() does, and as the Chat
// Completions API takes them: a JSON list of {"role", "content"} objects, with "name" only
// when set. Text is written as UTF-8 (json.dumps(..., ensure_ascii=False)), not \u escapes.
// The List's marks (pins, forged, summary, cut short) are not part of that format.
func MarshalMessages(msgs []llm.Message) ([]byte, error) {
	out := make([]jsonMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, jsonMessage{Role: string(m.Role), Content: m.Content, Name: m.Name})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalMessages reads a JSON list of {"role", "content"[, "name"]} objects, as written by
// MarshalMessages or by Python's json.dumps(chat.fetch_messages()). It rejects unknown
// roles, content that is not a string and invalid names, saying which message is wrong.
// Other fields are ignored.
func UnmarshalMessages(data []byte) ([]llm.Message, error) {
	var raw []struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
		Name    string          `json:"name"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return nil, errors.New("history: want a JSON list of messages ([{\"role\": ..., \"content\": ...}, ...])")
		}
		return nil, fmt.Errorf("history: reading JSON messages: %w", err)
	}
	msgs := make([]llm.Message, 0, len(raw))
	for i, r := range raw {
		if r.Role == nil {
			return nil, fmt.Errorf("history: JSON message %d has no \"role\"", i)
		}
		m := llm.Message{Role: llm.Role(*r.Role), Name: r.Name}
		if len(r.Content) == 0 || string(r.Content) == "null" {
			return nil, fmt.Errorf("history: JSON message %d (%s) has no \"content\"", i, *r.Role)
		}
		if err := json.Unmarshal(r.Content, &m.Content); err != nil {
			return nil, fmt.Errorf("history: JSON message %d (%s): \"content\" must be a string", i, *r.Role)
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("JSON message %d: %w", i, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// ExportJSON returns the history in openai2's fetch_messages() format (see MarshalMessages).
func (l *List) ExportJSON() ([]byte, error) { return MarshalMessages(l.Messages()) }

// ImportJSON adds the messages of a JSON export (see UnmarshalMessages) with AddDialogs, so
// they are marked Forged. It adds nothing if the JSON is not valid.
func (l *List) ImportJSON(data []byte) error {
	msgs, err := UnmarshalMessages(data)
	if err != nil {
		return err
	}
	return l.AddDialogs(msgs...)
}
