package gateway

import (
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
)

func TestNiceStep(t *testing.T) {
	round := map[int64]bool{}
	for p := int64(1); p <= 1e9; p *= 10 {
		round[p], round[2*p], round[5*p] = true, true, true
		if p >= 10 {
			round[p/10*25] = true
		}
	}
	prev := int64(0)
	for v := int64(1); v <= 2_000_000; v += 1 + v/50 {
		s := niceStep(v)
		if s < v || !round[s] {
			t.Fatalf("niceStep(%d) = %d", v, s)
		}
		for r := range round {
			if r >= v && r < s {
				t.Fatalf("niceStep(%d) = %d, but %d is round and larger", v, s, r)
			}
		}
		if s < prev {
			t.Fatalf("niceStep(%d) = %d < %d", v, s, prev)
		}
		prev = s
	}
}

// The y axis is four equal steps of whole tokens, its top at or above the busiest day, and a
// day of refused requests only draws no bar.
func TestDrawChartScale(t *testing.T) {
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, total := range []int64{0, 1, 3, 7, 98, 945, 1001, 123_456} {
		days := []ledger.Usage{
			{Student: "a", Day: "2026-03-02", InputTokens: total},
			{Student: "b", Day: "2026-03-02", Requests: 1, Refused: 1},
		}
		c := drawChart([]ledger.Usage{{Student: "a"}, {Student: "b"}}, days, since, 14)
		if len(c.Ticks) != 5 || c.Ticks[0].Text != "0" {
			t.Fatalf("%d tokens: ticks %+v", total, c.Ticks)
		}
		seen := map[string]bool{}
		for _, tk := range c.Ticks {
			if seen[tk.Text] {
				t.Errorf("%d tokens: two ticks say %s: %+v", total, tk.Text, c.Ticks)
			}
			seen[tk.Text] = true
		}
		if total > 0 && len(c.Bars) != 1 || total == 0 && len(c.Bars) != 0 {
			t.Errorf("%d tokens: %d bars", total, len(c.Bars))
		}
		if total >= 3 && (c.Bars[0].Y < c.Top-0.01 || c.Bars[0].Y > c.Top+(c.Base-c.Top)*0.6) {
			t.Errorf("%d tokens: the bar's top is at %.1f, the plot from %.1f to %.1f", total, c.Bars[0].Y, c.Top, c.Base)
		}
		if total == 0 != c.Empty {
			t.Errorf("%d tokens: empty %v", total, c.Empty)
		}
	}
}
