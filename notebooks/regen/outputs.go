package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// message is one message of a cell, as run_notebook.py records it.
type message struct {
	MsgType string         `json:"msg_type"`
	Content map[string]any `json:"content"`
}

// cellRun is one code cell of run_notebook.py's document.
type cellRun struct {
	Index    int       `json:"index"`
	Source   string    `json:"source"`
	Status   string    `json:"status"`
	Messages []message `json:"messages"`
}

// runDoc is run_notebook.py's document.
type runDoc struct {
	Notebook string    `json:"notebook"`
	Aborted  string    `json:"aborted"`
	Cells    []cellRun `json:"cells"`
}

// outputs turns what a cell published into the outputs a Jupyter front end would save: a
// display_data per display, updated in place by update_display_data; consecutive stream text of
// one name merged; execute_result and error as they came. Input prompts and their answers,
// which front ends show but do not save, are kept as stdout text (">>> 你知道什麼是流冰嗎？"), so
// that a reader sees what was typed; a prompt is placed after the notes (display_data without
// an id) that arrived just after it, which belong to the reply before it (see promptsAfterNotes). Displays that end
// empty (the thinking indicator of a reply that failed, a script companion) are left out, and
// the "updates" count, a timing artifact, is dropped from their metadata.
func outputs(msgs []message, executionCount int) []map[string]any {
	msgs = promptsAfterNotes(msgs)
	var outs []map[string]any
	byID := map[string][]int{} // display_id -> indexes in outs
	for _, m := range msgs {
		c := m.Content
		switch m.MsgType {
		case "stream":
			name, _ := c["name"].(string)
			text, _ := c["text"].(string)
			outs = appendStream(outs, name, text)
		case "input_request":
			prompt, _ := c["prompt"].(string)
			outs = appendStream(outs, "stdout", prompt)
		case "input_reply":
			value, _ := c["value"].(string)
			outs = appendStream(outs, "stdout", value+"\n")
		case "display_data":
			out := map[string]any{"output_type": "display_data", "data": c["data"], "metadata": cleanMetadata(c["metadata"])}
			outs = append(outs, out)
			if id := displayID(c); id != "" {
				byID[id] = append(byID[id], len(outs)-1)
			}
		case "update_display_data":
			for _, i := range byID[displayID(c)] {
				outs[i]["data"] = c["data"]
				outs[i]["metadata"] = cleanMetadata(c["metadata"])
			}
		case "execute_result":
			outs = append(outs, map[string]any{"output_type": "execute_result", "execution_count": executionCount,
				"data": c["data"], "metadata": cleanMetadata(c["metadata"])})
		case "error":
			outs = append(outs, map[string]any{"output_type": "error", "ename": c["ename"], "evalue": c["evalue"],
				"traceback": c["traceback"]})
		}
	}
	kept := outs[:0]
	for _, o := range outs {
		if (o["output_type"] == "display_data" || o["output_type"] == "execute_result") && emptyData(o["data"]) {
			continue
		}
		kept = append(kept, o)
	}
	return kept
}

// promptsAfterNotes moves each input request (and its answer) past the updates and anonymous
// display_data messages that follow it: the end of the previous reply (its last update, its
// usage line) and the prompt for the next line race, and the reply belongs before the prompt.
// An update adds no output, so only the notes change place.
func promptsAfterNotes(msgs []message) []message {
	out := append([]message(nil), msgs...)
	for i := 0; i < len(out); i++ {
		if out[i].MsgType != "input_request" {
			continue
		}
		n := 1
		if i+1 < len(out) && out[i+1].MsgType == "input_reply" {
			n = 2
		}
		j := i + n
		for j < len(out) && (out[j].MsgType == "update_display_data" ||
			out[j].MsgType == "display_data" && displayID(out[j].Content) == "") {
			j++
		}
		if j == i+n {
			continue
		}
		pair := append([]message(nil), out[i:i+n]...)
		copy(out[i:], out[i+n:j])
		copy(out[j-n:], pair)
		i = j - 1
	}
	return out
}

func appendStream(outs []map[string]any, name, text string) []map[string]any {
	if text == "" {
		return outs
	}
	if k := len(outs) - 1; k >= 0 && outs[k]["output_type"] == "stream" && outs[k]["name"] == name {
		outs[k]["text"] = outs[k]["text"].(string) + text
		return outs
	}
	return append(outs, map[string]any{"output_type": "stream", "name": name, "text": text})
}

func displayID(c map[string]any) string {
	t, _ := c["transient"].(map[string]any)
	id, _ := t["display_id"].(string)
	return id
}

// cleanMetadata drops the timing artifacts of a display's metadata.
func cleanMetadata(v any) map[string]any {
	md, _ := v.(map[string]any)
	out := map[string]any{}
	for k, val := range md {
		if g, ok := val.(map[string]any); ok && k == "gonbchat" {
			cp := map[string]any{}
			for gk, gv := range g {
				if gk != "updates" {
					cp[gk] = gv
				}
			}
			val = cp
		}
		out[k] = val
	}
	return out
}

