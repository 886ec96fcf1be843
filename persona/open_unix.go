//go:build unix

package persona

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without blocking, should it have become a FIFO
// since it was checked (readFile checks the open file again).
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
