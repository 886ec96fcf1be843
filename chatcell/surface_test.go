//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

// Both chat types answer the same usage, cost and error verbs: after a live turn the cost is
// the price table's for the model the server named and the usage the chat counted; the offline
// model has no price.
func TestBothChatTypesCost(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	type costly interface {
		Reply(context.Context, string, ...CallOption) (string, error)
		Cost() (float64, bool)
		Usage() llm.Usage
		LastUsage() llm.Usage
		Turns() int
		Requests() int
		Err() error
	}
	for name, c := range map[string]costly{
		"Chat":             New(chatOpts(srv, dir, WithName("cost1"))...),
		"ChatWithHistList": NewHistList(histOpts(srv, dir, WithName("cost2"))...),
	} {
		if usd, known := c.Cost(); usd != 0 {
			t.Errorf("%s: cost %v (known %v) before any turn", name, usd, known)
		}
		for _, q := range []string{"你知道什麼是流冰嗎？", "哪裡看得到？"} {
			if _, err := c.Reply(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		u := c.Usage()
		want, ok := llm.Cost(DefaultModel, u)
		usd, known := c.Cost()
		if !ok || !known || usd <= 0 || math.Abs(usd-want) > 1e-12 {
			t.Errorf("%s: Cost() = %v, %v; want %v for %+v", name, usd, known, want, u)
		}
		if c.Turns() != 2 || c.Requests() != 2 || u.TotalTokens <= c.LastUsage().TotalTokens || c.Err() != nil {
			t.Errorf("%s: turns %d, requests %d, usage %+v, last %+v, err %v", name, c.Turns(), c.Requests(), u, c.LastUsage(), c.Err())
		}
	}
	off := New(WithOffline(), WithOfflinePace(0), WithStateDir(""), WithQuiet())
	off.Reply(context.Background(), "hi")
	if usd, known := off.Cost(); known || usd != 0 {
		t.Errorf("offline: Cost() = %v, %v; want unknown", usd, known)
	}
}

// History hands out a copy: what is done to it does not reach the chat, and a later Load or
// turn does not change it under its holder.
func TestHistoryIsACopy(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	chat := NewHistList(histOpts(srv, dir, WithName("copy"))...)
	if _, err := chat.Reply(context.Background(), "一"); err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(t.TempDir(), "one.gob")
	if err := chat.Save(save); err != nil {
		t.Fatal(err)
	}
	h := chat.History()
	if h.Len() != 2 {
		t.Fatalf("History has %d messages, want 2", h.Len())
	}
	if err := h.Append(llm.UserMsg("injected")); err != nil {
		t.Fatal(err)
	}
	h.Pin(0)
	if got := chat.Messages(); len(got) != 2 || got[0].Pinned {
		t.Errorf("a change to History's list reached the chat: %+v", got)
	}
	// The chat's next turn, in this process and in another (a new cell), ignores the change too.
	if _, err := chat.Reply(context.Background(), "二"); err != nil {
		t.Fatal(err)
	}
	again := NewHistList(histOpts(srv, dir, WithName("copy"))...)
	for _, m := range again.Messages() {
		if m.Content == "injected" {
			t.Error("the message appended to History's copy was kept")
		}
	}
	if h.Len() != 3 {
		t.Errorf("the chat's turn changed the copy: %d messages", h.Len())
	}
	if err := chat.Load(save); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 3 || len(chat.Messages()) != 2 {
		t.Errorf("after Load: copy %d, chat %d messages", h.Len(), len(chat.Messages()))
	}
}
