package keystore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	keyA = "sk-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	keyB = "sk-test-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	keyG = "gsk_testgggggggggggggggggggggggggggggg"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAddLoadClear(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "gonbchat", "keys"))
	if keys, err := s.Load(); err != nil || keys != nil {
		t.Fatalf("empty store: %v, %v", keys, err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	added, err := s.Add(Entry{"openai", keyA, now, ViaPrompt}, Entry{"openai", " " + keyB + "\n", now, ViaStdin}, Entry{"groq", keyG, now, ViaStdin})
	if err != nil || len(added) != 3 {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if m := mode(t, s.Path()); m != 0o600 {
		t.Errorf("keys file mode %04o, want 0600", m)
	}
	if m := mode(t, s.Dir); m != 0o700 {
		t.Errorf("keys dir mode %04o, want 0700", m)
	}
	// The same key again is not stored twice; the same key for another provider is.
	added, err = s.Add(Entry{"openai", keyA, now, ViaStdin}, Entry{"groq", keyA, now, ViaStdin})
	if err != nil || len(added) != 1 || added[0].Provider != "groq" {
		t.Fatalf("second Add = %v, %v", added, err)
	}
	entries, err := s.Load()
	if err != nil || len(entries) != 4 {
		t.Fatalf("Load = %v, %v", entries, err)
	}
	if got := Keys(entries, "openai"); len(got) != 2 || got[0] != keyA || got[1] != keyB {
		t.Errorf("openai keys = %d keys, in the wrong order or trimmed wrongly", len(got))
	}
	if entries[1].Via != ViaStdin || !entries[0].Added.Equal(now) {
		t.Errorf("entry fields lost: %v", entries)
	}
	n, err := s.Clear("groq")
	if err != nil || n != 2 {
		t.Fatalf("Clear(groq) = %d, %v", n, err)
	}
	if entries, _ := s.Load(); len(entries) != 2 || len(Keys(entries, "groq")) != 0 {
		t.Errorf("after Clear(groq): %v", entries)
	}
	if n, err := s.Clear(""); err != nil || n != 2 {
		t.Fatalf("Clear() = %d, %v", n, err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("the keys file is still there after clearing every key: %v", err)
	}
	if n, err := s.Clear(""); err != nil || n != 0 {
		t.Errorf("Clear on an empty store = %d, %v", n, err)
	}
}

func TestEntryNeverPrintsItsKey(t *testing.T) {
	e := Entry{"openai", keyA, time.Now(), ViaPrompt}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(f, e); strings.Contains(out, keyA) || strings.Contains(out, keyA[8:20]) || !strings.Contains(out, e.Fingerprint()) {
			t.Errorf("%s prints %q", f, out)
		}
	}
	if out := fmt.Sprintf("%v", []Entry{e}); strings.Contains(out, keyA) {
		t.Errorf("a slice prints the key: %q", out)
	}
}

func TestBadKeysAreRefusedAndNothingIsWritten(t *testing.T) {
	s := New(t.TempDir())
	for _, k := range []string{"", "   ", "short", "sk-abc def-ghijklmnop", "sk-中文中文中文中文", "sk-\x1b[31mabcdefgh", strings.Repeat("k", 2000)} {
		if _, err := s.Add(Entry{"openai", keyA, time.Now(), ViaPrompt}, Entry{"openai", k, time.Now(), ViaPrompt}); err == nil {
			t.Errorf("key %q accepted", k)
		} else if len(k) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(k)) {
			t.Errorf("error %q holds the key", err)
		}
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("a refused batch wrote the file: %v", err)
	}
	if _, err := s.Add(Entry{"", keyA, time.Now(), ViaPrompt}); err == nil {
		t.Error("an entry without a provider was accepted")
	}
}

func TestCorruptFileIsNeverOverwritten(t *testing.T) {
	s := New(t.TempDir())
	bad := []byte(`{"version":1,"keys":[{"provider":"openai","key":"` + keyA + `"`) // cut short
	if err := os.WriteFile(s.Path(), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), FileName) || strings.Contains(err.Error(), keyA) {
		t.Errorf("Load of a cut file: %v", err)
	}
	if _, err := s.Add(Entry{"openai", keyB, time.Now(), ViaPrompt}); err == nil {
		t.Error("Add over an unreadable file succeeded")
	}
	if _, err := s.Clear(""); err == nil {
		t.Error("Clear over an unreadable file succeeded")
	}
	if data, _ := os.ReadFile(s.Path()); string(data) != string(bad) {
		t.Error("the unreadable file was changed")
	}
	os.WriteFile(s.Path(), []byte(`{"version":9,"keys":[]}`), 0o600)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("a newer format: %v", err)
	}
	os.WriteFile(s.Path(), []byte(`{"version":1,"keys":[{"provider":"openai","key":"x y"}]}`), 0o600)
	if _, err := s.Load(); err == nil || strings.Contains(err.Error(), "x y") {
		t.Errorf("an unusable entry: %v", err)
	}
}

func TestLoosePermissionsAreTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s := New(dir)
	if _, err := s.Add(Entry{"openai", keyA, time.Now(), ViaPrompt}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.Path(), 0o644)
	os.Chmod(dir, 0o755)
	var warnings []string
	s.Warn = func(w string) { warnings = append(warnings, w) }
	if keys, err := s.Load(); err != nil || len(keys) != 1 {
		t.Fatalf("Load = %v, %v", keys, err)
	}
	if mode(t, s.Path()) != 0o600 || mode(t, dir) != 0o700 {
		t.Errorf("modes after Load: file %04o, dir %04o", mode(t, s.Path()), mode(t, dir))
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "0755") || !strings.Contains(warnings[1], "0644") {
		t.Errorf("warnings = %q", warnings)
	}
}

// Two processes adding at once both keep their key (the store's lock); here goroutines with
// their own Store values stand for them.
func TestConcurrentAddsKeepEveryKey(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := New(dir).Add(Entry{"openai", fmt.Sprintf("sk-test-%030d", i), time.Now(), ViaStdin}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if keys, err := New(dir).Load(); err != nil || len(keys) != 8 {
		t.Errorf("after 8 concurrent adds: %d keys, %v", len(keys), err)
	}
}
