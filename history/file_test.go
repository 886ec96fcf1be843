package history

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbchat/gonbchat/internal/secret"

	"github.com/gonbchat/gonbchat/llm"
)

func sampleList(t *testing.T) *List {
	t.Helper()
	l := New(WithMaxCount(10))
	l.SetSystem("你是一个乐于助人的助手。")
	ask(t, l, "自然数1的后面是几?", "2")
	partial := llm.AssistantMsg("3, and then")
	partial.Partial = true
	if err := l.AppendTurn(llm.UserMsg("再往后是几?").WithName("Ariel"), partial); err != nil {
		t.Fatal(err)
	}
	if err := l.AddDialogs(llm.UserMsg("请问1+1=几?"), llm.AssistantMsg("1+1=10")); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(llm.Message{Role: llm.System, Content: SummaryPrefix + "counting", Summary: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Pin(1, -2); err != nil {
		t.Fatal(err)
	}
	l.AddUsage(llm.Usage{InputTokens: 120, OutputTokens: 30, TotalTokens: 150})
	return l
}

func TestSaveLoadRoundTrip(t *testing.T) {
	l := sampleList(t)
	path := filepath.Join(t.TempDir(), "sub", "chat.gob") // Save creates the directory
	f := l.Snapshot()
	f.Model = "gpt-4.1-nano"
	f.Instructions = "answer briefly"
	f.Meta = map[string]string{"temperature": "0.7"}
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Messages, l.Messages()) {
		t.Fatalf("messages differ:\n got  %+v\n want %+v", g.Messages, l.Messages())
	}
	if g.MaxCount != 10 || g.Usage != l.Usage() || g.Model != "gpt-4.1-nano" || g.Instructions != "answer briefly" ||
		g.Meta["temperature"] != "0.7" || g.SavedAt.IsZero() {
		t.Fatalf("file fields differ: %+v", g)
	}
	l2 := g.List()
	if !slices.Equal(l2.Messages(), l.Messages()) || l2.MaxCount() != 10 || l2.Usage() != l.Usage() {
		t.Fatal("List() does not restore the history")
	}
	ask(t, l2, "q", "a")
	ms := l2.Messages()
	for _, m := range l.Messages() {
		if m.ID >= ms[len(ms)-1].ID {
			t.Fatalf("a message added after Load got ID %d, not above the loaded ones", ms[len(ms)-1].ID)
		}
	}
	// The convenience pair.
	path2 := filepath.Join(t.TempDir(), "c.gob")
	if err := l.Save(path2); err != nil {
		t.Fatal(err)
	}
	l3, err := LoadList(path2)
	if err != nil || !slices.Equal(l3.Messages(), l.Messages()) {
		t.Fatalf("LoadList: %v", err)
	}
	if st, err := os.Stat(path2); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("save file mode %v, %v; want 0600", st.Mode(), err)
	}
}

func TestFileListRepairsIDs(t *testing.T) {
	f := &File{Messages: []llm.Message{llm.UserMsg("a"), {Role: llm.Assistant, Content: "b", ID: 7}, {Role: llm.User, Content: "c", ID: 7}}}
	ms := f.List().Messages()
	if ms[0].ID == 0 || ms[1].ID != 7 || ms[2].ID == 7 || ms[0].ID == ms[2].ID {
		t.Fatalf("IDs not repaired: %+v", ms)
	}
	f = &File{Messages: []llm.Message{llm.UserMsg("a"), {Role: llm.Assistant, Content: "b", ID: 1<<64 - 1}}}
	l := f.List()
	ask(t, l, "q", "a")
	seen := map[uint64]bool{}
	for _, m := range l.Messages() {
		if m.ID == 0 || seen[m.ID] {
			t.Fatalf("IDs overflowed: %+v", l.Messages())
		}
		seen[m.ID] = true
	}
}

func validFile(t *testing.T) []byte {
	t.Helper()
	data, err := encodeFile(sampleList(t).Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.gob")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want fs.ErrNotExist naming %s", err, path)
	}
	if _, err := os.Stat(path + ".lock"); err == nil {
		t.Fatal("loading a missing file left a lock file behind")
	}
	if _, err := LoadList(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadList: %v", err)
	}
}

// withHeader builds a file with the given version around a payload, with a right checksum.
func withHeader(version uint32, payload []byte) []byte {
	out := []byte(magic)
	out = binary.BigEndian.AppendUint32(out, version)
	out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	sum := sha256.Sum256(payload)
	return append(out, sum[:]...)
}

