package history

import (
	"fmt"
	"strings"

	"github.com/gonbchat/gonbchat/llm"
)

// marks returns the visible marks of a message.
func marks(m llm.Message) string {
	var b strings.Builder
	if m.Pinned {
		b.WriteString(" 📌")
	}
	if m.Summary {
		b.WriteString(" (summary)")
	}
	if m.Forged {
		b.WriteString(" (forged)")
	}
	if m.Partial {
		b.WriteString(" (cut short)")
	}
	return b.String()
}

func header(m llm.Message, i int) string {
	s := fmt.Sprintf("[%d] %s", i, label(m.Role))
	if m.Name != "" {
		s += " (" + m.Name + ")"
	}
	return s
}

// Markdown shows the conversation (001's show_conversation) as Markdown for a notebook
// cell. Every message is numbered with the position Pin and Unpin take. System and
// developer messages are shown too — the positions count them and a summary lives in one —
// but dimmed, as block quotes. Pinned, forged, summary and cut-short messages are
// marked 📌, (forged), (summary) and (cut short).
func (l *List) Markdown() string {
	msgs := l.Messages()
	if len(msgs) == 0 {
		return "*(empty history)*\n"
	}
	var b strings.Builder
	for i, m := range msgs {
		if m.Role.Instruction() {
			fmt.Fprintf(&b, "> *%s%s:*\n", header(m, i), marks(m))
			for line := range strings.SplitSeq(m.Content, "\n") {
				fmt.Fprintf(&b, "> %s\n", line)
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "**%s**%s\n\n%s\n\n", header(m, i), marks(m), m.Content)
	}
	return b.String()
}

// String shows the conversation as plain text, one "[position] Role marks: content" block
// per message, system messages included (see Markdown).
func (l *List) String() string {
	msgs := l.Messages()
	if len(msgs) == 0 {
		return "(empty history)\n"
	}
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "%s%s: %s\n\n", header(m, i), marks(m), m.Content)
	}
	return b.String()
}
