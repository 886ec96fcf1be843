package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/internal/keystore"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/openaitest"
)

// Test keys: shaped like real ones, so that the key-shape rules apply to them too.
const (
	key1   = "sk-test-one-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	key2   = "sk-test-two-bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	key3   = "sk-test-three-cccccccccccccccccccccccccc"
	keyEnv = "sk-test-env-eeeeeeeeeeeeeeeeeeeeeeeeeeee"
	keyGrq = "gsk_testgroqgggggggggggggggggggggggggggggg"
)

var allKeys = []string{key1, key2, key3, keyEnv, keyGrq}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// keys add reads standard input (a key a line, or a .env file), stores with mode 0600 in a
// 0700 directory, and says what it stored by fingerprint; list shows fingerprints and where
// each key came from; clear asks for -yes without a terminal.
func TestKeysAddListClear(t *testing.T) {
	s := newSandbox(t)
	out, errOut := s.mustRun(key1+"\n\n# a comment\n"+key2+"\n", "keys", "add")
	for _, k := range []string{key1, key2} {
		if !strings.Contains(out, "Stored "+secret.Fingerprint(k)+" for openai (from the standard input)") {
			t.Errorf("add said:\n%s%s", out, errOut)
		}
	}
	if !strings.Contains(out, "openai: 2 stored keys, taking turns") {
		t.Errorf("add said:\n%s", out)
	}
	if m := fileMode(t, s.keysFile()); m != 0o600 {
		t.Errorf("keys file mode %04o", m)
	}
	if m := fileMode(t, filepath.Dir(s.keysFile())); m != 0o700 {
		t.Errorf("keys directory mode %04o", m)
	}
	// openai2's spelling; a .env file's lines; the same key again.
	out, errOut = s.mustRun("export GROQ_API_KEY='"+keyGrq+"'\nOPENAI_BASE_URL=http://localhost\nOPENAI_API_KEY="+key1+"\n", "add_apikey")
	if !strings.Contains(out, "Stored "+secret.Fingerprint(keyGrq)+" for groq") || !strings.Contains(out, secret.Fingerprint(key1)+" for openai was already stored") ||
		!strings.Contains(errOut, "OPENAI_BASE_URL is not an API key variable: skipped") {
		t.Errorf("add_apikey from a .env file said:\n%s%s", out, errOut)
	}

	out, _ = s.mustRun("", "keys", "list")
	for _, want := range []string{secret.Fingerprint(key1), secret.Fingerprint(key2), secret.Fingerprint(keyGrq), "standard input", "groq", s.keysFile()} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if read, _ := s.mustRun("", "read_apikey"); read != out {
		t.Errorf("read_apikey differs from keys list:\n%s", read)
	}

	if _, errOut, code := s.run("", "keys", "clear"); code != 1 || !strings.Contains(errOut, "-yes") {
		t.Errorf("clear without a terminal or -yes: exit %d, %s", code, errOut)
	}
	if keys, _ := keystore.New(filepath.Dir(s.keysFile())).Load(); len(keys) != 3 {
		t.Fatalf("clear without -yes removed keys: %d left", len(keys))
	}
	if out, _ := s.mustRun("", "keys", "clear", "-provider", "groq", "-yes"); !strings.Contains(out, "Removed 1 stored key.") {
		t.Errorf("clear -provider groq: %s", out)
	}
	if out, _ := s.mustRun("", "clear_apikey", "--yes"); !strings.Contains(out, "Removed 2 stored keys.") {
		t.Errorf("clear_apikey --yes: %s", out)
	}
	if _, err := os.Stat(s.keysFile()); !os.IsNotExist(err) {
		t.Errorf("keys file after clearing: %v", err)
	}
	if out, _ := s.mustRun("", "keys", "list"); !strings.Contains(out, "No stored keys") {
		t.Errorf("list of nothing: %s", out)
	}
	s.checkNoLeak(allKeys...)
}