func TestLoadForeignFiles(t *testing.T) {
	valid := validFile(t)
	flipped := slices.Clone(valid)
	flipped[headerLen+10] ^= 0x40
	tests := []struct {
		name, content string
		want          error
		reason        string
	}{
		{"empty", "", ErrEmpty, "is empty"},
		{"pickle4", "\x80\x04\x95\x2b\x00\x00\x00\x00\x00\x00\x00]\x94(}\x94", ErrNotHistory, "is a Python pickle (protocol 4), not a gonbchat history"},
		{"pickle5", "\x80\x05\x95\x10\x00", ErrNotHistory, "is a Python pickle (protocol 5)"},
		{"json", "\n  [{\"role\": \"user\", \"content\": \"hi\"}]", ErrNotHistory, "is a JSON file, not a gonbchat history"},
		{"random", "\x13\x37\xde\xad\xbe\xef\x00\x01\x02", ErrNotHistory, "is not a gonbchat history (it starts with 13 37 de ad be ef 00 01"},
		{"text", "hello world", ErrNotHistory, "is not a gonbchat history"},
		{"newer", string(withHeader(7, []byte("future"))), ErrNewerVersion, "was written by a newer gonbchat (format version 7)"},
		{"version0", string(withHeader(0, []byte("x"))), ErrCorrupt, "format version 0"},
		{"checksum", string(flipped), ErrCorrupt, "checksum mismatch"},
		{"trailing", string(valid) + "junk", ErrCorrupt, "4 unexpected bytes"},
		{"garbage gob", string(withHeader(1, []byte("\x05\xff\xff\xff\xff\xff"))), ErrCorrupt, "is corrupt"},
		{"huge size", magic + "\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff", ErrCorrupt, "declares a"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".gob")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want a *FormatError matching %v", err, tc.want)
			}
			if fe.Path != path || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %q; want it to name %s and say %q", err, path, tc.reason)
			}
		})
	}
}

// Every truncation of a valid file is reported as truncated, never loaded or panicking.
func TestLoadEveryTruncation(t *testing.T) {
	valid := validFile(t)
	for n := 1; n < len(valid); n++ {
		_, err := decodeFile("chat.gob", valid[:n])
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "chat.gob is truncated") {
			t.Fatalf("prefix of %d/%d bytes: err = %v", n, len(valid), err)
		}
	}
	if _, err := decodeFile("chat.gob", valid); err != nil {
		t.Fatal(err)
	}
}

