// Package tokens counts the tokens of a history the way OpenAI's models see them, offline,
// with OpenAI's tokenizers (github.com/tiktoken-go/tokenizer). It is a separate package
// because the tokenizer vocabularies are large: only programs that count tokens link them.
//
//	c, _ := tokens.ForModel("gpt-4.1-nano")
//	list.SetStrategy(history.TokenBudget(2000, c))
package tokens

import (
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/history"
	"github.com/tiktoken-go/tokenizer"
)

// The encodings a model can use.
const (
	O200kBase  = "o200k_base"  // gpt-4o, gpt-4.1, gpt-5, o1, o3, o4 and newer
	Cl100kBase = "cl100k_base" // gpt-3.5-turbo, gpt-4, gpt-4-turbo, text-embedding-3
)

// EncodingFor returns the encoding of a model: cl100k_base for the gpt-3.5 and gpt-4
// (not gpt-4o or gpt-4.1) families and OpenAI's older embeddings, o200k_base for everything
// else, including models it does not know (every model since gpt-4o uses it). Dated
// snapshots and fine-tunes ("ft:gpt-3.5-turbo:...") map like their base model.
func EncodingFor(model string) string {
	m := strings.ToLower(strings.TrimPrefix(model, "ft:"))
	switch {
	case strings.HasPrefix(m, "gpt-3.5"), strings.HasPrefix(m, "gpt-35"),
		m == "gpt-4", strings.HasPrefix(m, "gpt-4-"), strings.HasPrefix(m, "gpt-4:"),
		strings.HasPrefix(m, "text-embedding-"):
		return Cl100kBase
	}
	return O200kBase
}

var (
	codecsMu sync.Mutex
	codecs   = map[string]tokenizer.Codec{}
)

// Counter counts tokens with one encoding. It implements history.TokenCounter and is safe
// for concurrent use.
type Counter struct {
	codec tokenizer.Codec
}

// ForModel returns a Counter for the encoding of model (see EncodingFor).
func ForModel(model string) (*Counter, error) { return ForEncoding(EncodingFor(model)) }

// ForEncoding returns a Counter for an encoding, o200k_base or cl100k_base (or one of the
// older ones tiktoken knows). The vocabulary is loaded once per process.
func ForEncoding(encoding string) (*Counter, error) {
	codecsMu.Lock()
	defer codecsMu.Unlock()
	c, ok := codecs[encoding]
	if !ok {
		var err error
		c, err = tokenizer.Get(tokenizer.Encoding(encoding))
		if err != nil {
			return nil, err
		}
		codecs[encoding] = c
	}
	return &Counter{codec: c}, nil
}

// Encoding returns the name of the counter's encoding.
func (c *Counter) Encoding() string { return c.codec.GetName() }

// Text returns the number of tokens of s.
func (c *Counter) Text(s string) int {
	if s == "" {
		return 0
	}
	n, err := c.codec.Count(s)
	if err != nil { // not expected in the default error mode: estimate rather than fail
		return (len(s) + 3) / 4
	}
	return n
}

// The overheads of OpenAI's cookbook ("How to count tokens with tiktoken") for current chat
// models: every message is wrapped in 3 tokens, a name costs 1 more, and every reply is
// primed with 3 tokens (<|start|>assistant<|message|>).
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	replyPriming     = 3
)

// MessageTokens returns the tokens of one message: its role, content and name, plus the
// per-message overhead.
func (c *Counter) MessageTokens(m llm.Message) int {
	n := tokensPerMessage + c.Text(string(m.Role)) + c.Text(m.Content)
	if m.Name != "" {
		n += c.Text(m.Name) + tokensPerName
	}
	return n
}

// PrimingTokens returns the 3 tokens every reply is primed with.
func (c *Counter) PrimingTokens() int { return replyPriming }

// Count returns the input tokens of a request sending msgs.
func (c *Counter) Count(msgs []llm.Message) int { return history.CountTokens(c, msgs) }
