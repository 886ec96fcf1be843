// Package fsutil holds the file primitives gonbchat's state and save files share: atomic
// replacement, inter-process locks, and reads that refuse what is not a regular file.
//
// Every error names the file the caller asked for (quoted when its name holds a newline or
// another control character), never the temporary file of an atomic write.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// Name is how error lines show a file name: as it is, or quoted (Go syntax) when it holds a
// newline, a control character or invalid UTF-8, so that it always prints on one line.
func Name(path string) string {
	if strings.IndexFunc(path, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return strconv.Quote(path)
	}
	return path
}

// ErrNotRegular is wrapped by the errors of ReadFile and WriteFileAtomic for a path that is a
// directory, a named pipe, a socket or a device.
var ErrNotRegular = errors.New("not a regular file")

// kind names a file type for error lines.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// FileError is the error of a file operation: what was done, to which file (the caller's name)
// and why. It unwraps to the cause (fs.ErrNotExist, ErrNotRegular, *LimitError…).
type FileError struct {
	Op   string // "read", "save"…
	Path string
	Err  error
}

func (e *FileError) Error() string {
	var le *LimitError
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("cannot %s %s: no such file", e.Op, Name(e.Path))
	case errors.Is(e.Err, fs.ErrPermission):
		return fmt.Sprintf("cannot %s %s: permission denied", e.Op, Name(e.Path))
	case errors.As(e.Err, &le):
		return fmt.Sprintf("cannot %s %s: %v", e.Op, Name(e.Path), le)
	}
	return fmt.Sprintf("cannot %s %s: %v", e.Op, Name(e.Path), cause(e.Err))
}

func (e *FileError) Unwrap() error { return e.Err }

// cause strips an *fs.PathError (whose text repeats a path, perhaps a temporary one).
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// LimitError reports a file larger than its reader accepts.
type LimitError struct {
	Size, Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("it is %s, more than the %s such a file can be", size(e.Size), size(e.Limit))
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadFile reads a regular file of at most limit bytes. It refuses a directory, a named pipe
// (whose open would wait forever for a writer), a socket or a device before opening it, and a
// larger file before reading it, so that nothing hangs or allocates without bound.
func ReadFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{"read", path, err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &FileError{"read", path, fmt.Errorf("it is %s: %w", kind(fi.Mode()), ErrNotRegular)}
	}
	if fi.Size() > limit {
		return nil, &FileError{"read", path, &LimitError{fi.Size(), limit}}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, &FileError{"read", path, err}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() { // replaced between Stat and Open
		return nil, &FileError{"read", path, fmt.Errorf("it is %s: %w", kind(fi.Mode()), ErrNotRegular)}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &FileError{"read", path, err}
	}
	if int64(len(data)) > limit {
		return nil, &FileError{"read", path, &LimitError{int64(len(data)), limit}}
	}
	return data, nil
}

// WriteFileAtomic replaces path with data so that a reader sees either the old file or the new
// one, never a mix, even if the process is killed midway: it writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory. A symbolic link is
// followed (its target is replaced); a path that is a directory, a named pipe, a socket or a
// device is refused.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeAtomic(path, data, perm); err != nil {
		return &FileError{"save", path, err}
	}
	return nil
}

func writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("it is %s: %w", kind(fi.Mode()), ErrNotRegular)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return cause(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return cause(err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return cause(err)
	}
	if err = tmp.Sync(); err != nil {
		return cause(err)
	}
	if err = tmp.Close(); err != nil {
		return cause(err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return cause(err)
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
		return nil, &FileError{"lock", path, err}
	}
	unlock, err = lockFile(path + ".lock")
	if err != nil {
		return nil, &FileError{"lock", path, err}
	}
	return unlock, nil
}

// MoveAside renames a damaged file to path+".corrupt" (replacing an older one), so that nothing
// is lost and a fresh state can start, and returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".corrupt"
	if err := os.Rename(path, aside); err != nil {
		return "", &FileError{"move aside", path, err}
	}
	return aside, nil
}
