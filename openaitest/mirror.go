package openaitest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// turn is one message of a conversation as the mirror model sees it.
type turn struct {
	Role string // user, assistant, system, developer
	Text string
}

// mirrorInput is what a generation request gives the mirror model.
type mirrorInput struct {
	Model        string
	Instructions string // instructions, or system/developer messages for Chat Completions
	Turns        []turn // the whole context, oldest first, including this request's input
	Chained      bool   // the context came partly from previous_response_id
}

const (
	maxEarlierQuoted = 4  // earlier user messages quoted (the most recent ones)
	earlierQuoteLen  = 32 // runes per earlier quote
	lastQuoteLen     = 160
	instrQuoteLen    = 80
)

// mirrorReply is the mirror model's deterministic Markdown answer.
func mirrorReply(in mirrorInput) string {
	var users []string
	for _, t := range in.Turns {
		if t.Role == "user" {
			users = append(users, t.Text)
		}
	}
	last := ""
	earlier := users
	if len(users) > 0 {
		last = users[len(users)-1]
		earlier = users[:len(users)-1]
	}

	var b strings.Builder
	fmt.Fprintf(&b, "**鏡像模型 Mirror** · 模型 model: `%s`\n\n", inlineCode(in.Model))
	// The context comes first: it is what the lessons look at, and it
	// survives a small max_output_tokens.
	switch n := len(earlier); n {
	case 0:
		b.WriteString("- 上下文 context: 0 earlier turns 之前沒有對話 — I remember nothing before this message.\n")
	default:
		how := ""
		if in.Chained {
			how = " (via previous_response_id)"
		}
		if n <= maxEarlierQuoted {
			fmt.Fprintf(&b, "- 上下文 context: %d earlier turn%s 之前的對話%s:\n", n, plural(n), how)
			for i := range n {
				fmt.Fprintf(&b, "  %d. “%s”\n", i+1, mdQuote(earlier[i], earlierQuoteLen))
			}
			break
		}
		// A Markdown list that does not start at 1 cannot follow a
		// paragraph: the last turns are bullets with their numbers.
		fmt.Fprintf(&b, "- 上下文 context: %d earlier turns 之前的對話%s, the last %d 最近幾輪:\n", n, how, maxEarlierQuoted)
		for i := n - maxEarlierQuoted; i < n; i++ {
			fmt.Fprintf(&b, "  - #%d “%s”\n", i+1, mdQuote(earlier[i], earlierQuoteLen))
		}
	}
	if strings.TrimSpace(in.Instructions) == "" {
		b.WriteString("- 指示 instructions: (無 none)\n")
	} else {
		fmt.Fprintf(&b, "- 指示 instructions: “%s”\n", mdQuote(in.Instructions, instrQuoteLen))
	}
	if len(users) == 0 {
		b.WriteString("- 你說 you said: (沒有使用者訊息 no user message)\n")
	} else {
		fmt.Fprintf(&b, "- 你說 you said: “%s”\n", mdQuote(last, lastQuoteLen))
	}
	b.WriteString("\n_離線鏡像模型：我只轉述收到的內容。Offline mirror model: I only reflect what I receive._")
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// quote shortens s to at most n runes on one line, for quoting in Markdown.
func quote(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// mdQuote is quote escaped for Markdown, so that a quoted message shows as
// typed and cannot change the reply's structure.
func mdQuote(s string, n int) string {
	return mdEscaper.Replace(quote(s, n))
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "~", `\~`, "|", `\|`)

func inlineCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ").Replace(quote(s, 80))
}

// chunkSizes is the deterministic cycle of delta sizes in bytes.
var chunkSizes = [...]int{4, 6, 3, 8, 5, 2, 7, 4, 5}

// splitDeltas cuts s into deltas of 2-8 bytes, never splitting a UTF-8
// rune (only a text shorter than 2 bytes gives a shorter delta).
func splitDeltas(s string) []string {
	var out []string
	for i := 0; len(s) > 0; i++ {
		n := min(chunkSizes[i%len(chunkSizes)], len(s))
		n = runeBoundary(s, n)
		if rem := len(s) - n; rem == 1 { // no 1-byte tail
			if n+1 <= 8 {
				n++
			} else {
				_, size := utf8.DecodeLastRuneInString(s[:n])
				n -= size
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// runeBoundary moves n to a rune boundary of s: forward if the delta stays
// within 8 bytes, else back (keeping at least 2 bytes when it can).
func runeBoundary(s string, n int) int {
	if n >= len(s) || utf8.RuneStart(s[n]) {
		return n
	}
	f := n
	for f < len(s) && !utf8.RuneStart(s[f]) {
		f++
	}
	if f <= 8 {
		return f
	}
	b := n
	for b > 0 && !utf8.RuneStart(s[b]) {
		b--
	}
	if b == 0 {
		return f
	}
	return b
}

// countTokens counts the tokens of s with the handler's counter.
func (h *Handler) countTokens(s string) int {
	if s == "" {
		return 0
	}
	return h.tokens(s)
}

// truncateTokens returns the longest prefix of s (cut at a rune boundary)
// of at most max tokens, and whether it had to cut.
func (h *Handler) truncateTokens(s string, max int) (string, bool) {
	if h.countTokens(s) <= max {
		return s, false
	}
	// Binary search on rune boundaries: counts grow with the prefix.
	runes := []rune(s)
	lo, hi := 0, len(runes) // the prefix of lo runes fits, of hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if h.countTokens(string(runes[:mid])) <= max {
			lo = mid
		} else {
			hi = mid
		}
	}
	return string(runes[:lo]), true
}

// promptTokens estimates input tokens like the real API: the text plus a
// few tokens of framing per message.
func (h *Handler) promptTokens(instructions string, turns []turn) int {
	n := 0
	if instructions != "" {
		n += h.countTokens(instructions) + 4
	}
	for _, t := range turns {
		n += h.countTokens(t.Text) + 4
	}
	return n + 3
}
