package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The walk-through runs offline and shows what each step teaches.
func TestWalkThroughOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole example")
	}
	if os.Getenv("GONBCHAT_EXAMPLE_CHILD") != "" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestWalkThroughOffline$")
	cmd.Env = append(os.Environ(), "GONBCHAT_EXAMPLE_CHILD=1", "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "GONB_TMP_DIR=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"1 earlier turn", // chained with previous_response_id
		"400 Bad Request (previous_response_not_found): Previous response with id", // store=false cannot be chained
		"2 earlier turns",           // chat2 continues chat1 after Load
		"the thread has 6 messages", // Thread: every input item and the last reply
		"deleted 3 responses",       // DeleteThread walks back the whole chain
		"saved 4 messages",          // ChatWithHistList saved as gob
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
