package ledger

import (
	"context"
	"testing"
	"time"
)

func BenchmarkRecord(b *testing.B) {
	l := open(b)
	ctx := context.Background()
	for b.Loop() {
		l.Record(ctx, Row{Time: time.Now(), Student: "alice", Endpoint: "responses", InputTokens: 1, Status: 200, Outcome: OK})
	}
}

func BenchmarkSpentSince(b *testing.B) {
	l := open(b)
	ctx := context.Background()
	for i := range 1000 {
		l.Record(ctx, Row{Time: time.Now(), Student: string(rune('a' + i%30)), Endpoint: "responses", InputTokens: 1, Status: 200, Outcome: OK})
	}
	since := time.Now().Add(-time.Hour)
	for b.Loop() {
		l.SpentSince(ctx, "", since)
	}
}

func BenchmarkTokenOwner(b *testing.B) {
	l := open(b)
	ctx := context.Background()
	tok, _ := l.AddToken(ctx, "alice")
	for b.Loop() {
		l.TokenOwner(ctx, tok)
	}
}
