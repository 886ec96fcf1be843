package keypool

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// assertNoKey fails if s holds any key, or any 12-character piece of one.
func assertNoKey(t *testing.T, what, s string, keys []string) {
	t.Helper()
	for i, k := range keys {
		for j := 0; j+12 <= len(k); j++ {
			if strings.Contains(s, k[j:j+12]) {
				t.Errorf("%s holds a piece of key %d: %q", what, i, s)
				return
			}
		}
	}
}

// TestNothingShowsAKey drives a pool through every fault (with a server that echoes keys in
// its error messages), then searches everything the pool wrote, returned, printed and
// notified for every key and every 12-character piece of one.
func TestNothingShowsAKey(t *testing.T) {
	keys := testKeys(5)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "40"}))
	up.set(keys[1], invalidKey(keys[1]))
	up.set(keys[2], forbidden)
	up.set(keys[3], noQuota)
	up.set(keys[4], reply{status: 429, body: `{"error":{"message":"slow down ` + keys[4] + `","code":"` + keys[4] + `"}}`})
	dir := t.TempDir()
	clk := newClock()
	var ev events
	p := mustPool(t, keys, clk, WithStateDir(dir), WithNotify(ev.add), WithName("class-3b"))

	_, _, err := get(t, p, up.URL)
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("error %v, want an *ExhaustedError", err)
	}
	// Nothing of key 4's echoed "code" went into its reason.
	if s := statusOf(t, p, keys[4]); s.State != Cooling || s.Reason != "429" {
		t.Errorf("key 4: %+v, want cooling with reason \"429\"", s)
	}
	// A broken state file whose text holds a key: the problem report must not quote it.
	path := filepath.Join(dir, "keypool-class-3b.json")
	os.WriteFile(path, []byte(`{"version":1,"pool":"class-3b","keys":{"`+keys[0]+`":{"uses":"`+keys[1]+`"}}}`), 0o600)
	p.Status()

	texts := map[string]string{
		"error":              err.Error(),
		"ExhaustedError %+v": fmt.Sprintf("%+v", ex),
		"ExhaustedError %#v": fmt.Sprintf("%#v", ex),
		"Pool String":        p.String(),
		"Pool %v":            fmt.Sprintf("%v", p),
		"Pool %+v":           fmt.Sprintf("%+v", p),
		"Pool %#v":           fmt.Sprintf("%#v", p),
		"Pool value %+v":     fmt.Sprintf("%+v", *p),
		"Pool value %#v":     fmt.Sprintf("%#v", *p),
		"Pool %s %q %x":      fmt.Sprintf("%s %q %x", p, p, p),
		"Pool in a struct":   fmt.Sprintf("%+v %#v", struct{ P *Pool }{p}, struct{ P Pool }{*p}),
		"core %+v":           fmt.Sprintf("%+v %#v", p.c, p.c),
		"key %+v":            fmt.Sprintf("%+v %#v %s", p.c.keys, p.c.keys[0], p.c.keys),
		"Transport %+v":      fmt.Sprintf("%+v %#v", p.Transport(nil), p.Transport(nil)),
		"Status %+v":         fmt.Sprintf("%+v %#v", p.Status(), p.Status()),
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("pool", "pool", p, "ptr", *p, "key", p.c.keys[0])
	texts["slog"] = logged.String()
	if j, err := json.Marshal(p); err == nil {
		texts["json"] = string(j)
	}
	for i, e := range ev.all() {
		texts[fmt.Sprintf("event %d", i)] = e.String() + fmt.Sprintf(" %v %+v %#v", e, e, e)
		if e.Err != nil {
			texts[fmt.Sprintf("event %d error", i)] = e.Err.Error() + fmt.Sprintf("%+v %#v", e.Err, e.Err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keypool-class-3b.json*"))
	for _, f := range files {
		if strings.Contains(f, ".broken-") {
			continue // the broken file we wrote, moved aside as it was
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts["file "+filepath.Base(f)] = string(data)
	}
	for what, s := range texts {
		assertNoKey(t, what, s, keys)
	}
	if !strings.Contains(texts["Pool %+v"], "key#") || !strings.Contains(texts["error"], fingerprintOf(keys[0])) {
		t.Errorf("the texts do not name keys by fingerprint: %q / %q", texts["Pool %+v"], texts["error"])
	}
	var sawReset bool
	for _, e := range ev.all() {
		sawReset = sawReset || e.Kind == StateReset
	}
	if !sawReset || len(ev.all()) < 6 {
		t.Errorf("events %q", ev.strings())
	}
}

func TestPrintingAPool(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "12"}))
	up.set(keys[2], invalidKey(keys[2]))
	clk := newClock()
	p := mustPool(t, keys, clk, WithName("demo"))
	mustGet(t, p, up.URL) // key 0
	mustGet(t, p, up.URL) // key 1: 429; key 2: 401; key 0
	want := fmt.Sprintf("keypool.Pool(demo: %s ready (2 uses), %s cooling for 12 s (429 rate_limit_exceeded), %s disabled (401 invalid_api_key))",
		fingerprintOf(keys[0]), fingerprintOf(keys[1]), fingerprintOf(keys[2]))
	for _, got := range []string{p.String(), fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", *p)} {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if got := fmt.Sprintf("%q", p); got != fmt.Sprintf("%q", want) {
		t.Errorf("%%q: %s", got)
	}
	clk.Advance(time.Hour)
	if s := statusOf(t, p, keys[1]); s.State != Ready {
		t.Errorf("after its cooldown: %+v", s)
	}
}
