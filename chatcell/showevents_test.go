//go:build !gonbchat_kernel

package chatcell

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/responses"
)

func completedEvent(t *testing.T, output string) responses.ResponseStreamEventUnion {
	t.Helper()
	raw := `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","model":"gpt-4.1-nano","status":"completed","output":` + output +
		`,"usage":{"input_tokens":11,"input_tokens_details":{"cached_tokens":0},"output_tokens":22,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":33}}}`
	var ev responses.ResponseStreamEventUnion
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// ShowEvents prints the final event in full, as the textbook's pprint(event) shows it: the usage,
// the text at output[0].content[0].text (the path the textbook prints), and the whole JSON,
// however long; other events are shortened to one line.
func TestShowEventsPrintsTheCompletedEventInFull(t *testing.T) {
	long := strings.Repeat("流冰", 300)
	ev := completedEvent(t, `[{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"`+long+`","annotations":[]}]}]`)
	line := eventLine(ev)
	for _, want := range []string{"usage: input_tokens=11 output_tokens=22 total_tokens=33", `output[0].content[0].text: "` + long + `"`, `"total_tokens":33}}}`} {
		if !strings.Contains(line, want) {
			t.Errorf("completed event line lacks %.80q:\n%.400s", want, line)
		}
	}
	if strings.HasSuffix(line, " …") {
		t.Error("the completed event was cut short")
	}

	// A reasoning model's output[0] is its reasoning: the textbook's path has no text there, and
	// the line says so rather than showing the message's text under that name.
	ev = completedEvent(t, `[{"type":"reasoning","id":"rs_1","summary":[]},{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"答案","annotations":[]}]}]`)
	if line := eventLine(ev); !strings.Contains(line, "output[0].content[0].text: (none)") {
		t.Errorf("reasoning first: %.300s", line)
	}
}
