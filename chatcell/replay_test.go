//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/openaitest"
)

// A teacher runs a lesson once against a real model with GONBCHAT_RECORD; students (and CI)
// replay it with GONBCHAT_REPLAY and no key: the same answers, labelled replayed, and the
// offline mirror (labelled offline) for anything not recorded.
func TestRecordThenReplay(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	rec := t.TempDir()
	srv := openaitest.NewServer(openaitest.WithPace(0))
	srv.Handler().Script("流冰是從北方漂來的海冰。", "網走和紋別看得到。", "二月最好。")
	t.Setenv(chatcell.EnvRecord, rec)
	live := []chatcell.ConnOption{chatcell.WithBaseURL(srv.URL), chatcell.WithAPIKey("sk-teacher-key-0123456789abcdef")}
	chat := chatcell.New(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), live[0], live[1])
	var want []string
	for _, q := range []string{"你知道什麼是流冰嗎？", "哪裡看得到？"} {
		r, err := chat.Reply(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	hist := chatcell.NewHistList(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), live[0], live[1])
	h, _ := hist.Reply(context.Background(), "最好的季節？")
	want = append(want, h)
	srv.Close()
	t.Setenv(chatcell.EnvRecord, "")

	// A student with no key, the server gone.
	t.Setenv(chatcell.EnvReplay, rec)
	student := chatcell.New(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet())
	if student.Source() != chatcell.Replayed {
		t.Errorf("source = %s", student.Source())
	}
	for i, q := range []string{"你知道什麼是流冰嗎？", "哪裡看得到？"} {
		r, err := student.Reply(context.Background(), q)
		if err != nil || r != want[i] {
			t.Errorf("replayed %q = %q, %v; want %q", q, r, err, want[i])
		}
	}
	sh := chatcell.NewHistList(chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet())
	if r, err := sh.Reply(context.Background(), "最好的季節？"); err != nil || r != want[2] {
		t.Errorf("replayed hist = %q, %v", r, err)
	}
	// Not recorded: the mirror answers, and says so.
	r, err := chatcell.CreateContext(context.Background(), "一個沒錄過的問題", chatcell.WithQuiet())
	if err != nil || r.Source != chatcell.Offline || r.Text == "" {
		t.Errorf("unrecorded: %+v, %v", r, err)
	}
	r, err = chatcell.CreateContext(context.Background(), "你知道什麼是流冰嗎？", chatcell.WithQuiet())
	if err != nil || r.Source != chatcell.Replayed {
		t.Errorf("recorded one-shot: source %s, %v", r.Source, err)
	}
}
