// Package recorded gives the tests of package mirror and package openaitest the real OpenAI
// traffic recorded in mirror/testdata/openai-recorded (see the README.txt there), and helpers
// to compare a reply with it: SSE parsing and the key paths of JSON values. It is imported by
// tests only.
package recorded

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Dir is the recordings' directory, relative to a package directory at the top of the module
// (where go test runs the tests of mirror and openaitest).
const Dir = "../mirror/testdata/openai-recorded"

// Read returns the recording name.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Event is one server-sent event: its "event:" name (may be empty) and data.
type Event struct {
	Name string
	Data string
}

// ParseSSE splits a raw SSE body into events, failing on lines that are neither "event:" nor
// "data:" (the real API sends no other field).
func ParseSSE(t testing.TB, b []byte) []Event {
	t.Helper()
	var out []Event
	for block := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n\n") {
		var ev Event
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data += strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected SSE line %q", line)
			}
		}
		out = append(out, ev)
	}
	return out
}

// Decode decodes a JSON object.
func Decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return m
}

// KeyPaths lists every key path of a JSON value, ignoring values: objects give "a.b", arrays
// "a[]" (the union over their elements).
func KeyPaths(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out[p] = true
				walk(p, c)
			}
		case []any:
			for _, c := range x {
				walk(prefix+"[]", c)
			}
		}
	}
	walk("", v)
	return out
}

// KeyDiff compares key paths: missing are in want only, extra in got only. Extra paths listed
// in allowExtra (newer API fields, see NewestResponseKeys) are not reported.
func KeyDiff(got, want, allowExtra map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] && !allowExtra[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

// AssertSameKeys fails t when got and want do not have the same key paths.
func AssertSameKeys(t testing.TB, what string, got, want any, allowExtra map[string]bool) {
	t.Helper()
	missing, extra := KeyDiff(KeyPaths(got), KeyPaths(want), allowExtra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: keys missing %v, extra %v", what, missing, extra)
	}
}

// WithPrefix prefixes every path of keys.
func WithPrefix(prefix string, keys map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range keys {
		out[prefix+k] = true
	}
	return out
}

// NewestResponseKeys are the key paths of the response object in the newest recording
// (gpt-4.1, 2026-06). Older recordings lack some of them (moderation, reasoning.context, ...); a
// server may send those extra keys.
func NewestResponseKeys(t testing.TB) map[string]bool {
	t.Helper()
	evs := ParseSSE(t, Read(t, "pydantic-ai__responses_stream_markdown_hr_bold_list.0.status200.sse"))
	resp := Decode(t, evs[0].Data)["response"].(map[string]any)
	delete(resp, "tools") // MCP tools of that recording
	return KeyPaths(resp)
}

// Collapse merges runs of the same event type (the deltas).
func Collapse(types []string) []string {
	return slices.Compact(slices.Clone(types))
}

// EventTypes lists the "type" of each event's data.
func EventTypes(t testing.TB, evs []Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		out = append(out, Decode(t, ev.Data)["type"].(string))
	}
	return out
}

// FirstOfType returns the first event's data with the given type (and, for item events, whose
// item belongs to a message).
func FirstOfType(t testing.TB, evs []Event, typ string) map[string]any {
	t.Helper()
	for _, ev := range evs {
		m := Decode(t, ev.Data)
		if m["type"] != typ {
			continue
		}
		if it, ok := m["item"].(map[string]any); ok && it["type"] != "message" {
			continue
		}
		return m
	}
	t.Fatalf("no %s event", typ)
	return nil
}

// Post sends body to url and returns the status, the raw reply and its headers.
func Post(t testing.TB, url string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}
