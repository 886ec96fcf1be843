package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

func TestReadFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	os.WriteFile(path, make([]byte, 2048), 0o600)
	var le *LimitError
	if _, err := ReadFile(path, 1024); !errors.As(err, &le) || le.Size != 2048 || !strings.Contains(err.Error(), "2.0 KiB") {
		t.Errorf("over the limit: %v", err)
	}
	if data, err := ReadFile(path, 4096); err != nil || len(data) != 2048 {
		t.Errorf("within the limit: %d bytes, %v", len(data), err)
	}
	if _, err := ReadFile(path+".missing", 10); !errors.Is(err, os.ErrNotExist) || err.Error() != "cannot read "+path+".missing: no such file" {
		t.Errorf("missing: %v", err)
	}
}

// Errors name the file the caller gave, on one line, never the temporary file.
func TestErrorsNameTheCallersFile(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	name := filepath.Join(ro, "x\nevil.json")
	err := WriteFileAtomic(name, []byte("x"), 0o600)
	if err == nil {
		if os.Geteuid() == 0 {
			t.Skip("root writes into read-only directories")
		}
		t.Fatal("saved into a read-only directory")
	}
	msg := err.Error()
	if strings.Contains(msg, ".tmp-") || strings.Contains(msg, "\n") || !strings.Contains(msg, `x\nevil.json`) {
		t.Errorf("error line: %q", msg)
	}
	if got := Name("a\nb"); got != `"a\nb"` || Name("課本/ch3.gob") != "課本/ch3.gob" {
		t.Errorf("Name: %q", got)
	}
}

func TestWriteFileAtomicFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	os.WriteFile(target, []byte("old"), 0o600)
	os.Symlink(target, link)
	if err := WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	if data, _ := os.ReadFile(target); string(data) != "new" {
		t.Errorf("target holds %q", data)
	}
}
