// Package keystore keeps the API keys a person stores for the gonbchat command (gonbchat keys
// add, openai2's add_apikey): one JSON file in a directory of their own, readable by its owner
// only (file 0600, directory 0700), replaced atomically under a lock.
//
// It is the only file gonbchat ever writes a key into. Nothing the package returns as text
// (errors, String, fmt verbs on an Entry) holds a key: keys are named by secret.Fingerprint.
package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/secret"
)

// FileName is the keys file's name inside the store's directory.
const FileName = "keys.json"

// version is the format of the keys file.
const version = 1

// maxFile bounds what Load reads: a keys file is a few hundred bytes per key.
const maxFile = 1 << 20

// How a key was entered (Entry.Via).
const (
	ViaPrompt = "hidden prompt"
	ViaStdin  = "standard input"
)

// Entry is one stored key. Printing an Entry with any fmt verb shows its fingerprint, never
// the key.
type Entry struct {
	Provider string    `json:"provider"` // the provider the key is for: "openai", "groq"…
	Key      string    `json:"key"`
	Added    time.Time `json:"added"`
	Via      string    `json:"via"` // how it was entered: ViaPrompt, ViaStdin
}

// Fingerprint names the entry's key without revealing it.
func (e Entry) Fingerprint() string { return secret.Fingerprint(e.Key) }

// String describes the entry without its key.
func (e Entry) String() string {
	return fmt.Sprintf("%s %s (added %s via %s)", e.Provider, e.Fingerprint(), e.Added.Format(time.DateTime), e.Via)
}

// Format makes every verb (%v, %+v, %#v, %s, %q) print String: the key never reaches a log.
func (e Entry) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.String()) }

// GoString is String (for %#v).
func (e Entry) GoString() string { return e.String() }

type file struct {
	Version int     `json:"version"`
	Keys    []Entry `json:"keys"`
}

// Store is the keys file in Dir.
type Store struct {
	Dir string
	// Warn, if set, is told when Load finds the file or its directory readable by others and
	// tightens them.
	Warn func(string)
}

// New returns the store in dir (created on the first Add).
func New(dir string) *Store { return &Store{Dir: dir} }

// Path is the keys file.
func (s *Store) Path() string { return filepath.Join(s.Dir, FileName) }

// Load returns the stored keys; none (and no error) if nothing was stored. A file others can
// read is made private first (and Warn is told).
func (s *Store) Load() ([]Entry, error) {
	path := s.Path()
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	s.tighten()
	data, err := fsutil.ReadFile(path, maxFile)
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, &FileError{Path: path, Problem: "is not a keys file gonbchat can read (" + secret.Redact(err.Error()) + ")"}
	}
	if f.Version != version {
		return nil, &FileError{Path: path, Problem: fmt.Sprintf("has format version %d; this gonbchat reads version %d", f.Version, version)}
	}
	for i, e := range f.Keys {
		if err := Check(e.Key); err != nil || e.Provider == "" {
			return nil, &FileError{Path: path, Problem: fmt.Sprintf("holds an unusable entry (number %d)", i+1)}
		}
	}
	keys := make([]string, len(f.Keys))
	for i, e := range f.Keys {
		keys[i] = e.Key
	}
	secret.Register(keys...)
	return f.Keys, nil
}

// tighten makes the directory 0700 and the file 0600 if they let anyone else in.
func (s *Store) tighten() {
	for _, t := range []struct {
		path string
		perm os.FileMode
	}{{s.Dir, 0o700}, {s.Path(), 0o600}} {
		fi, err := os.Stat(t.path)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(t.path, t.perm); err == nil && s.Warn != nil {
			s.Warn(fmt.Sprintf("%s was readable by others (mode %04o); it is now %04o", t.path, fi.Mode().Perm(), t.perm))
		}
	}
}

// Add stores entries (a key already stored for the same provider is not stored twice) and
// returns the ones that were new. Nothing is written if an entry is unusable or the file cannot
// be read.
func (s *Store) Add(entries ...Entry) (added []Entry, err error) {
	for i, e := range entries {
		if err := Check(e.Key); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if e.Provider == "" {
			return nil, fmt.Errorf("key %d: no provider", i+1)
		}
	}
	err = s.update(func(keys []Entry) []Entry {
		for _, e := range entries {
			e.Key = strings.TrimSpace(e.Key)
			if !slices.ContainsFunc(keys, func(k Entry) bool { return k.Provider == e.Provider && k.Key == e.Key }) {
				keys = append(keys, e)
				added = append(added, e)
			}
		}
		return keys
	})
	if err != nil {
		return nil, err
	}
	secret.Register(keysOf(added)...)
	return added, nil
}

// Clear removes the keys of provider ("" for every key) and returns how many it removed. When
// no key is left the file itself is removed.
func (s *Store) Clear(provider string) (removed int, err error) {
	err = s.update(func(keys []Entry) []Entry {
		kept := slices.DeleteFunc(keys, func(e Entry) bool { return provider == "" || e.Provider == provider })
		removed = len(keys) - len(kept)
		return kept
	})
	return removed, err
}

// update rewrites the keys file with what change makes of its entries, under the store's lock.
func (s *Store) update(change func([]Entry) []Entry) error {
	if err := s.mkdir(); err != nil {
		return err
	}
	unlock, err := fsutil.Lock(s.Path())
	if err != nil {
		return err
	}
	defer unlock()
	keys, err := s.Load()
	if err != nil {
		return err
	}
	n := len(keys)
	keys = change(keys)
	switch {
	case len(keys) == 0 && n == 0:
		return nil
	case len(keys) == 0:
		if err := os.Remove(s.Path()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &FileError{Path: s.Path(), Problem: "could not be removed: " + err.Error()}
		}
		return nil
	}
	data, err := json.MarshalIndent(file{Version: version, Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.Path(), append(data, '\n'), 0o600)
}

// mkdir creates the store's directory, private to its owner.
func (s *Store) mkdir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return &FileError{Path: s.Dir, Problem: "could not be created: " + err.Error()}
	}
	s.tighten()
	return nil
}

// Keys returns the keys of entries that are for provider, in the order they were stored.
func Keys(entries []Entry, provider string) []string {
	var keys []string
	for _, e := range entries {
		if e.Provider == provider {
			keys = append(keys, e.Key)
		}
	}
	return keys
}

func keysOf(entries []Entry) []string {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys
}

// Check reports why key cannot be an API key (nil if it can be one). The error never holds the
// key.
func Check(key string) error {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return errors.New("the key is empty")
	case len(key) < 8:
		return errors.New("the key is too short to be an API key")
	case len(key) > 1024:
		return errors.New("the key is too long to be an API key")
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return errors.New("the key holds a space, a control character or a non-ASCII character: API keys are printable ASCII")
		}
	}
	return nil
}

// FileError is a problem with the keys file; it names the file and never holds a key.
type FileError struct {
	Path    string
	Problem string
}

func (e *FileError) Error() string { return fsutil.Name(e.Path) + " " + e.Problem }
