package history

import (
	"fmt"
	"strings"
)

// Role is who wrote a message, as in the Chat Completions API.
type Role string

// The roles a history holds. Tool messages are not part of a notebook chat history.
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

// instruction reports whether r is a system or developer role (not part of turns).
func (r Role) instruction() bool { return r == System || r == Developer }

// MaxNameLen is the longest Name the Chat Completions API accepts.
const MaxNameLen = 64

// Message is one message of a history.
//
// Only Role, Content and Name are sent to a model; the other fields are the List's
// bookkeeping and are exported so that callers can show them.
type Message struct {
	Role    Role
	Content string
	// Name is the optional participant name of Chat Completions: letters a-z A-Z, digits
	// and underscores, at most 64 characters. Empty means unset.
	Name string

	// ID identifies the message within its List. The List assigns it (starting at 1) when
	// the message is added; a zero ID means the message is not in a List.
	ID uint64
	// Pinned messages survive trimming (see List.Pin).
	Pinned bool
	// Forged marks messages imported with AddDialogs or ImportJSON rather than produced by
	// a real exchange with the model (openai2's "对话伪造").
	Forged bool
	// Summary marks a system message that holds a summary of older turns (see Summarize).
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

// Validate reports whether m can be sent to the Chat Completions API: a known role and a
// valid name (if any), and a summary that is a system message.
func (m Message) Validate() error {
	if !m.Role.Valid() {
		return fmt.Errorf("history: unknown role %q (want system, developer, user or assistant)", string(m.Role))
	}
	if err := ValidateName(m.Name); err != nil {
		return err
	}
	if m.Summary && m.Role != System {
		return fmt.Errorf("history: a summary must be a system message, not %s", m.Role)
	}
	if m.Partial && m.Role != Assistant {
		return fmt.Errorf("history: only an assistant reply can be cut short, not a %s message", m.Role)
	}
	return nil
}

// ValidateName reports whether name is a valid participant name: empty (unset), or 1 to 64
// characters from a-z, A-Z, 0-9 and underscore.
func ValidateName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("history: name %.20q... is %d characters long; the limit is %d", name, len(name), MaxNameLen)
	}
	for i, c := range name {
		if c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			continue
		}
		return fmt.Errorf("history: name %q has %q at byte %d; use only a-z, A-Z, 0-9 and _", name, c, i)
	}
	return nil
}

// label is how the renderers name a role.
func (r Role) label() string {
	if r == "" {
		return "?"
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}
