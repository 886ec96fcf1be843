//go:build !unix && !gonbchat_kernel

package chatcell

import (
	"os"

	"github.com/gonbchat/gonbchat/internal/gonbio"
)

// reraise ends the process as an interrupted program does (exit status 130), once state has
// been saved.
func reraise() {
	if !gonbio.InHelper() {
		os.Exit(130)
	}
}
