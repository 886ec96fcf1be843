package chatcell

import "fmt"

// Usage counts tokens: of one turn, or summed over a chat.
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
