//go:build !gonbchat_kernel

package chatcell

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// Kernel-scoped state: every chat keeps what must outlive a GoNB cell (each cell is a new
// process) as one JSON file under $GONB_TMP_DIR/.gonbchat/<kind>/, named by the chat's name in
// a file-safe encoding. The user's own Save files are another matter (see Save).

// maxStateFile bounds a state file (a history with its messages).
const maxStateFile = 256 << 20

// stateFile is where a chat of one kind keeps its state, or "" to keep it in memory.
func stateFile(cfg *config, kind string) string {
	dir := cfg.stateDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, kind, stateName(cfg.name)+".json")
}

// stateName encodes a chat name as a file name that is the same on every file system: ASCII
// lower-case letters, digits, '-', '_' and '.' stay; anything else (upper case included, for
// file systems that ignore case, and every other script) becomes '~' and its hexadecimal code.
func stateName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "~%x", r)
		}
	}
	return b.String()
}

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// loadState reads a JSON state file into v. found is false when there is none yet. A corrupt
// file is moved aside (nothing is lost) and reported.
func loadState(path string, v any) (found bool, err error) {
	if path == "" {
		return false, nil
	}
	data, err := fsutil.ReadFile(path, maxStateFile) // saves are atomic renames: no lock needed to read
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, v)
		if err == nil {
			if c, ok := v.(interface{ check() error }); ok {
				err = c.check()
			}
		}
	}
	if err != nil {
		aside, aerr := fsutil.MoveAside(path)
		if aerr != nil {
			return false, fmt.Errorf("the chat's state file %s is unreadable (%v), and could not be moved aside: %w", fsutil.Name(path), err, aerr)
		}
		return false, fmt.Errorf("the chat's state file %s was unreadable (%v); it was moved to %s and the chat starts afresh", fsutil.Name(path), err, fsutil.Name(aside))
	}
	return true, nil
}

// saveState writes v to path atomically under an inter-process lock.
func saveState(path string, v any) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	unlock, err := fsutil.Lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	return fsutil.WriteFileAtomic(path, data, 0o600)
}

func (s *histState) check() error {
	if s.History == nil {
		return errors.New("no history in it")
	}
	return s.History.Validate()
}
