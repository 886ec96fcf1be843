package mirror_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/mirror"
)

// TestHelperCell is not a test: run as a child process, it plays one
// notebook cell that sends one message with a store directory and prints
// the new response id.
func TestHelperCell(t *testing.T) {
	dir := os.Getenv("MIRROR_CELL_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	c := newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir)))
	p := responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput(os.Getenv("MIRROR_CELL_MSG"))}
	if prev := os.Getenv("MIRROR_CELL_PREV"); prev != "" {
		p.PreviousResponseID = openai.String(prev)
	}
	_, _, r := streamText(t, c.Responses.NewStreaming(context.Background(), p))
	fmt.Printf("ID=%s\n", r.ID)
}

// runCell runs TestHelperCell in a new process and returns the response id.
func runCell(t *testing.T, dir, msg, prev string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCell$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MIRROR_CELL_DIR="+dir, "MIRROR_CELL_MSG="+msg, "MIRROR_CELL_PREV="+prev)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cell process: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if id, ok := strings.CutPrefix(line, "ID="); ok {
			return id
		}
	}
	t.Fatalf("no id in\n%s", out)
	return ""
}

// Each GoNB cell is a new process: a chain begun in one is continued in the next.
func TestFileStoreAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	id1 := runCell(t, dir, "我叫小明。", "")
	id2 := runCell(t, dir, "I study Go.", id1)

	c := newInProcessClient(mirror.NewHandler(mirror.WithPace(0), mirror.WithStoreDir(dir)))
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4.1-nano", Input: userInput("我叫什麼？"), PreviousResponseID: openai.String(id2),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := r.OutputText()
	for _, want := range []string{"2 earlier turns", "我叫小明。", "I study Go.", "我叫什麼？"} {
		if !strings.Contains(out, want) {
			t.Errorf("reply lacks %q:\n%s", want, out)
		}
	}
}
