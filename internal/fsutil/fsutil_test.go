package fsutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteFileAtomicReplacesWholeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := WriteFileAtomic(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("second, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "second, longer" {
		t.Fatalf("got %q, %v", got, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("perm = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "state.json" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "such", "f"), []byte("x"), 0o600)
	if err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

// Concurrent writers under the lock never leave a torn file: every read, lock-free, sees one
// whole payload.
func TestLockedWritersNeverTear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				unlock, err := Lock(path)
				if err != nil {
					t.Error(err)
					return
				}
				payload := bytes.Repeat([]byte(fmt.Sprintf("%d", w)), 1000+i)
				if err := WriteFileAtomic(path, payload, 0o600); err != nil {
					t.Error(err)
				}
				unlock()
			}
		}(w)
	}
	for i := 0; i < 200; i++ {
		data, err := os.ReadFile(path) // readers take no lock
		if err != nil {
			continue // not written yet
		}
		if len(data) > 0 && !bytes.Equal(data, bytes.Repeat(data[:1], len(data))) {
			t.Fatalf("torn file of %d bytes", len(data))
		}
	}
	wg.Wait()
}
