package llm

import (
	"math"
	"testing"
)

func TestUsageAdd(t *testing.T) {
	got := Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}.Add(Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3})
	if got != (Usage{11, 7, 18}) {
		t.Fatalf("Usage() = %+v", got)
	}
}

func TestCost(t *testing.T) {
	u := Usage{InputTokens: 2_000_000, OutputTokens: 500_000}
	nano, _ := PriceOf("gpt-4.1-nano")
	for model, want := range map[string]Price{
		"gpt-4.1-nano-2025-04-14": nano,
		"gpt-4o-mini-2024-07-18":  {0.15, 0.60}, // gpt-4o-mini, not gpt-4o
		"gpt-4o-2024-08-06":       {2.50, 10},
		"gpt-4-turbo-2024-04-09":  {10, 30},
	} {
		p, known := PriceOf(model)
		if !known || p != want {
			t.Errorf("PriceOf(%q) = %v, %v; want %v", model, p, known, want)
		}
	}
	usd, known := Cost("gpt-4.1-nano-2025-04-14", u)
	if want := 2*nano.Input + 0.5*nano.Output; !known || math.Abs(usd-want) > 1e-12 {
		t.Fatalf("Cost = %v, %v; want %v", usd, known, want)
	}
	for _, m := range []string{"llama3", "gpt-4.1nano", "", "gpt-4.10"} {
		if usd, known := Cost(m, u); known || usd != 0 {
			t.Errorf("Cost(%q) = %v, %v; want unknown", m, usd, known)
		}
	}
	SetPrice("llama3", Price{Input: 1, Output: 3})
	t.Cleanup(func() {
		pricesMu.Lock()
		delete(prices, "llama3")
		pricesMu.Unlock()
	})
	if usd, known := Cost("llama3-70b", u); !known || math.Abs(usd-3.5) > 1e-12 {
		t.Fatalf("Cost after SetPrice = %v, %v; want 3.5", usd, known)
	}
}
