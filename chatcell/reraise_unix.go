//go:build unix && !gonbchat_kernel

package chatcell

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gonbchat/gonbchat/internal/gonbio"
)

// reraise ends the process the way the interrupt would have, once state has been saved.
// The kernel helper never ends itself: the cell it serves does.
func reraise() {
	if gonbio.InHelper() {
		return
	}
	signal.Reset(os.Interrupt)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	time.Sleep(time.Second) // the signal ends the process; this is never reached in practice
	os.Exit(130)
}
