package secret

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRedactRegisteredKeyInEveryShape(t *testing.T) {
	key := "Zq9+tok/en:ABCDEFGHIJKLMNOPQRSTUV0123456789" // no known prefix: only registration finds it
	Register(key)
	cases := map[string]string{
		"whole":     "invalid key " + key + " given",
		"json":      `{"message":"bad key ` + strconv.Quote(key)[1:len(strconv.Quote(key))-1] + `"}`,
		"url":       "GET /v1/models?key=" + url.QueryEscape(key),
		"piece":     "key starts with " + key[:14] + "…",
		"tail":      "…" + key[len(key)-13:],
		"two":       key + " and " + key,
		"multiline": "line1\n" + key + "\nline3",
	}
	for name, in := range cases {
		out := Redact(in)
		if strings.Contains(out, key[:pieceLen]) || strings.Contains(out, key[len(key)-pieceLen:]) {
			t.Errorf("%s: key survived: %q", name, out)
		}
		for i := 0; i+pieceLen <= len(key); i++ {
			if strings.Contains(out, key[i:i+pieceLen]) {
				t.Errorf("%s: piece %q survived in %q", name, key[i:i+pieceLen], out)
			}
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("%s: no mask in %q", name, out)
		}
		if !Contains(in) {
			t.Errorf("%s: Contains = false", name)
		}
	}
}

func TestRedactKeepsOrdinaryText(t *testing.T) {
	Register("short") // too short to be a key: ignored
	for _, s := range []string{
		"notes/x-sk-2024/lesson.gob",
		"/home/me/sk-notes/ch3.ipynb",
		"the model gpt-4.1-nano answered 400 Bad Request",
		"short answers are fine",
		"請用繁體中文回答，不要超過 100 字。",
		"task-manager_and_friends_forever_2024 is a name",
		"",
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
		if Contains(s) {
			t.Errorf("Contains(%q) = true", s)
		}
	}
}

func TestRedactKeyShapes(t *testing.T) {
	for _, key := range []string{
		"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
		"sk-abcdefghijklmnopqrstuvwxyz012345",
		"gsk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
		"xai-abcdefghijklmnopqrstuvwxyz0123456789",
		"fw_abcdefghijklmnopqrstuv",
		"AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
	} {
		for _, in := range []string{key, "Bearer " + key, `"` + key + `"`, "key=" + key + "&x=1", "(" + key + ")"} {
			out := Redact(in)
			if strings.Contains(out, key[4:16]) {
				t.Errorf("Redact(%q) = %q: the key survived", in, out)
			}
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("sk-aaaaaaaaaaaaaaaaaaaaaaaa"), Fingerprint("sk-bbbbbbbbbbbbbbbbbbbbbbbb")
	if a == b || !strings.HasPrefix(a, "key#") || len(a) != len("key#")+6 {
		t.Fatalf("fingerprints %q %q", a, b)
	}
	if Fingerprint(" sk-aaaaaaaaaaaaaaaaaaaaaaaa\n") != a {
		t.Error("surrounding space changes the fingerprint")
	}
	if strings.Contains(a, "aaaa") {
		t.Error("fingerprint shows the key")
	}
}

func TestRegisterEnv(t *testing.T) {
	env := map[string]string{"X_KEY": "opaque-value-from-env-123456"}
	RegisterEnv(func(k string) string { return env[k] }, "X_KEY", "UNSET_KEY")
	if got := Redact("echo: opaque-value-from-env-123456"); got != "echo: "+Mask {
		t.Fatalf("got %q", got)
	}
}

func FuzzRedact(f *testing.F) {
	Register("fuzz-registered-key-value-0123456789")
	f.Add("fuzz-registered-key-value-0123456789")
	f.Add("x fuzz-registered-key-val")
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if strings.Contains(out, "fuzz-registered-key-value-0123456789") {
			t.Fatalf("key survived in %q", out)
		}
		if Redact(out) != out {
			t.Fatalf("Redact is not idempotent on %q", s)
		}
	})
}

func TestKnownOnlyForRegisteredKeys(t *testing.T) {
	const key = "zq81TWlkeyvalueOfNoShape42"
	Register(key)
	for _, s := range []string{"use " + key + " please", `{"k":"` + key + `"}`, "begins " + key[:13]} {
		if !Known(s) {
			t.Errorf("Known(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "short", "sk-proj-" + strings.Repeat("x", 30), "an ordinary sentence about keys"} {
		if Known(s) {
			t.Errorf("Known(%q) = true, want false (not a registered key)", s)
		}
	}
}