// A well-formed file whose payload decodes to an invalid history (as a hostile file could)
// is rejected, not loaded.
func TestLoadRejectsInvalidMessages(t *testing.T) {
	data, err := encodeFile(&File{Messages: []llm.Message{{Role: "tool", Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile("x.gob", data); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `unknown role "tool"`) {
		t.Fatalf("err = %v", err)
	}
	if err := Save(filepath.Join(t.TempDir(), "x.gob"), &File{Messages: []llm.Message{{Role: "tool"}}}); err == nil {
		t.Fatal("Save wrote an invalid message")
	}
}

// No API key or other secret goes into a save file.
func TestSaveWritesNoSecrets(t *testing.T) {
	const key = "sk-proj-TESTKEYdonotuse0123456789"
	t.Setenv("OPENAI_API_KEY", key)
	path := filepath.Join(t.TempDir(), "chat.gob")
	f := sampleList(t).Snapshot()
	f.Model = "gpt-4o-mini"
	f.Meta = map[string]string{"temperature": "1", "max_tokens": "100", "title": "counting"}
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("sk-")) {
		t.Fatal(`the save file contains "sk-"`)
	}
	// Meta entries that look like credentials are refused, without repeating them.
	for _, meta := range []map[string]string{{"api_key": "whatever"}, {"apiKey": "whatever"}, {"note": "use " + key}, {"OPENAI_TOKEN": "x"}} {
		f.Meta = meta
		p := filepath.Join(t.TempDir(), "refused.gob")
		err := Save(p, f)
		if err == nil || strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "whatever") {
			t.Fatalf("Save with Meta %v: err = %v", slices.Collect(func(yield func(string) bool) {
				for k := range meta {
					yield(k)
				}
			}), err)
		}
		if _, err := os.Stat(p); err == nil {
			t.Fatal("a refused save wrote a file")
		}
	}
}

func TestSecretsNeverSaved(t *testing.T) {
	for s, want := range map[string]bool{
		"sk-proj-abcdefghijklmnop1234": true,
		"key: sk-abcdefghijklmnopqrst": true,
		"sk-short":                     false,
		"task-1234567890abcdefghij":    false,
		"gpt-4o-mini":                  false,
	} {
		if secret.Contains(s) != want {
			t.Errorf("secret.Contains(%q) = %v", s, !want)
		}
	}
	// A key of any shape that this process was configured with is refused too.
	secret.Register("opaque.teacher.token.0123456789")
	f := &File{Meta: map[string]string{"note": "token opaque.teacher.token.0123456789"}}
	if err := Save(filepath.Join(t.TempDir(), "x.gob"), f); err == nil || strings.Contains(err.Error(), "opaque") {
		t.Errorf("saving a registered key: %v", err)
	}
	for k, want := range map[string]bool{"api_key": true, "apiKey": true, "APIKEY": true, "max_tokens": false,
		"OPENAI_TOKEN": true, "Authorization": true, "author": false, "temperature": false} {
		if credentialName(k) != want {
			t.Errorf("credentialName(%q) = %v", k, !want)
		}
	}
}

// The helper process of the multi-process tests: it re-runs this test binary with
// GONBCHAT_HISTORY_HELPER set (the standard pattern, as in os/exec's own tests).
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("GONBCHAT_HISTORY_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	path, tag := os.Getenv("GONBCHAT_HISTORY_PATH"), os.Getenv("GONBCHAT_HISTORY_TAG")
	rounds, _ := strconv.Atoi(os.Getenv("GONBCHAT_HISTORY_ROUNDS"))
	start := 0
	if f, err := Load(path); err == nil {
		start, _ = strconv.Atoi(f.Meta["n"])
	}
	for n := start + 1; rounds == 0 || n <= start+rounds; n++ {
		if err := Save(path, stateFile(tag, n)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("saved %d\n", n) // the parent knows this state is on disk
	}
	os.Exit(0)
}

// stateFile is the n-th state a helper saves: n turns, all tagged, and n in Meta.
func stateFile(tag string, n int) *File {
	l := New()
	l.SetSystem("writer " + tag)
	for i := range n {
		l.AppendTurn(llm.UserMsg(fmt.Sprintf("%s q%d %s", tag, i, strings.Repeat("x", 200))), llm.AssistantMsg(fmt.Sprintf("%s a%d", tag, i)))
	}
	f := l.Snapshot()
	f.Meta = map[string]string{"n": strconv.Itoa(n), "tag": tag}
	return f
}

// checkState fails unless f is one whole state written by stateFile, and returns its n.
func checkState(t *testing.T, f *File) int {
	t.Helper()
	n, err := strconv.Atoi(f.Meta["n"])
	if err != nil {
		t.Fatalf("loaded file has no state number: %+v", f.Meta)
	}
	want := stateFile(f.Meta["tag"], n).Messages
	if !slices.Equal(brief(f.Messages), brief(want)) {
		t.Fatalf("loaded state %d is not whole: %d messages, want %d", n, len(f.Messages), len(want))
	}
	return n
}

func helper(t *testing.T, path, tag string, rounds int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GONBCHAT_HISTORY_HELPER=1", "GONBCHAT_HISTORY_PATH="+path,
		"GONBCHAT_HISTORY_TAG="+tag, "GONBCHAT_HISTORY_ROUNDS="+strconv.Itoa(rounds))
	cmd.Stderr = os.Stderr
	return cmd
}

// A process saving in a loop and killed with SIGKILL at an arbitrary point always leaves a
// file that loads, holding a whole state no older than the last one it reported saved.
func TestSaveSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "chat.gob")
	for cycle := range 5 {
		cmd := helper(t, path, "k", 0)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := 0
		for i := 0; i < 10+7*cycle && sc.Scan(); i++ { // kill after a varying number of saves
			last, _ = strconv.Atoi(strings.TrimPrefix(sc.Text(), "saved "))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if last == 0 {
			t.Fatal("the helper saved nothing")
		}
		f, err := Load(path)
		if err != nil {
			t.Fatalf("cycle %d: after SIGKILL: %v", cycle, err)
		}
		if n := checkState(t, f); n < last {
			t.Fatalf("cycle %d: loaded state %d, older than %d which was reported saved", cycle, n, last)
		}
	}
}

// Two processes saving the same file at once, while this one loads it: every load succeeds
// and finds one whole state.
func TestConcurrentSaversNeverCorrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "chat.gob")
	if err := Save(path, stateFile("init", 1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for _, tag := range []string{"A", "B"} {
		cmd := helper(t, path, tag, 150)
		cmd.Stdout = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
	}
	loads := 0
	for finished := 0; finished < 2; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("a saver failed: %v", err)
			}
			finished++
		default:
		}
		f, err := Load(path)
		if err != nil {
			t.Fatalf("load %d: %v", loads, err)
		}
		checkState(t, f)
		loads++
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, f)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".chat.gob.tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left behind: %v", matches)
	}
}

// Loading a file (even one that is not a history) leaves nothing behind next to it.
func TestLoadLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.gob")
	os.WriteFile(valid, validFile(t), 0o600)
	foreign := filepath.Join(dir, "lesson.ipynb")
	os.WriteFile(foreign, []byte(`{"cells": []}`), 0o644)
	if _, err := Load(valid); err != nil {
		t.Fatal(err)
	}
	Load(foreign)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files after loading: %v, want only the two loaded", names)
	}
}
