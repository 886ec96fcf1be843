// Package llm is the vocabulary every gonbchat package shares: a conversation's messages and
// their roles, token usage, and the price table that turns usage into an estimated cost.
//
// It is a leaf: it imports nothing of gonbchat, no SDK and no network code, so that chatcell,
// history, the web page and the gateway all speak the same types without depending on each other.
package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Role is who wrote a message, as in the Chat Completions API.
type Role string

// The roles a conversation holds. Tool messages are not part of a notebook chat.
const (
	System    Role = "system"
	Developer Role = "developer"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Valid reports whether r is one of System, Developer, User and Assistant.
func (r Role) Valid() bool {
	switch r {
	case System, Developer, User, Assistant:
		return true
	}
	return false
}

// Instruction reports whether r is a system or developer role: instructions to the model, not
// part of the turns of a conversation.
func (r Role) Instruction() bool { return r == System || r == Developer }

// MaxNameLen is the longest participant name, in characters.
const MaxNameLen = 64

// Message is one message of a conversation.
//
// Only Role, Content and Name are sent to a model; the other fields are bookkeeping of a
// history (package history) and are exported so that callers can show them.
type Message struct {
	Role    Role
	Content string
	// Name is the optional participant name (Chat Completions' "name"): letters and digits of
	// any script, '_' and '-', at most 64 characters, such as "小明" or "Alice". Empty means
	// unset. It is sent as WireName(Name), since the API accepts fewer characters.
	Name string

	// ID identifies the message within its history, which assigns it (starting at 1) when the
	// message is added; a zero ID means the message is not in a history.
	ID uint64
	// Pinned messages survive trimming.
	Pinned bool
	// Forged marks messages imported rather than produced by a real exchange with the model
	// (openai2's "对话伪造").
	Forged bool
	// Summary marks a system message that holds a summary of older turns.
	Summary bool
	// Partial marks an assistant reply that was cut short (interrupted, or the stream
	// dropped): its Content is what arrived before that.
	Partial bool
}

// SystemMsg returns a system message.
func SystemMsg(content string) Message { return Message{Role: System, Content: content} }

// DeveloperMsg returns a developer message (the newer name of system messages for o-series
// and later models).
func DeveloperMsg(content string) Message { return Message{Role: Developer, Content: content} }

// UserMsg returns a user message.
func UserMsg(content string) Message { return Message{Role: User, Content: content} }

// AssistantMsg returns an assistant message.
func AssistantMsg(content string) Message { return Message{Role: Assistant, Content: content} }

// WithName returns m with its participant name set. Validate checks the name.
func (m Message) WithName(name string) Message {
	m.Name = name
	return m
}

// Validate reports whether m can be sent: a known role, a valid name (if any), a summary that
// is a system message and a cut-short reply that is an assistant's.
func (m Message) Validate() error {
	if !m.Role.Valid() {
		return fmt.Errorf("unknown role %q (want system, developer, user or assistant)", string(m.Role))
	}
	if err := ValidateName(m.Name); err != nil {
		return err
	}
	if m.Summary && m.Role != System {
		return fmt.Errorf("a summary must be a system message, not %s", m.Role)
	}
	if m.Partial && m.Role != Assistant {
		return fmt.Errorf("only an assistant reply can be cut short, not a %s message", m.Role)
	}
	return nil
}

// ValidateName reports whether name is a valid participant name: empty (unset), or 1 to 64
// letters or digits of any script, '_' or '-'.
func ValidateName(name string) error {
	if n := utf8.RuneCountInString(name); n > MaxNameLen {
		return fmt.Errorf("name %.20q… is %d characters long; the limit is %d", name, n, MaxNameLen)
	}
	for _, c := range name {
		if c == '_' || c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.Is(unicode.Mn, c) {
			continue
		}
		return fmt.Errorf("name %q has %q; use letters, digits, '_' or '-'", name, c)
	}
	return nil
}

// WireName maps a participant name to what Chat Completions accepts in its "name" field
// (a-z, A-Z, 0-9, '_' and '-', at most 64): ASCII names are sent as they are; any other
// character becomes "u" and its hexadecimal code point ("小明" → "u5c0fu660e"). A mapped name
// longer than 64 is cut and ends with a hash of the whole name, so two names never share one.
func WireName(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
			b.WriteRune(c)
		default:
			fmt.Fprintf(&b, "u%x", c)
		}
	}
	s := b.String()
	if len(s) > MaxNameLen {
		sum := sha256.Sum256([]byte(name))
		s = s[:MaxNameLen-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return s
}
