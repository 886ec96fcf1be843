//go:build !gonbchat_kernel

package chatcell

import (
	"fmt"
	"strings"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/llm"
)

// The one look of a conversation in a cell, for ShowThread, ShowConversation, InputItems and
// what Rollback removed: a header line per message (its position when numbered, the role in the
// lesson's language, the participant's name and the message's marks), then its content. Each
// message is rendered as a Markdown document of its own, so that a reply ending inside an open
// code fence, a <pre> or an HTML comment cannot swallow the messages after it, and a link
// reference in one message cannot link another's text.

// messageMarkdown is one message as Markdown (pos < 0: not numbered).
func messageMarkdown(lang string, m llm.Message, pos int) string {
	head := roleLabel(lang, m.Role)
	if m.Name != "" {
		head += " (" + m.Name + ")"
	}
	if pos >= 0 {
		head = fmt.Sprintf("[%d] %s", pos, head)
	}
	var marks []string
	if m.Pinned {
		marks = append(marks, tr(lang, msgMarkPinned))
	}
	for _, mk := range []struct {
		on bool
		id msgID
	}{{m.Summary, msgMarkSummary}, {m.Forged, msgMarkForged}, {m.Partial, msgMarkCut}} {
		if mk.on {
			marks = append(marks, "("+tr(lang, mk.id)+")")
		}
	}
	header := "**" + head + "**"
	if len(marks) > 0 {
		header += " " + strings.Join(marks, " ")
	}
	if m.Role.Instruction() {
		// Instructions are shown dimmed, as a quote.
		var b strings.Builder
		b.WriteString("> " + header + "\n>\n")
		for line := range strings.SplitSeq(m.Content, "\n") {
			b.WriteString("> " + line + "\n")
		}
		return b.String()
	}
	return header + "\n\n" + m.Content
}

func roleLabel(lang string, r llm.Role) string {
	switch r {
	case llm.User:
		return tr(lang, msgRoleUser)
	case llm.Assistant:
		return tr(lang, msgRoleAssistant)
	case llm.System:
		return tr(lang, msgRoleSystem)
	case llm.Developer:
		return tr(lang, msgRoleDeveloper)
	}
	return string(r)
}

// showConversation shows messages in one output, each rendered on its own, after an optional
// title line.
func showConversation(lang, title string, msgs []llm.Message, numbered bool) {
	var blocks []string
	if title != "" {
		blocks = append(blocks, title)
	}
	for i, m := range msgs {
		pos := -1
		if numbered {
			pos = i
		}
		blocks = append(blocks, messageMarkdown(lang, m, pos))
	}
	display.MarkdownBlocks(blocks...)
}
