package chatcell

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// stateFile is where a chat of one kind keeps its kernel-scoped state, or "" to keep it in memory.
func stateFile(cfg *config, kind, ext string) string {
	dir := cfg.stateDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, kind, cfg.name+ext)
}

// loadState reads a JSON state file into v. found is false when there is none yet. A corrupt
// file is moved aside (nothing is lost) and reported.
func loadState(path string, v any) (found bool, err error) {
	if path == "" {
		return false, nil
	}
	data, err := os.ReadFile(path) // saves are atomic renames: no lock needed to read

	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		aside := path + ".corrupt"
		os.Rename(path, aside)
		return false, fmt.Errorf("the chat's state file %s was unreadable (%v); it was moved to %s and the chat starts afresh", path, err, aside)
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
