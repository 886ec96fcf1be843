package history

import "github.com/gonbchat/gonbchat/internal/kernel"

// In gonbchat's kernel mode (see internal/kernel) a chat runs in the kernel's helper process:
// the strategies given to chatcell.WithTrim cross as data. SlidingWindow does, and TokenBudget
// with a counter that names its encoding (package history/tokens); Summarize and counters of
// your own hold functions, which cannot.
func init() { kernel.StrategySpec = strategySpec }

func strategySpec(s any) (kernel.StrategyData, bool) {
	switch s := s.(type) {
	case windowStrategy:
		return kernel.StrategyData{Kind: "window", N: s.turns}, true
	case tokenStrategy:
		d := kernel.StrategyData{Kind: "tokens", N: s.budget}
		if s.counter != nil {
			enc, ok := s.counter.(interface{ Encoding() string })
			if !ok {
				d.Err = "TokenBudget: a token counter of your own cannot reach the kernel's gonbchat helper (kernel mode): use one of package history/tokens"
				return d, true
			}
			d.Counter = enc.Encoding()
		}
		return d, true
	}
	return kernel.StrategyData{}, false
}
