//go:build gonbchat_kernel && unix

package fsutil

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on the lock file path, as gofrs/flock does on unix. In
// gonbchat's kernel mode a cell links no module but gonbchat (GoNB's per-cell `go get` then has
// nothing to look up).
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
