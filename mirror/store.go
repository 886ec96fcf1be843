package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gonbchat/gonbchat/internal/fsutil"
)

// storedResponse is what the store keeps for one stored response: the
// response object as returned, and the input items of its request (the
// context of a chain is rebuilt from these and the outputs, recursively).
type storedResponse struct {
	Response   responseObject `json:"response"`
	InputItems []item         `json:"input_items"`
}

type store interface {
	put(s *storedResponse) error
	// get returns (nil, nil) when id is unknown.
	get(id string) (*storedResponse, error)
	// delete reports whether id existed.
	delete(id string) (bool, error)
}

type memStore struct {
	mu sync.Mutex
	m  map[string][]byte // JSON, so callers never share mutable state
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) put(r *storedResponse) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[r.Response.ID] = b
	return nil
}

func (s *memStore) get(id string) (*storedResponse, error) {
	s.mu.Lock()
	b, ok := s.m[id]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	var r storedResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *memStore) delete(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	delete(s.m, id)
	return ok, nil
}

// dirStore keeps one JSON file per response in dir. Writes are atomic
// (temporary file in dir, fsync, rename), so concurrent processes sharing
// dir only ever see complete files.
type dirStore struct {
	dir string
}

// validID reports whether id is safe to use as a file name.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (s *dirStore) path(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("mirror: invalid id %q", id)
	}
	return filepath.Join(s.dir, id+".json"), nil
}

func (s *dirStore) put(r *storedResponse) error {
	p, err := s.path(r.Response.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(p, b, 0o600)
}

func (s *dirStore) get(id string) (*storedResponse, error) {
	if !validID(id) {
		return nil, nil // such an id cannot have been stored
	}
	p, _ := s.path(id)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r storedResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("mirror: corrupt stored response %s: %w", id, err)
	}
	return &r, nil
}

func (s *dirStore) delete(id string) (bool, error) {
	if !validID(id) {
		return false, nil
	}
	p, _ := s.path(id)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
