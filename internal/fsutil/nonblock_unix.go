//go:build unix

package fsutil

import "syscall"

// nonblock makes an open of a file that turned into a named pipe since it was checked return
// at once instead of waiting for a writer.
const nonblock = syscall.O_NONBLOCK
