package keypool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// newCell creates the pool as a GoNB cell does: a new Pool (in a new process) on the same
// state directory.
func newCell(t *testing.T, keys []string, dir string, clk *fakeClock, opts ...Option) *Pool {
	t.Helper()
	return mustPool(t, keys, clk, append([]Option{WithStateDir(dir)}, opts...)...)
}

func TestEachCellContinuesWhereThePreviousLeftOff(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	dir := t.TempDir()
	clk := newClock()
	for range 6 {
		mustGet(t, newCell(t, keys, dir, clk), up.URL)
	}
	want := []string{keys[0], keys[1], keys[2], keys[0], keys[1], keys[2]}
	if fmt.Sprint(up.order) != fmt.Sprint(want) {
		t.Fatalf("keys in order %v, want each in turn across cells", fps(up.order))
	}

	// Cooldowns and taken-out keys outlive the cell too.
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "30"}), reply{status: 200})
	up.set(keys[1], invalidKey(keys[1]))
	mustGet(t, newCell(t, keys, dir, clk), up.URL) // k0: 429, k1: 401, k2
	before := up.total()
	for range 4 {
		mustGet(t, newCell(t, keys, dir, clk), up.URL)
	}
	if up.count(keys[2]) != 2+1+4 || up.total() != before+4 {
		t.Errorf("later cells sent to a cooling or disabled key: order %v", fps(up.order))
	}
	s := newCell(t, keys, dir, clk).Status()
	if s[0].State != Cooling || s[1].State != Disabled || s[1].Reason != "401 invalid_api_key" || s[2].Uses != 7 {
		t.Errorf("status in a new cell: %+v", s)
	}

	// Reset in one cell is seen by the next.
	up.set(keys[1])
	if err := newCell(t, keys, dir, clk).Reset(); err != nil {
		t.Fatal(err)
	}
	for _, st := range newCell(t, keys, dir, clk).Status() {
		if st.State != Ready {
			t.Errorf("after Reset: %+v", st)
		}
	}

	// The state file is JSON naming keys by fingerprint.
	data, err := os.ReadFile(filepath.Join(dir, "keypool-"+newCell(t, keys, dir, clk).Name()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	decodeJSON(t, data, &st)
	if st.Keys[fingerprintOf(keys[2])] == nil || st.Keys[fingerprintOf(keys[2])].Uses != 7 {
		t.Errorf("state file %s", data)
	}
	assertNoKey(t, "state file", string(data), keys)
}

func fps(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fingerprintOf(k)
	}
	return out
}

func TestPoolsWithTheSameNameShareState(t *testing.T) {
	keys := testKeys(2)
	up := newUpstream(t, keys)
	dir := t.TempDir()
	clk := newClock()
	a := newCell(t, keys, dir, clk, WithName("shared"))
	b := newCell(t, keys, dir, clk, WithName("shared"))
	c := newCell(t, keys, dir, clk, WithName("apart"))
	mustGet(t, a, up.URL)
	mustGet(t, b, up.URL)
	mustGet(t, c, up.URL)
	want := []string{keys[0], keys[1], keys[0]}
	if fmt.Sprint(up.order) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", fps(up.order), fps(want))
	}
}

