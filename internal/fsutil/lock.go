//go:build !(gonbchat_kernel && unix)

package fsutil

import "github.com/gofrs/flock"

// lockFile takes an exclusive lock on the lock file path (flock on unix, LockFileEx on Windows).
func lockFile(path string) (func(), error) {
	l := flock.New(path)
	if err := l.Lock(); err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}
