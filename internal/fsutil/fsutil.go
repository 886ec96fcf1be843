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

// Lock takes an exclusive inter-process lock on path+".lock" and returns its release function.
func Lock(path string) (unlock func(), err error) {
	return lock(path, true)
}

// RLock takes a shared inter-process lock on path+".lock" and returns its release function.
func RLock(path string) (unlock func(), err error) {
	return lock(path, false)
}

func lock(path string, exclusive bool) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	l := flock.New(path + ".lock")
	var err error
	if exclusive {
		err = l.Lock()
	} else {
		err = l.RLock()
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { l.Unlock() }, nil
}
