package history

import (
	"strings"

	"github.com/gonbchat/gonbchat/llm"
)

// label is how the renderers name a role.
func label(r llm.Role) string {
	if r == "" {
		return "?"
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}
