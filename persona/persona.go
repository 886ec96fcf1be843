// Package persona describes a persona bot, the chatbot of lesson 004: a title, a character
// (the system prompt, the bot's 人設), a description that the page shows and the bot says
// first, and example prompts.
//
// A persona is usually written by a teacher in a small YAML or JSON file:
//
//	title: 員瑛式思考生成器
//	character: 請用員瑛式思考……
//	description: 嗨！我是你的「員瑛式思考生成器」……
//	examples:
//	  - 今天出門忘記帶傘
//
// Load reads such a file and says exactly what is wrong with a bad one (the file, the line and
// the field); Start gives the conversation's first messages, as the lesson builds them:
// [system(character), assistant(description)].
//
// The package is a leaf: it imports llm and a YAML parser only.
package persona

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/llm"
)

// Persona is a persona bot.
type Persona struct {
	// Title names the bot; it is the page's title.
	Title string `json:"title" yaml:"title"`
	// Character is the system prompt: who the bot is and how it answers.
	Character string `json:"character" yaml:"character"`
	// Description tells visitors what the bot does. It is the bot's first message (the
	// greeting) and is sent to the model as an assistant message. It may be empty.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Examples are prompts a visitor can pick (shown as chips under the conversation).
	Examples []string `json:"examples,omitempty" yaml:"examples,omitempty"`
	// Model optionally names the model the persona was written for.
	Model string `json:"model,omitempty" yaml:"model,omitempty"`
}

// Limits of a valid persona.
const (
	MaxTitleRunes   = 200
	MaxExamples     = 20
	MaxExampleRunes = 1000
	MaxModelLen     = 200
	// MaxTextRunes bounds the character and the description: a system prompt of a whole
	// book is a mistake, not a persona.
	MaxTextRunes = 100_000
)

// Validate reports what makes p unusable: a missing title or character, text that is not
// UTF-8, too many or empty examples, a model name with spaces. The error names the field.
func (p Persona) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, f := range []struct{ name, value string }{
		{"title", p.Title}, {"character", p.Character}, {"description", p.Description}, {"model", p.Model},
	} {
		if !utf8.ValidString(f.value) {
			bad("%s is not valid UTF-8 text", f.name)
		}
	}
	switch n := utf8.RuneCountInString(p.Title); {
	case strings.TrimSpace(p.Title) == "":
		bad(`title is empty: give the bot a name (title: "…")`)
	case n > MaxTitleRunes:
		bad("title is %d characters long; the limit is %d", n, MaxTitleRunes)
	case strings.ContainsAny(p.Title, "\r\n"):
		bad("title has a line break; a title is one line")
	}
	if strings.TrimSpace(p.Character) == "" {
		bad(`character is empty: say who the bot is and how it answers (character: "…"); it is the system prompt`)
	} else if n := utf8.RuneCountInString(p.Character); n > MaxTextRunes {
		bad("character is %d characters long; the limit is %d", n, MaxTextRunes)
	}
	if n := utf8.RuneCountInString(p.Description); n > MaxTextRunes {
		bad("description is %d characters long; the limit is %d", n, MaxTextRunes)
	}
	if len(p.Examples) > MaxExamples {
		bad("examples has %d prompts; the limit is %d", len(p.Examples), MaxExamples)
	}
	for i, e := range p.Examples {
		switch n := utf8.RuneCountInString(e); {
		case !utf8.ValidString(e):
			bad("examples[%d] is not valid UTF-8 text", i)
		case strings.TrimSpace(e) == "":
			bad("examples[%d] is empty", i)
		case n > MaxExampleRunes:
			bad("examples[%d] is %d characters long; the limit is %d", i, n, MaxExampleRunes)
		}
	}
	if len(p.Model) > MaxModelLen {
		bad("model is %d bytes long; the limit is %d", len(p.Model), MaxModelLen)
	} else if i := strings.IndexFunc(p.Model, unicode.IsSpace); i >= 0 {
		bad("model %q has a space; a model name is one word such as gpt-4o-mini", p.Model)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("persona: " + strings.Join(errs, "; "))
}

// Start returns the first messages of a conversation with the persona, as the lesson builds
// them: the character as a system message, then the description as the bot's first
// (assistant) message. Without a description it is the system message alone.
func (p Persona) Start() []llm.Message {
	msgs := []llm.Message{llm.SystemMsg(p.Character)}
	if p.Description != "" {
		msgs = append(msgs, llm.AssistantMsg(p.Description))
	}
	return msgs
}
