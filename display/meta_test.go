package display

// Meta is the provenance a chat puts in a reply's metadata, as the tests fill it.
type Meta struct {
	Model        string
	ResponseID   string
	InputTokens  int64
	OutputTokens int64
	TotalTokens  int64
	Source       string
	Interrupted  bool
}

func (m Meta) m() map[string]any {
	return map[string]any{
		"model": m.Model, "response_id": m.ResponseID, "source": m.Source, "interrupted": m.Interrupted,
		"usage": map[string]any{"input_tokens": m.InputTokens, "output_tokens": m.OutputTokens, "total_tokens": m.TotalTokens},
	}
}
