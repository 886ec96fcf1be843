package history

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

// The example of openai2's 对话导出与导入 section, as Python writes it with
// json.dumps(record, ensure_ascii=False).
const ariel = `[{"role": "user", "content": "自然数1的后面是几?"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "再往后是几?"}, {"role": "assistant", "content": "3"}]`

func TestJSONRoundTripOpenAI2Example(t *testing.T) {
	var l List
	if err := l.ImportJSON([]byte(ariel)); err != nil {
		t.Fatal(err)
	}
	wantMsgs(t, &l, "user:自然数1的后面是几?", "assistant:2", "user:再往后是几?", "assistant:3")
	for _, m := range l.Messages() {
		if !m.Forged {
			t.Fatal("imported message not marked forged")
		}
	}
	out, err := l.ExportJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("自然数1的后面是几?")) || bytes.Contains(out, []byte(`\u`)) {
		t.Fatalf("export is not plain UTF-8:\n%s", out)
	}
	if bytes.Contains(out, []byte(`"name"`)) {
		t.Fatalf("export has a name field though none is set:\n%s", out)
	}
	// Same data as the Python text, field for field.
	var got, want []map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(ariel), &want)
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != 2 || got[i]["role"] != want[i]["role"] || got[i]["content"] != want[i]["content"] {
			t.Fatalf("message %d: got %v, want %v", i, got[i], want[i])
		}
	}
	// And back again.
	var l2 List
	if err := l2.ImportJSON(out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(brief(l2.Messages()), brief(l.Messages())) {
		t.Fatal("round trip changed the messages")
	}
}

func TestJSONNameAndHTML(t *testing.T) {
	out, err := MarshalMessages([]llm.Message{llm.UserMsg("a < b && c > d").WithName("Tony")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"name": "Tony"`)) || !bytes.Contains(out, []byte("a < b && c > d")) {
		t.Fatalf("got\n%s", out)
	}
	msgs, err := UnmarshalMessages(out)
	if err != nil || len(msgs) != 1 || msgs[0].Name != "Tony" || msgs[0].Content != "a < b && c > d" {
		t.Fatalf("got %+v, %v", msgs, err)
	}
}

func TestJSONImportRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]`, `JSON message 1: unknown role "tool"`},
		{`[{"content": "hi"}]`, `JSON message 0 has no "role"`},
		{`[{"role": "assistant", "content": null}]`, `JSON message 0 (assistant) has no "content"`},
		{`[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]`, `"content" must be a string`},
		{`[{"role": "user", "content": "hi", "name": "苏 轼"}]`, `name "苏 轼"`},
		{`{"role": "user", "content": "hi"}`, `want a JSON list of messages`},
		{`[{"role": "user", "content": "hi"`, `reading JSON messages`},
	}
	for _, tc := range tests {
		var l List
		l.SetSystem("keep me")
		err := l.ImportJSON([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ImportJSON(%s) = %v; want an error with %q", tc.in, err, tc.want)
		}
		if l.Len() != 1 {
			t.Errorf("a rejected import added messages")
		}
	}
}
