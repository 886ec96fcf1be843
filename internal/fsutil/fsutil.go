// Package fsutil holds the file primitives gonbchat's state and save files share: atomic
// replacement and inter-process locks.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// WriteFileAtomic replaces path with data so that a reader sees either the old file or the new
// one, never a mix, even if the process is killed midway: it writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: not every file system supports syncing a directory
		d.Close()
	}
	return nil
}

// Lock takes an exclusive inter-process lock on path+".lock" (creating path's directory if
// needed) and returns its release function. Writers of path hold it; readers need none, since
// writers replace the file with WriteFileAtomic.
func Lock(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	l := flock.New(path + ".lock")
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { l.Unlock() }, nil
}
