package llm

import (
	"fmt"
	"strings"
	"sync"
)

// Usage counts tokens: of one request, or summed over a chat.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
	TotalTokens  int64
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.InputTokens + v.InputTokens, u.OutputTokens + v.OutputTokens, u.TotalTokens + v.TotalTokens}
}

func (u Usage) String() string {
	return fmt.Sprintf("input %d · output %d · total %d", u.InputTokens, u.OutputTokens, u.TotalTokens)
}

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 // USD per 1M input (prompt) tokens
	Output float64 // USD per 1M output (completion) tokens, reasoning included
}

// PricesAsOf dates the built-in price table. The prices are OpenAI's standard list prices
// for uncached input at that date, from memory of the public pricing page: an ESTIMATE for
// learning what a chat costs, not a bill. Override or extend them with SetPrice.
const PricesAsOf = "2025-08-15"

var (
	pricesMu sync.RWMutex
	prices   = map[string]Price{
		"gpt-5":         {1.25, 10},
		"gpt-5-mini":    {0.25, 2},
		"gpt-5-nano":    {0.05, 0.40},
		"gpt-4.1":       {2, 8},
		"gpt-4.1-mini":  {0.40, 1.60},
		"gpt-4.1-nano":  {0.10, 0.40},
		"gpt-4o":        {2.50, 10},
		"gpt-4o-mini":   {0.15, 0.60},
		"gpt-4-turbo":   {10, 30},
		"gpt-4":         {30, 60},
		"gpt-3.5-turbo": {0.50, 1.50},
		"o1":            {15, 60},
		"o3":            {2, 8},
		"o3-mini":       {1.10, 4.40},
		"o4-mini":       {1.10, 4.40},
	}
)

// SetPrice sets the price of a model (and of its dated snapshots, see Cost), replacing the
// built-in one if any. It is how a course adds its provider's models.
func SetPrice(model string, p Price) {
	pricesMu.Lock()
	defer pricesMu.Unlock()
	prices[model] = p
}

// PriceOf returns the price of a model: the entry of its exact name, or else of the longest
// name that, followed by "-", starts it, so that a dated snapshot such as
// "gpt-4.1-nano-2025-04-14" costs what "gpt-4.1-nano" costs (and "gpt-4o-mini-..." what
// "gpt-4o-mini", not "gpt-4o", costs). known is false for a model it does not know.
func PriceOf(model string) (p Price, known bool) {
	pricesMu.RLock()
	defer pricesMu.RUnlock()
	if p, ok := prices[model]; ok {
		return p, true
	}
	best := ""
	for name := range prices {
		if len(name) > len(best) && strings.HasPrefix(model, name+"-") {
			best = name
		}
	}
	if best == "" {
		return Price{}, false
	}
	return prices[best], true
}

// Cost estimates what usage u cost with model, in US dollars (see PricesAsOf). known is
// false, and usd 0, for a model with no price.
func Cost(model string, u Usage) (usd float64, known bool) {
	p, ok := PriceOf(model)
	if !ok {
		return 0, false
	}
	return (float64(u.InputTokens)*p.Input + float64(u.OutputTokens)*p.Output) / 1e6, true
}
