//go:build gonbchat_kernel

package display

// The hand-written part of display's kernel mode (see package internal/kernel); the rest is
// generated (zz_kernel.go).

import "encoding/json"

// RegisterTerminal sets the Terminal that replies and Markdown blocks are offered to outside a
// notebook. In kernel mode the replies are rendered in the kernel's helper for a notebook cell:
// there is no terminal, and it does nothing.
func RegisterTerminal(t Terminal) {}

// metaArg is a Cell's metadata as JSON has it (as the real Close keeps it), or the reason it is
// not.
func metaArg(meta map[string]any) any {
	if meta == nil {
		return nil
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return map[string]any{"meta_error": err.Error()}
	}
	return json.RawMessage(b)
}
