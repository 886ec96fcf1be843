package mirror

import (
	"encoding/json"
	"strings"
)

// outputFormat is the requested output format: "text" (Markdown),
// "json_object" or "json_schema" with its schema.
type outputFormat struct {
	Type   string
	Schema json.RawMessage
}

// responsesFormat reads the Responses API's text.format.
func responsesFormat(text json.RawMessage) outputFormat {
	var t struct {
		Format struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	}
	if json.Unmarshal(text, &t) != nil || t.Format.Type == "" {
		return outputFormat{Type: "text"}
	}
	return outputFormat{Type: t.Format.Type, Schema: t.Format.Schema}
}

// chatFormat reads the Chat Completions API's response_format.
func chatFormat(rf json.RawMessage) outputFormat {
	var f struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(rf, &f) != nil || f.Type == "" {
		return outputFormat{Type: "text"}
	}
	return outputFormat{Type: f.Type, Schema: f.JSONSchema.Schema}
}

// answer is the mirror's reply in the requested format: Markdown for
// text, else JSON (a summary object for json_object, an instance of the
// schema for json_schema) so that structured-output code keeps working.
func answer(in prompt, f outputFormat) string {
	switch f.Type {
	case "json_object":
		b, _ := json.Marshal(summarize(in))
		return string(b)
	case "json_schema":
		var schema any
		if json.Unmarshal(f.Schema, &schema) != nil {
			schema = map[string]any{"type": "object"}
		}
		g := schemaGen{root: schema, fill: "mirror: " + quote(lastUser(in.Turns), 60)}
		b, _ := json.Marshal(g.instance(schema, 0))
		return string(b)
	}
	return markdownAnswer(in)
}

func lastUser(turns []turn) string {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].Role == "user" {
			return turns[i].Text
		}
	}
	return ""
}

type summary struct {
	Model         string   `json:"model"`
	Instructions  string   `json:"instructions"`
	EarlierTurns  int      `json:"earlier_turns"`
	EarlierQuotes []string `json:"earlier_user_messages"`
	YouSaid       string   `json:"you_said"`
	Note          string   `json:"note"`
}

func summarize(in prompt) summary {
	s := summary{Model: in.Model, Instructions: quote(in.Instructions, instrQuoteLen), EarlierQuotes: []string{},
		Note: "offline mirror model: it only reflects what it receives"}
	var users []string
	for _, t := range in.Turns {
		if t.Role == "user" {
			users = append(users, t.Text)
		}
	}
	if len(users) > 0 {
		s.YouSaid = quote(users[len(users)-1], lastQuoteLen)
		users = users[:len(users)-1]
	}
	s.EarlierTurns = len(users)
	for _, u := range users[max(0, len(users)-maxEarlierQuoted):] {
		s.EarlierQuotes = append(s.EarlierQuotes, quote(u, earlierQuoteLen))
	}
	return s
}

// schemaGen builds a small instance of a JSON schema (the subset structured
// outputs allow: objects, arrays, scalars, enum, const, anyOf, $ref).
type schemaGen struct {
	root any
	fill string // the value of string fields
}

func (g *schemaGen) instance(s any, depth int) any {
	m, ok := s.(map[string]any)
	if !ok || depth > 8 {
		return nil
	}
	if ref, ok := m["$ref"].(string); ok {
		return g.instance(g.resolve(ref), depth+1)
	}
	if c, ok := m["const"]; ok {
		return c
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := m[k].([]any); ok && len(alts) > 0 {
			return g.instance(alts[0], depth+1)
		}
	}
	typ := m["type"]
	if ts, ok := typ.([]any); ok && len(ts) > 0 { // ["string","null"]
		typ = ts[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		if props, ok := m["properties"].(map[string]any); ok {
			for k, p := range props {
				out[k] = g.instance(p, depth+1)
			}
		}
		return out
	case "array":
		n := 1
		if v, ok := m["minItems"].(float64); ok && int(v) > n {
			n = min(int(v), 10)
		}
		out := make([]any, 0, n)
		for range n {
			out = append(out, g.instance(m["items"], depth+1))
		}
		return out
	case "string":
		return g.fill
	case "integer", "number":
		if v, ok := m["minimum"].(float64); ok {
			return v
		}
		return 0
	case "boolean":
		return false
	}
	return nil
}

// resolve follows a local reference like "#/$defs/Step".
func (g *schemaGen) resolve(ref string) any {
	path, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	cur := g.root
	for seg := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)]
	}
	return cur
}
