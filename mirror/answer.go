package mirror

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

// prompt is what a generation request gives the mirror model.
type prompt struct {
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

// markdownAnswer is the mirror model's deterministic Markdown answer.
func markdownAnswer(in prompt) string {
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