func emptyData(v any) bool {
	data, _ := v.(map[string]any)
	for _, val := range data {
		if s, ok := val.(string); !ok || strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// normalizer renumbers what differs from run to run: response, message and completion ids
// (each id keeps its shape and is replaced consistently throughout a notebook, so that the
// outputs still agree with each other) and Unix timestamps in JSON.
type normalizer struct {
	ids map[string]string
	n   map[string]int
}

func newNormalizer() *normalizer { return &normalizer{ids: map[string]string{}, n: map[string]int{}} }

var (
	idPattern   = regexp.MustCompile(`\b(resp_|msg_)[0-9a-f]{50}\b|\bchatcmpl-[A-Za-z0-9]{29}\b`)
	timePattern = regexp.MustCompile(`((?:\\?"|&#34;|&quot;)(?:created_at|created|completed_at)(?:\\?"|&#34;|&quot;)\s*:\s*)\d{9,11}\b`)
)

// fixedTime replaces every timestamp: 2023-11-14T22:13:20Z.
const fixedTime = "1700000000"

func (z *normalizer) string(s string) string {
	s = idPattern.ReplaceAllStringFunc(s, func(id string) string {
		if r, ok := z.ids[id]; ok {
			return r
		}
		prefix, rest := "chatcmpl-", id[len("chatcmpl-"):]
		if p, r, ok := strings.Cut(id, "_"); ok && !strings.HasPrefix(id, "chatcmpl-") {
			prefix, rest = p+"_", r
		}
		z.n[prefix]++
		sum := sha256.Sum256(fmt.Appendf(nil, "gonbchat notebook %s%d", prefix, z.n[prefix]))
		r := prefix + strings.Repeat(hex.EncodeToString(sum[:]), 2)[:len(rest)]
		z.ids[id] = r
		return r
	})
	return timePattern.ReplaceAllString(s, "${1}"+fixedTime)
}

// walk normalizes every string in v (a decoded JSON value), in place where it can.
func (z *normalizer) walk(v any) any {
	switch x := v.(type) {
	case string:
		return z.string(x)
	case []any:
		for i := range x {
			x[i] = z.walk(x[i])
		}
		return x
	case map[string]any:
		// In key order: ids are numbered in the order they are first seen.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			x[k] = z.walk(x[k])
		}
		return x
	case []map[string]any:
		for _, m := range x {
			z.walk(m)
		}
		return x
	}
	return v
}

// splitLines writes multi-line strings as nbformat does: a list of lines, each but the last
// ending in "\n".
func splitLines(s string) []any {
	var out []any
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// nbformatOutput writes the text of an output (stream text, MIME data) as lists of lines.
func nbformatOutput(o map[string]any) map[string]any {
	if t, ok := o["text"].(string); ok {
		o["text"] = splitLines(t)
	}
	if data, ok := o["data"].(map[string]any); ok {
		cp := map[string]any{}
		for k, v := range data {
			if s, ok := v.(string); ok && (strings.HasPrefix(k, "text/") || k == "image/svg+xml") {
				cp[k] = splitLines(s)
			} else {
				cp[k] = v
			}
		}
		o["data"] = cp
	}
	return o
}

// encodeNotebook writes a notebook as Jupyter does: one-space indent, sorted keys, text as is
// (no HTML escaping), a final newline.
func encodeNotebook(nb any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeJSON decodes with numbers kept as written.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// fill puts the outputs of a run into the notebook nb (decoded JSON): every code cell gets its
// outputs and an execution count, in order; other fields are kept as they are.
func fill(nb map[string]any, run *runDoc) error {
	cells, _ := nb["cells"].([]any)
	byIndex := map[int]*cellRun{}
	for i := range run.Cells {
		byIndex[run.Cells[i].Index] = &run.Cells[i]
	}
	z := newNormalizer()
	count := 0
	for i, c := range cells {
		cell, _ := c.(map[string]any)
		if cell == nil || cell["cell_type"] != "code" {
			continue
		}
		r := byIndex[i]
		if r == nil {
			return fmt.Errorf("code cell %d was not run", i)
		}
		if src := sourceText(cell["source"]); src != r.Source {
			return fmt.Errorf("code cell %d: the run's source differs from the notebook's (was the notebook edited during the run?)", i)
		}
		count++
		outs := outputs(r.Messages, count)
		list := make([]any, 0, len(outs))
		for _, o := range outs {
			list = append(list, nbformatOutput(z.walk(o).(map[string]any)))
		}
		cell["outputs"] = list
		cell["execution_count"] = count
	}
	return nil
}

func sourceText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, l := range x {
			s, _ := l.(string)
			b.WriteString(s)
		}
		return b.String()
	}
	return ""
}
