package ledger

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB) *Ledger {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "sub", "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestRecordAndReport(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	loc := time.UTC
	d1 := time.Date(2025, 3, 1, 10, 0, 0, 0, loc)
	d2 := d1.AddDate(0, 0, 1)
	rows := []Row{
		{Time: d1, Student: "alice", Endpoint: "responses", Model: "m", InputTokens: 10, OutputTokens: 5, CostUSD: 0.01, Status: 200, Outcome: OK, ResponseID: "resp_a"},
		{Time: d1.Add(time.Minute), Student: "bob", Endpoint: "chat.completions", InputTokens: 7, OutputTokens: 3, Status: 200, Outcome: OK},
		{Time: d2, Student: "alice", Endpoint: "responses", InputTokens: 1, OutputTokens: 1, Status: 200, Outcome: OK},
		{Time: d2, Student: "alice", Endpoint: "responses", Status: 429, Outcome: Refused, Detail: "budget"},
		{Time: d2, Student: "alice", Endpoint: "responses.get", Status: 200, Outcome: OK},
	}
	for _, r := range rows {
		if err := l.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Rows(ctx, d1)
	if err != nil || len(got) != len(rows) || got[3].Detail != "budget" || got[1].Endpoint != "chat.completions" {
		t.Fatalf("Rows: %v %+v", err, got)
	}
	if u, err := l.ResponseUsage(ctx, "resp_a"); err != nil || u.Tokens != 15 {
		t.Errorf("ResponseUsage %+v %v", u, err)
	}
	s, _ := l.SpentSince(ctx, "alice", d1)
	if s.Tokens != 17 || s.USD != 0.01 {
		t.Errorf("alice spent %+v", s)
	}
	s, _ = l.SpentSince(ctx, "", d2)
	if s.Tokens != 2 {
		t.Errorf("class spent since d2 %+v", s)
	}
	per, _ := l.PerStudent(ctx, d1)
	if len(per) != 2 || per[0].Student != "alice" || per[0].Requests != 3 || per[0].Refused != 1 || per[0].Tokens() != 17 || per[1].Tokens() != 10 {
		t.Errorf("PerStudent %+v", per)
	}
	days, _ := l.PerDay(ctx, d1, loc)
	if len(days) != 3 || days[0].Day != "2025-03-01" || days[0].Student != "alice" || days[1].Student != "bob" || days[2].Day != "2025-03-02" {
		t.Errorf("PerDay %+v", days)
	}
}

func TestOwnership(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	if err := l.Own(ctx, "resp_1", "alice"); err != nil {
		t.Fatal(err)
	}
	l.Own(ctx, "resp_1", "bob") // first owner stays
	if o, _ := l.Owner(ctx, "resp_1"); o != "alice" {
		t.Errorf("owner %q", o)
	}
	if o, _ := l.Owner(ctx, "resp_x"); o != "" {
		t.Errorf("unknown owner %q", o)
	}
	l.Disown(ctx, "resp_1")
	if o, _ := l.Owner(ctx, "resp_1"); o != "" {
		t.Errorf("after disown %q", o)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(filepath.Join(dir, "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := l.AddToken(ctx, "alice")
	if err != nil || !strings.HasPrefix(tok, TokenPrefix) || len(tok) < 40 {
		t.Fatalf("%q %v", tok, err)
	}
	if n, _ := l.TokenOwner(ctx, tok); n != "alice" {
		t.Errorf("owner %q", n)
	}
	if n, _ := l.TokenOwner(ctx, tok+"x"); n != "" {
		t.Errorf("wrong token owner %q", n)
	}
	tok2, _ := l.AddToken(ctx, "alice")
	if n, _ := l.TokenOwner(ctx, tok); n != "" {
		t.Error("old token still works after reissue")
	}
	if _, err := l.AddToken(ctx, "bad name"); err == nil {
		t.Error("bad name accepted")
	}
	list, _ := l.Tokens(ctx)
	if len(list) != 1 || list[0].Name != "alice" {
		t.Errorf("Tokens %+v", list)
	}
	l.Close()
	// only the hash is stored
	l, _ = Open(filepath.Join(dir, "l.db"))
	defer l.Close()
	var n int
	l.db.QueryRow(`SELECT COUNT(*) FROM tokens WHERE hash = ?`, tok2).Scan(&n)
	if n != 0 {
		t.Error("token stored in clear")
	}
	if ok, _ := l.RevokeToken(ctx, "alice"); !ok {
		t.Error("revoke")
	}
	if n, _ := l.TokenOwner(ctx, tok2); n != "" {
		t.Error("revoked token works")
	}
}

func TestConcurrentRecords(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := l.Record(ctx, Row{Time: time.Now(), Student: string(rune('a' + i%26)), Endpoint: "responses", InputTokens: 1, Status: 200, Outcome: OK}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s, _ := l.SpentSince(ctx, "", time.Time{})
	if s.Tokens != 600 {
		t.Errorf("lost rows: %d of 600", s.Tokens)
	}
}
