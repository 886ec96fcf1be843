//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

func TestKeepAcrossCells(t *testing.T) {
	kernel := t.TempDir()
	t.Setenv("GONB_TMP_DIR", kernel)
	srv := newServer(t)
	r := Create("你知道什麼是流冰嗎？", createOpts(srv)...)
	if r.ID == "" {
		t.Fatal("no reply")
	}
	if got := Keep("response", r); got.ID != r.ID {
		t.Errorf("Keep returned %q, want the reply it kept (%q)", got.ID, r.ID)
	}
	// The next cell is another program: the reply must come from the kernel's directory.
	if _, err := os.Stat(filepath.Join(kernel, ".gonbchat", "kept", "response.json")); err != nil {
		t.Fatalf("Keep wrote nothing under the kernel's directory: %v", err)
	}
	got := Kept("response")
	if got.ID != r.ID || got.Text != r.Text || got.Usage != r.Usage || got.Raw != r.Raw || got.Source != r.Source {
		t.Errorf("Kept = %+v\nwant %+v", got, r)
	}
	// Chained onto the kept reply, as the textbook's response2 is.
	r2 := Create("哪裡看得到？", createOpts(srv, WithPreviousResponseID(Kept("response").ID))...)
	if r2.PreviousResponseID != r.ID || !strings.Contains(r2.Text, "1 earlier turn") {
		t.Errorf("the chained reply: previous %q, text:\n%s", r2.PreviousResponseID, r2.Text)
	}
	// Keeping again under the name replaces the reply, as assigning a variable again does.
	Keep("response", r2)
	if Kept("response").ID != r2.ID {
		t.Error("Keep did not replace the reply kept under the name")
	}

	// Another kernel does not see it.
	t.Setenv("GONB_TMP_DIR", t.TempDir())
	var missing Reply
	out := captureOutput(t, func() { missing = Kept("response") })
	if missing.ID != "" || !strings.Contains(out, `"response"`) || !strings.Contains(out, "chatcell.Keep") {
		t.Errorf("Kept of a reply another kernel kept = %+v, shown %q", missing, out)
	}
}

func TestKeepInMemoryOutsideGoNB(t *testing.T) {
	t.Setenv("GONB_TMP_DIR", "")
	Keep("mem-reply", Reply{ID: "resp_1", Text: "流冰"})
	if got := Kept("mem-reply"); got.ID != "resp_1" || got.Text != "流冰" {
		t.Errorf("Kept = %+v", got)
	}
	if _, found, err := kept("never-kept"); found || err != nil {
		t.Errorf("kept(never-kept) = found %v, err %v", found, err)
	}
}

func TestKeepRefusesBadNamesAndSpeaksTheLessonsLanguage(t *testing.T) {
	t.Setenv("GONB_TMP_DIR", t.TempDir())
	out := captureOutput(t, func() { Keep("../escape", Reply{ID: "resp_1"}) })
	if !strings.Contains(out, "../escape") {
		t.Errorf("a bad name was not refused with a line naming it: %q", out)
	}
	if err := keep("../escape", Reply{}); err == nil {
		t.Error("keep accepted ../escape")
	}
	t.Setenv(EnvLanguage, "zh-TW")
	out = captureOutput(t, func() { Kept("回應") })
	if !strings.Contains(out, "還沒有以 \"回應\" 保留的回覆") {
		t.Errorf("the missing line is not in the lesson's language: %q", out)
	}
}

func TestKeptFileCorruptIsMovedAside(t *testing.T) {
	kernel := t.TempDir()
	t.Setenv("GONB_TMP_DIR", kernel)
	Keep("r", Reply{ID: "resp_1"})
	path := filepath.Join(kernel, ".gonbchat", "kept", "r.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, found, err := kept("r")
	if found || err == nil || r.ID != "" {
		t.Fatalf("a corrupt kept file: found %v, err %v, reply %+v", found, err, r)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt file was not moved aside: %v", err)
	}
}

func TestDeleteOneStoredResponse(t *testing.T) {
	srv := newServer(t)
	first := Create("你知道什麼是流冰嗎？", createOpts(srv)...)
	second := Create("哪裡看得到？", createOpts(srv, WithPreviousResponseID(first.ID))...)
	ctx := context.Background()
	// The textbook's loop: retrieve, step back along previous_response_id, delete.
	n := 0
	for id := second.ID; id != ""; n++ {
		r, err := RetrieveContext(ctx, id, createOpts(srv)...)
		if err != nil {
			t.Fatalf("retrieve %s: %v", id, err)
		}
		if err := DeleteContext(ctx, id, createOpts(srv)...); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
		id = r.PreviousResponseID
	}
	if n != 2 {
		t.Errorf("deleted %d responses, want 2", n)
	}
	_, err := RetrieveContext(ctx, first.ID, createOpts(srv)...)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Errorf("retrieving a deleted response: %v", err)
	}
	// Deleting it again is the server's 404, shown as one line by Delete.
	out := captureOutput(t, func() { err = Delete(first.ID, WithBaseURL(srv.URL), WithAPIKey(testKey)) })
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(out, first.ID) {
		t.Errorf("deleting a deleted response: err %v, shown %q", err, out)
	}
	var deletes int
	for _, req := range srv.Handler().Requests() {
		if req.Method == "DELETE" {
			deletes++
		}
	}
	if deletes != 3 {
		t.Errorf("the server saw %d DELETE requests, want 3", deletes)
	}
}

func TestAppendAddsMessagesAsTheyAre(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	messages := NewHistList(histOpts(srv, dir, WithName("messages"))...)
	if err := messages.Append(llm.UserMsg("Hello!")); err != nil {
		t.Fatal(err)
	}
	data, err := NewEndpoint(createOpts(srv)...).Reply(context.Background(), messages.Messages())
	if err != nil {
		t.Fatal(err)
	}
	if err := messages.Append(data.Message()); err != nil {
		t.Fatal(err)
	}
	// The next cell sees both, unmarked: they were not forged.
	next := NewHistList(histOpts(srv, dir, WithName("messages"))...)
	msgs := next.Messages()
	if len(msgs) != 2 || msgs[0].Content != "Hello!" || msgs[1].Role != llm.Assistant || msgs[1].Content != data.Text {
		t.Fatalf("history = %+v", msgs)
	}
	for _, m := range msgs {
		if m.Forged {
			t.Errorf("Append marked %q forged", m.Content)
		}
	}
	// An invalid message adds nothing and says why.
	bad := llm.UserMsg("x").WithName("a b")
	if err := next.Append(llm.UserMsg("ok"), bad); err == nil {
		t.Error("Append accepted a message with an invalid name")
	}
	if n := len(next.Messages()); n != 2 {
		t.Errorf("a refused Append left %d messages, want 2", n)
	}
}
