//go:build !gonbchat_kernel && !unix

package helper

import (
	"fmt"
	"os"
)

// Main reports that the helper needs a unix system (GoNB runs on Linux and macOS).
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "gonbchatd: gonbchat's kernel mode needs Linux or macOS")
	return 1
}
