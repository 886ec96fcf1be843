package webchat

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janpfeifer/gonb/gonbui/protocol"

	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
)

// recorder is a notebook cell's output that keeps what is sent to it.
type recorder struct {
	mu   sync.Mutex
	sent []protocol.DisplayData
}

func (r *recorder) Notebook() bool { return true }
func (r *recorder) Send(d *protocol.DisplayData) {
	r.mu.Lock()
	r.sent = append(r.sent, *d)
	r.mu.Unlock()
}
func (r *recorder) Sync()                          {}
func (r *recorder) RequestInput(string, bool)      {}
func (r *recorder) Subscribe(string, func(string)) {}

func (r *recorder) displays() []protocol.DisplayData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.DisplayData(nil), r.sent...)
}

// TestLaunchDisplayChild is the cell of TestLaunchDisplaysOneWay: its output is a recorder
// installed as the kernel helper installs the cell's output.
func TestLaunchDisplayChild(t *testing.T) {
	if os.Getenv("WEBCHAT_DISPLAY_CHILD") == "" {
		t.Skip("run by TestLaunchDisplaysOneWay")
	}
	rec := &recorder{}
	gonbio.Install(gonbio.Helper{Output: func() gonbio.Output { return rec },
		Interrupt: func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }})
	env := launchEnv{notebook: true, out: io.Discard, errOut: io.Discard, frontend: func() kernelenv.Kind { return kernelenv.KindInteractive },
		getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- launch(ctx, testPersona, &fakeModel{}, env, WithLogger(nil), WithLanguage("zh-TW")) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(rec.displays()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ds := rec.displays()
	if len(ds) != 3 {
		t.Fatalf("%d displays, want the page, its stopped link and the stop line: %+v", len(ds), ds)
	}
	page, stopped := ds[0], ds[1]
	if h, _ := page.Data[protocol.MIMETextHTML].(string); page.DisplayID == "" || !strings.Contains(h, "<iframe") {
		t.Errorf("the page's display: %+v", page)
	}
	if h, _ := stopped.Data[protocol.MIMETextHTML].(string); stopped.DisplayID != page.DisplayID || !strings.Contains(h, "<s ") {
		t.Errorf("the stopped link does not replace the page: %+v", stopped)
	}
	if p, _ := ds[2].Data[protocol.MIMETextPlain].(string); !strings.Contains(p, "已停止") {
		t.Errorf("the stop line: %+v", ds[2])
	}
	fmt.Println("DISPLAYS-OK")
}

// Launch shows the page through package display, as chatcell shows its notices, never through
// gonbui itself: in kernel mode the helper writes a cell's displays, and a cell that also
// opened its GoNB pipe makes a second display stream, which GoNB cannot read (a chat's offline
// notice and then the page's link: "gob: duplicate type received", and the link never shows).
func TestLaunchDisplaysOneWay(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLaunchDisplayChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "WEBCHAT_DISPLAY_CHILD=1", "GONB_PIPE=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DISPLAYS-OK") {
		t.Fatalf("%v:\n%s", err, out)
	}
}