// TestProcessesShareTheRotation runs a child process and this one against the same state
// directory at the same time: the server sees every key exactly as often.
func TestProcessesShareTheRotation(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "3600"}))
	dir := t.TempDir()
	const each = 40
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"KEYPOOL_CHILD_URL="+up.URL, "KEYPOOL_CHILD_DIR="+dir,
		"KEYPOOL_CHILD_KEYS="+strings.Join(keys, ","), "KEYPOOL_CHILD_N="+strconv.Itoa(each))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := New(keys, WithStateDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range each / 2 {
				if _, _, err := get(t, p, up.URL); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	// Key 1 answered one 429 (then cooled for an hour in both processes); keys 0 and 2 shared
	// the 80 requests evenly.
	if up.count(keys[1]) != 1 || up.count(keys[0]) != each || up.count(keys[2]) != each {
		t.Errorf("sent %d/%d/%d, want %d/1/%d", up.count(keys[0]), up.count(keys[1]), up.count(keys[2]), each, each)
	}
	var uses int64
	for _, s := range p.Status() {
		uses += s.Uses
	}
	if uses != 2*each+1 {
		t.Errorf("use counts add up to %d, want %d", uses, 2*each+1)
	}
}

// TestChildProcess is the child of TestProcessesShareTheRotation.
func TestChildProcess(t *testing.T) {
	url := os.Getenv("KEYPOOL_CHILD_URL")
	if url == "" {
		t.Skip("only run as a child process")
	}
	n, _ := strconv.Atoi(os.Getenv("KEYPOOL_CHILD_N"))
	p, err := New(strings.Split(os.Getenv("KEYPOOL_CHILD_KEYS"), ","), WithStateDir(os.Getenv("KEYPOOL_CHILD_DIR")))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range n / 2 {
				if status, body, err := get(t, p, url); err != nil || status != 200 {
					t.Errorf("%d %s %v", status, body, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestABrokenStateFileIsMovedAside(t *testing.T) {
	keys := testKeys(2)
	fp0 := fingerprintOf(keys[0])
	for _, tc := range []struct {
		name, content, problem string
	}{
		{"garbage", "{\"version\":1,\"pool\":", "empty or cut short"},
		{"not json", "hello", "not JSON"},
		{"wrong type", `{"version":1,"pool":"p","keys":{"` + fp0 + `":{"uses":"many"}}}`, `field "keys.uses" has the wrong type`},
		{"other version", `{"version":7,"pool":"p","keys":{}}`, "version 7, want 1"},
		{"other pool", `{"version":1,"pool":"q","keys":{}}`, "another pool"},
		{"not a fingerprint", `{"version":1,"pool":"p","keys":{"` + keys[0] + `":{"uses":1}}}`, "not named by a fingerprint"},
		{"strange reason", `{"version":1,"pool":"p","keys":{"` + fp0 + `":{"uses":1,"disabled":true,"reason":"see ` + keys[1] + `"}}}`, "bad reason"},
		{"unknown field", `{"version":1,"pool":"p","keys":{},"secret":"x"}`, "not a keypool state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, keys)
			dir := t.TempDir()
			path := filepath.Join(dir, "keypool-p.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var ev events
			clk := newClock()
			p := newCell(t, keys, dir, clk, WithName("p"), WithNotify(ev.add))
			evs := ev.all()
			var se *StateError
			if len(evs) != 1 || evs[0].Kind != StateReset || !errors.As(evs[0].Err, &se) {
				t.Fatalf("events %q, want one StateReset", ev.strings())
			}
			msg := evs[0].String()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.problem) || !strings.Contains(msg, se.MovedTo) || !strings.Contains(msg, "started afresh") {
				t.Errorf("message %q, want the path, %q and where the file went", msg, tc.problem)
			}
			assertNoKey(t, "message", msg, keys)
			aside, err := os.ReadFile(se.MovedTo)
			if err != nil || string(aside) != tc.content {
				t.Errorf("moved-aside file %q, %v; want the original content", aside, err)
			}
			mustGet(t, p, up.URL) // the pool goes on
			mustGet(t, p, up.URL)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var st state
			decodeJSON(t, data, &st)
			if st.check("p") != nil || st.Keys[fp0].Uses != 1 {
				t.Errorf("new state file %s", data)
			}
		})
	}

	// A file broken between two requests: the request still goes through, and the notify
	// function may use the pool (no lock is held when it is called).
	keys2 := testKeys(1)
	up := newUpstream(t, keys2)
	dir := t.TempDir()
	var ev events
	var p *Pool
	p = newCell(t, keys2, dir, newClock(), WithName("mid"), WithNotify(func(e Event) {
		ev.add(e)
		_ = p.Status()
	}))
	mustGet(t, p, up.URL)
	os.WriteFile(filepath.Join(dir, "keypool-mid.json"), []byte("\x00\x01"), 0o600)
	mustGet(t, p, up.URL)
	if evs := ev.all(); len(evs) != 1 || evs[0].Kind != StateReset {
		t.Errorf("events %q", ev.strings())
	}
	if s := p.Status(); s[0].Uses != 1 {
		t.Errorf("after the reset: %+v (the use count starts afresh)", s)
	}
}

func TestAnUnusableStateDirIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := New(testKeys(1), WithStateDir(file)); err == nil || !strings.Contains(err.Error(), "state directory") {
		t.Errorf("error %v", err)
	}
}

func TestStateFileFormat(t *testing.T) {
	keys := testKeys(2)
	up := newUpstream(t, keys)
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "9"}))
	dir := t.TempDir()
	clk := newClock()
	p := newCell(t, keys, dir, clk, WithName("fmt"))
	mustGet(t, p, up.URL)
	mustGet(t, p, up.URL)
	data, _ := os.ReadFile(filepath.Join(dir, "keypool-fmt.json"))
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"version":1,"pool":"fmt","last":%q,"keys":{%q:{"uses":2},%q:{"uses":1,"cooling_until":%q,"reason":"429 rate_limit_exceeded"}}}`,
		fingerprintOf(keys[0]), fingerprintOf(keys[0]), fingerprintOf(keys[1]), clk.Now().Add(9*time.Second).Format(time.RFC3339Nano))
	var wantRaw map[string]any
	json.Unmarshal([]byte(want), &wantRaw)
	if fmt.Sprint(raw) != fmt.Sprint(wantRaw) {
		t.Errorf("state file\n%s\nwant\n%s", data, want)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "keypool-fmt.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// In a GoNB kernel a pool made the way a lesson makes it (keypool.New(keys), no WithStateDir) is
// re-made by every cell: it must still continue the rotation and keep cooldowns, and a cell's
// Status must count what earlier cells sent.
func TestInAKernelCellsShareThePoolWithoutWithStateDir(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	tmp := t.TempDir()
	t.Setenv("GONB_TMP_DIR", tmp)
	clk := newClock()
	for range 4 {
		mustGet(t, mustPool(t, keys, clk), up.URL)
	}
	want := []string{keys[0], keys[1], keys[2], keys[0]}
	if fmt.Sprint(up.order) != fmt.Sprint(want) {
		t.Fatalf("keys in order %v across cells, want each in turn", fps(up.order))
	}
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "30"}), reply{status: 200})
	mustGet(t, mustPool(t, keys, clk), up.URL) // k1: 429, then k2
	mustGet(t, mustPool(t, keys, clk), up.URL) // k0 (k1 cools)
	if got := fps(up.order[4:]); fmt.Sprint(got) != fmt.Sprint(fps([]string{keys[1], keys[2], keys[0]})) {
		t.Errorf("after a 429 in an earlier cell: order %v", got)
	}
	s := mustPool(t, keys, clk).Status()
	if s[0].Uses != 3 || s[1].State != Cooling || s[2].Uses != 2 {
		t.Errorf("status in a new cell: %+v", s)
	}
	files, _ := filepath.Glob(filepath.Join(tmp, ".gonbchat", "keypool", "keypool-*.json"))
	if len(files) != 1 {
		t.Fatalf("state files under $GONB_TMP_DIR: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	for _, k := range keys {
		if strings.Contains(string(data), k) {
			t.Fatal("the state file holds a key")
		}
	}

	// Outside a kernel the state stays in memory: a new Pool starts afresh.
	t.Setenv("GONB_TMP_DIR", "")
	fresh := mustPool(t, keys, clk)
	if s := fresh.Status(); s[0].Uses != 0 {
		t.Errorf("outside a kernel a new pool saw another's state: %+v", s)
	}
}