// A key is never taken from the command line: refused with a clear line, never echoed,
// nothing stored.
func TestKeyOnTheCommandLineIsRefused(t *testing.T) {
	s := newSandbox(t)
	for _, args := range [][]string{
		{"keys", "add", key1},
		{"add_apikey", key1},
		{"add_apikey", "-provider", "groq", keyGrq},
		{"keys", "add", key1, "-provider", "openai"},
		{key1},
		{"-model", key1, "keys", "add", key2},
	} {
		_, errOut, code := s.run(key3+"\n", args...)
		if code != 2 {
			t.Errorf("%d %v: exit %d", len(args), secret.Redact(strings.Join(args, " ")), code)
		}
		if !strings.Contains(errOut, "command line") || !strings.Contains(errOut, "gonbchat keys add") {
			t.Errorf("%v: %s", secret.Redact(strings.Join(args, " ")), errOut)
		}
	}
	if _, err := os.Stat(s.keysFile()); !os.IsNotExist(err) {
		t.Errorf("a refused add stored something: %v", err)
	}
	// Bad input through standard input: nothing stored, the line named, the key not echoed.
	_, errOut, code := s.run(key1+"\nsk-test with spaces inside it\n", "keys", "add")
	if code != 1 || !strings.Contains(errOut, "line 2") || !strings.Contains(errOut, "nothing was stored") {
		t.Errorf("a bad line: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(s.keysFile()); !os.IsNotExist(err) {
		t.Errorf("a batch with a bad line stored something: %v", err)
	}
	s.checkNoLeak(allKeys...)
}

// recordedKeys lists the key of every request the server received.
func recordedKeys(srv *openaitest.Server) []string {
	var keys []string
	for _, r := range srv.Handler().Requests() {
		keys = append(keys, r.Key)
	}
	return keys
}

func count(keys []string, k string) int {
	n := 0
	for _, x := range keys {
		if x == k {
			n++
		}
	}
	return n
}

// Several stored keys take turns, across runs (the pool's state is kept); the environment
// wins over them; a rate-limited key hands the request to the next one.
func TestStoredKeysTakeTurnsAndTheEnvironmentWins(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithAPIKeys(key1, key2, key3, keyEnv, keyGrq), openaitest.WithPace(0))
	defer srv.Close()
	s := newSandbox(t)
	s.setenv("OPENAI_BASE_URL=" + srv.URL)
	s.mustRun(key1+"\n"+key2+"\n"+key3+"\n"+keyGrq+"\n", "keys", "add")

	out, errOut := s.mustRun("一\n二\n三\n")
	if !strings.Contains(errOut, "3 stored keys taking turns") {
		t.Errorf("banner:\n%s", errOut)
	}
	if strings.Count(out, "you said") != 3 {
		t.Errorf("replies:\n%s", out)
	}
	got := recordedKeys(srv)
	if len(got) != 3 || count(got, key1) != 1 || count(got, key2) != 1 || count(got, key3) != 1 {
		t.Errorf("3 requests with 3 keys: %d requests, uses %d/%d/%d", len(got), count(got, key1), count(got, key2), count(got, key3))
	}
	s.mustRun("四\n五\n六\n", "chat")
	got = recordedKeys(srv)
	if len(got) != 6 || count(got, key1) != 2 || count(got, key2) != 2 || count(got, key3) != 2 || count(got, keyGrq) != 0 {
		t.Errorf("6 requests over 2 runs: uses %d/%d/%d, groq key %d", count(got, key1), count(got, key2), count(got, key3), count(got, keyGrq))
	}
	if out, _ := s.mustRun("", "keys", "list"); !strings.Contains(out, "ready, 2 requests") {
		t.Errorf("list shows the pool's state:\n%s", out)
	}

	// A rate-limited key: the request goes on with the next key, and says so by fingerprint.
	srv.Handler().ResetRequests()
	next := []string{key1, key2, key3}[len(got)%3] // the pool's turn
	srv.Handler().InjectFault(openaitest.Fault{Key: next, Status: 429, RetryAfter: time.Minute})
	out, errOut = s.mustRun("七\n")
	got = recordedKeys(srv)
	if len(got) != 2 || got[0] != next || got[1] == next || !strings.Contains(out, "you said") {
		t.Errorf("after a 429: %d requests, first with the limited key %v, reply %q", len(got), len(got) > 0 && got[0] == next, out)
	}
	if !strings.Contains(errOut, secret.Fingerprint(next)+" is rate limited (429 rate_limit_exceeded); going on with ") {
		t.Errorf("no note of the rate limit:\n%s", errOut)
	}

	// The environment wins: OPENAI_API_KEY, then a .env file in the current directory.
	srv.Handler().ResetRequests()
	s.setenv("OPENAI_API_KEY=" + keyEnv)
	_, errOut = s.mustRun("八\n九\n")
	if got := recordedKeys(srv); len(got) != 2 || count(got, keyEnv) != 2 {
		t.Errorf("with OPENAI_API_KEY: %d requests, %d with it", len(got), count(got, keyEnv))
	}
	if !strings.Contains(errOut, "key from OPENAI_API_KEY (environment); 3 stored keys not used while it is set") {
		t.Errorf("banner:\n%s", errOut)
	}
	if out, _ := s.mustRun("", "keys", "list"); !strings.Contains(out, secret.Fingerprint(keyEnv)) || !strings.Contains(out, "not used: OPENAI_API_KEY is set") {
		t.Errorf("list with OPENAI_API_KEY:\n%s", out)
	}
	s.env = slices.DeleteFunc(s.env, func(kv string) bool { return strings.HasPrefix(kv, "OPENAI_API_KEY=") })
	if err := os.WriteFile(filepath.Join(s.workdir, ".env"), []byte("OPENAI_API_KEY="+keyEnv+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Handler().ResetRequests()
	_, errOut = s.mustRun("十\n")
	if got := recordedKeys(srv); len(got) != 1 || got[0] != keyEnv || !strings.Contains(errOut, ".env file in the current directory") {
		t.Errorf("with a .env file: keys %d, banner:\n%s", len(got), errOut)
	}
	os.Remove(filepath.Join(s.workdir, ".env"))
	s.checkNoLeak(allKeys...)
}

// A line that looks like a key is not sent to the model.
func TestKeyShapedMessageIsNotSent(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	s := newSandbox(t)
	s.setenv("OPENAI_BASE_URL="+srv.URL, "OPENAI_API_KEY="+keyEnv)
	out, errOut := s.mustRun("my key is " + key1 + "\n你好\n")
	if !strings.Contains(errOut, "looks like an API key") || strings.Count(out, "you said") != 1 {
		t.Errorf("out:\n%s\nerr:\n%s", out, errOut)
	}
	for _, r := range srv.Handler().Requests() {
		if strings.Contains(string(r.Body), key1) {
			t.Error("the key-shaped line was sent")
		}
	}
	s.checkNoLeak(key1, keyEnv)
}

// parseKeys: what each line of standard input becomes.
func TestParseKeys(t *testing.T) {
	for _, c := range []struct {
		in, provider string
		want         []string // provider:key
		err          string
	}{
		{in: key1, want: []string{"openai:" + key1}},
		{in: "  " + key1 + "  \r\n", want: []string{"openai:" + key1}},
		{in: `"` + key1 + `"`, want: []string{"openai:" + key1}},
		{in: keyGrq, want: []string{"groq:" + keyGrq}},
		{in: keyGrq, provider: "together", want: []string{"together:" + keyGrq}},
		{in: "GROQ_API_KEY=" + keyGrq + " # mine\n", want: []string{"groq:" + keyGrq}},
		{in: "export OPENAI_API_KEY=\"" + key1 + "\"", want: []string{"openai:" + key1}},
		{in: "GROQ_API_KEY=" + keyGrq, provider: "openai", err: "GROQ_API_KEY is a groq key, but -provider is openai"},
		{in: key1 + "\nshort\n", err: "line 2: the key is too short"},
		{in: "\ufeff# keys\n\n", want: nil},
	} {
		entries, _, err := parseKeys([]byte(c.in), c.provider, keystore.ViaStdin)
		var got []string
		for _, e := range entries {
			got = append(got, e.Provider+":"+e.Key)
		}
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", secret.Redact(c.in), err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: got %d entries (%v)", secret.Redact(c.in), len(got), err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a command writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Without a terminal (a pipe), SIGINT while a reply streams stops that reply and the chat goes
// on with the next line; SIGINT while waiting for a line ends the chat.
func TestInterruptWithoutATerminal(t *testing.T) {
	s := newSandbox(t)
	cmd := s.command("-offline", "-pace", "80ms")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor := func(what string, b *lockedBuffer, text string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(b.String(), text); {
			if time.Now().After(deadline) {
				t.Fatalf("waited in vain for %s\nstdout:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	io.WriteString(in, "第一個問題\n")
	waitFor("the reply to begin", &out, "Mirror")
	cmd.Process.Signal(os.Interrupt)
	waitFor("the interrupt note", &errOut, "interrupted")
	io.WriteString(in, "第二個問題\n")
	waitFor("the second reply", &out, "you said: “第二個問題”")
	waitFor("its usage line", &errOut, "tokens:")
	cmd.Process.Signal(os.Interrupt) // at the prompt: the end
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGINT at the prompt: %v\n%s", err, errOut.String())
	}
	if strings.Count(out.String(), "you said") != 1 || !strings.Contains(out.String(), ">>> 第一個問題") {
		t.Errorf("stdout:\n%s", out.String())
	}
	shown, _ := s.mustRun("", "show", "-offline")
	if !strings.Contains(shown, "cut short") {
		t.Errorf("show:\n%s", shown)
	}
}

// A rejected key is set aside for the run and the request goes on with the next; when every
// key is rejected the chat says so in one line and exits 1.
func TestRejectedKeys(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithAPIKeys(key1, key2), openaitest.WithPace(0))
	defer srv.Close()
	s := newSandbox(t)
	s.setenv("OPENAI_BASE_URL=" + srv.URL)
	s.mustRun(key1+"\n"+key2+"\n", "keys", "add")
	srv.Handler().InjectFault(openaitest.Fault{Key: key1, Status: 401, Times: -1})
	out, errOut := s.mustRun("一\n二\n")
	got := recordedKeys(srv)
	if strings.Count(out, "you said") != 2 || count(got, key1) != 1 || count(got, key2) != 2 {
		t.Errorf("uses %d/%d, replies:\n%s", count(got, key1), count(got, key2), out)
	}
	if !strings.Contains(errOut, secret.Fingerprint(key1)+" was refused (401 invalid_api_key): not used again in this run; going on with "+secret.Fingerprint(key2)) {
		t.Errorf("no note of the rejection:\n%s", errOut)
	}
	srv.Handler().InjectFault(openaitest.Fault{Key: key2, Status: 401, Times: -1})
	out, errOut, code := s.run("三\n")
	if code != 1 || strings.Contains(out, "you said") || strings.Count(errOut, "every key of the pool is unusable") != 1 || !strings.Contains(errOut, "✖ every key") {
		t.Errorf("every key rejected: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	s.checkNoLeak(allKeys...)
}

// A key goes only to its provider: with -provider groq and only an OpenAI key stored, the chat
// is offline and says which variable (or stored key) it needs; nothing is sent anywhere.
func TestKeysGoOnlyToTheirProvider(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	s := newSandbox(t)
	s.setenv("OPENAI_BASE_URL=" + srv.URL)
	s.mustRun(key1+"\n", "keys", "add")
	out, errOut := s.mustRun("你好\n", "-provider", "groq")
	if !strings.Contains(errOut, "no key (set GROQ_API_KEY, or store one with `gonbchat keys add -provider groq`)") || !strings.Contains(out, "you said") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if n := len(srv.Handler().Requests()); n != 0 {
		t.Errorf("%d requests reached the OpenAI server", n)
	}
	s.checkNoLeak(allKeys...)
}

// A damaged keys file is never overwritten: add refuses naming the file, the chat goes on
// without stored keys and says why.
func TestDamagedKeysFile(t *testing.T) {
	s := newSandbox(t)
	os.MkdirAll(filepath.Dir(s.keysFile()), 0o700)
	damaged := []byte("{\"version\":1,\"keys\":[{\"provider\":\"openai\",\"key\":\"" + key1)
	os.WriteFile(s.keysFile(), damaged, 0o600)
	_, errOut, code := s.run(key2+"\n", "keys", "add")
	if code != 1 || !strings.Contains(errOut, s.keysFile()) {
		t.Errorf("add over a damaged file: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(s.keysFile()); !bytes.Equal(data, damaged) {
		t.Error("the damaged file was changed")
	}
	out, errOut := s.mustRun("你好\n")
	if !strings.Contains(errOut, "the stored keys are not used") || !strings.Contains(out, "you said") {
		t.Errorf("chat with a damaged keys file:\n%s\n%s", out, errOut)
	}
	s.checkNoLeak(key2)
}
