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
	Simplified   bool   // labels in Simplified Chinese
}

// labels are the Chinese words of the answer, Traditional and Simplified.
type labels struct {
	model, nothingBefore, before, lastFew, none, youSaid, noUser, footer string
}

var (
	traditional = labels{"鏡像模型", "之前沒有對話", "之前的對話", "最近幾輪", "無", "你說", "沒有使用者訊息", "離線鏡像模型：我只轉述收到的內容。"}
	simplified  = labels{"镜像模型", "之前没有对话", "之前的对话", "最近几轮", "无", "你说", "没有用户消息", "离线镜像模型：我只转述收到的内容。"}
)

// simplifiedChinese reports whether lang (a BCP 47 tag such as zh-CN) is written in Simplified
// Chinese.
func simplifiedChinese(lang string) bool {
	l := strings.ToLower(strings.ReplaceAll(lang, "_", "-"))
	for _, p := range []string{"zh-cn", "zh-hans", "zh-sg", "zh-my"} {
		if l == p || strings.HasPrefix(l, p+"-") || strings.HasPrefix(l, p+".") {
			return true
		}
	}
	return false
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

	l := traditional
	if in.Simplified {
		l = simplified
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s Mirror** · 模型 model: `%s`\n\n", l.model, inlineCode(in.Model))
	// The context comes first: it is what the lessons look at, and it
	// survives a small max_output_tokens.
	switch n := len(earlier); n {
	case 0:
		fmt.Fprintf(&b, "- 上下文 context: 0 earlier turns %s — I remember nothing before this message.\n", l.nothingBefore)
	default:
		how := ""
		if in.Chained {
			how = " (via previous_response_id)"
		}
		if n <= maxEarlierQuoted {
			fmt.Fprintf(&b, "- 上下文 context: %d earlier turn%s %s%s:\n", n, plural(n), l.before, how)
			for i := range n {
				fmt.Fprintf(&b, "  %d. “%s”\n", i+1, mdQuote(earlier[i], earlierQuoteLen))
			}
			break
		}
		// A Markdown list that does not start at 1 cannot follow a
		// paragraph: the last turns are bullets with their numbers.
		fmt.Fprintf(&b, "- 上下文 context: %d earlier turns %s%s, the last %d %s:\n", n, l.before, how, maxEarlierQuoted, l.lastFew)
		for i := n - maxEarlierQuoted; i < n; i++ {
			fmt.Fprintf(&b, "  - #%d “%s”\n", i+1, mdQuote(earlier[i], earlierQuoteLen))
		}
	}
	if strings.TrimSpace(in.Instructions) == "" {
		fmt.Fprintf(&b, "- 指示 instructions: (%s none)\n", l.none)
	} else {
		fmt.Fprintf(&b, "- 指示 instructions: “%s”\n", mdQuote(in.Instructions, instrQuoteLen))
	}
	if len(users) == 0 {
		fmt.Fprintf(&b, "- %s you said: (%s no user message)\n", l.youSaid, l.noUser)
	} else {
		fmt.Fprintf(&b, "- %s you said: “%s”\n", l.youSaid, mdQuote(last, lastQuoteLen))
	}
	fmt.Fprintf(&b, "\n_%sOffline mirror model: I only reflect what I receive._", l.footer)
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
