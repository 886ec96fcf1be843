//go:build !gonbchat_kernel

package display

import "encoding/gob"

// Output metadata holds nested maps and lists. GoNB's kernel registers these types to decode
// them, but gonbui (the cell's side of the pipe) does not register them to encode them: without
// this, gob fails, gonbui closes the pipe, and nothing more reaches the notebook.
func init() {
	gob.Register(map[string]any{})
	gob.Register([]any{})
}
