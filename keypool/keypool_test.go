package keypool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewRejectsEmptyPoolsAndBadKeys(t *testing.T) {
	keys := testKeys(2)
	for _, tc := range []struct {
		name string
		keys []string
		want string
	}{
		{"nil", nil, "at least one key"},
		{"empty", []string{}, "at least one key"},
		{"blank", []string{keys[0], "  ", keys[1]}, "key 2 of 3 is blank"},
		{"only blank", []string{""}, "key 1 of 1 is blank"},
		{"space inside", []string{keys[0], keys[1][:20] + " " + keys[1][20:]}, "key 2 of 2 holds a space"},
		{"newline inside", []string{keys[0][:20] + "\n" + keys[0][20:]}, "key 1 of 1 holds a space or a control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.keys)
			if err == nil || p != nil {
				t.Fatalf("New = %v, %v; want an error", p, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			assertNoKey(t, "error", err.Error(), keys)
		})
	}
	for _, opt := range []Option{WithName("../etc"), WithName(""), WithName(keys[0]), WithStateDir(""), WithCooldown(0), WithMaxWait(-time.Second)} {
		if _, err := New(keys, opt); err == nil {
			t.Errorf("an invalid option was accepted")
		} else {
			assertNoKey(t, "error", err.Error(), keys)
		}
	}
}

func TestNewDropsDuplicates(t *testing.T) {
	keys := testKeys(3)
	p, err := New([]string{keys[0], keys[1], " " + keys[0] + "\n", keys[2], keys[1]})
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 3 {
		t.Fatalf("Len = %d, want 3", p.Len())
	}
	var fps []string
	for _, s := range p.Status() {
		fps = append(fps, s.Fingerprint)
	}
	want := []string{fingerprintOf(keys[0]), fingerprintOf(keys[1]), fingerprintOf(keys[2])}
	if fmt.Sprint(fps) != fmt.Sprint(want) {
		t.Errorf("keys %v, want %v (first occurrences, in order)", fps, want)
	}
	same, _ := New([]string{keys[2], keys[1], keys[0]})
	if same.Name() != p.Name() {
		t.Errorf("the same keys in another order give pool %q, not %q", same.Name(), p.Name())
	}
	other, _ := New(keys[:2])
	if other.Name() == p.Name() {
		t.Errorf("different keys give the same pool name %q", p.Name())
	}
}

func TestRotationIsEvenAndReplacesTheCallersKey(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	p := mustPool(t, keys, newClock())
	for range 30 {
		mustGet(t, p, up.URL)
	}
	for i, k := range keys {
		if n := up.count(k); n != 10 {
			t.Errorf("key %d was sent %d requests, want 10", i, n)
		}
		if s := statusOf(t, p, k); s.Uses != 10 || s.State != Ready {
			t.Errorf("key %d status %+v, want ready with 10 uses", i, s)
		}
	}
	// In turn: never the same key twice in a row.
	for i := 1; i < len(up.order); i++ {
		if up.order[i] == up.order[i-1] {
			t.Fatalf("request %d reused the key of request %d", i, i-1)
		}
	}
	for _, a := range up.auths {
		if strings.Contains(a, "caller-own-key") {
			t.Fatalf("the caller's Authorization reached the server: %q", a)
		}
	}
}

func TestTwoPoolsWithTheSameKeyRotateOnTheirOwn(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	clk := newClock()
	a := mustPool(t, []string{keys[0], keys[1]}, clk)
	b := mustPool(t, []string{keys[0], keys[2]}, clk)
	for range 4 {
		mustGet(t, a, up.URL)
		mustGet(t, b, up.URL)
	}
	// a: k0 k1 k0 k1; b: k0 k2 k0 k2.
	if up.count(keys[0]) != 4 || up.count(keys[1]) != 2 || up.count(keys[2]) != 2 {
		t.Errorf("sent %d/%d/%d, want 4/2/2", up.count(keys[0]), up.count(keys[1]), up.count(keys[2]))
	}
}

func TestFailoverOn429CoolsTheKey(t *testing.T) {
	date := newClock().Now().Add(45 * time.Second).Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"retry-after seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second},
		{"retry-after-ms first", map[string]string{"retry-after-ms": "1500", "Retry-After": "2"}, 1500 * time.Millisecond},
		{"retry-after date", map[string]string{"Retry-After": date}, 45 * time.Second},
		{"no header: the default cooldown", nil, 7 * time.Second},
		{"garbage header: the default cooldown", map[string]string{"Retry-After": "soon"}, 7 * time.Second},
		{"zero: a floor, not a loop", map[string]string{"retry-after-ms": "0"}, minCooldown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := testKeys(2)
			up := newUpstream(t, keys)
			up.set(keys[0], rateLimited(tc.header), reply{status: 200, body: `{}`})
			clk := newClock()
			var ev events
			p := mustPool(t, keys, clk, WithCooldown(7*time.Second), WithNotify(ev.add))

			mustGet(t, p, up.URL) // key 0: 429, then key 1: 200
			if up.count(keys[0]) != 1 || up.count(keys[1]) != 1 {
				t.Fatalf("sent %d/%d, want 1/1", up.count(keys[0]), up.count(keys[1]))
			}
			s := statusOf(t, p, keys[0])
			if s.State != Cooling || !s.Until.Equal(clk.Now().Add(tc.want)) || s.Reason != "429 rate_limit_exceeded" {
				t.Errorf("status %+v, want cooling for %v (429 rate_limit_exceeded)", s, tc.want)
			}
			got := ev.strings()
			want := fmt.Sprintf("%s rate limited (retry in %s); trying %s", fingerprintOf(keys[0]), humanDuration(tc.want), fingerprintOf(keys[1]))
			if len(got) != 1 || got[0] != want {
				t.Errorf("events %q, want [%q]", got, want)
			}

			// While key 0 cools, everything goes to key 1.
			for range 3 {
				mustGet(t, p, up.URL)
			}
			if up.count(keys[0]) != 1 || up.count(keys[1]) != 4 {
				t.Fatalf("while cooling: sent %d/%d, want 1/4", up.count(keys[0]), up.count(keys[1]))
			}
			clk.Advance(tc.want)
			mustGet(t, p, up.URL)
			if up.count(keys[0]) != 2 {
				t.Errorf("after the cooldown key 0 was not used again")
			}
			if s := statusOf(t, p, keys[0]); s.State != Ready || s.Reason != "" {
				t.Errorf("after the cooldown: %+v", s)
			}
			if len(clk.Sleeps()) != 0 {
				t.Errorf("the pool waited %v although a key was ready", clk.Sleeps())
			}
		})
	}
}

func TestRejectedKeysAreTakenOutUntilReset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  func(key string) reply
		reason string
	}{
		{"401", invalidKey, "401 invalid_api_key"},
		{"403", func(string) reply { return forbidden }, "403 model_not_found"},
		{"insufficient_quota", func(string) reply { return noQuota }, "429 insufficient_quota"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := testKeys(3)
			up := newUpstream(t, keys)
			up.set(keys[0], tc.reply(keys[0]))
			clk := newClock()
			var ev events
			p := mustPool(t, keys, clk, WithNotify(ev.add))
			for range 10 {
				mustGet(t, p, up.URL)
			}
			if up.count(keys[0]) != 1 || up.count(keys[1]) != 5 || up.count(keys[2]) != 5 {
				t.Errorf("sent %d/%d/%d, want 1/5/5: nothing more to the rejected key", up.count(keys[0]), up.count(keys[1]), up.count(keys[2]))
			}
			s := statusOf(t, p, keys[0])
			if s.State != Disabled || s.Reason != tc.reason {
				t.Errorf("status %+v, want disabled (%s)", s, tc.reason)
			}
			clk.Advance(48 * time.Hour) // time does not bring it back
			mustGet(t, p, up.URL)
			if up.count(keys[0]) != 1 {
				t.Errorf("a disabled key was used after time passed")
			}
			want := fmt.Sprintf("%s rejected (%s): taken out of the pool until Reset; trying %s", fingerprintOf(keys[0]), tc.reason, fingerprintOf(keys[1]))
			if got := ev.strings(); len(got) != 1 || got[0] != want {
				t.Errorf("events %q, want [%q]", got, want)
			}

			up.set(keys[0]) // the key works again
			if err := p.Reset(); err != nil {
				t.Fatal(err)
			}
			if s := statusOf(t, p, keys[0]); s.State != Ready || s.Reason != "" {
				t.Errorf("after Reset: %+v", s)
			}
			for range 3 {
				mustGet(t, p, up.URL)
			}
			if up.count(keys[0]) != 2 {
				t.Errorf("after Reset key 0 got %d requests in all, want 2", up.count(keys[0]))
			}
		})
	}
}

func TestOtherErrorsAreReturnedAsTheyAre(t *testing.T) {
	for _, rep := range []reply{badReq, notFound, unproc, srvErr, {status: 503, body: "overloaded"}} {
		t.Run(fmt.Sprint(rep.status), func(t *testing.T) {
			keys := testKeys(2)
			up := newUpstream(t, keys)
			up.set(keys[0], rep, reply{status: 200})
			var ev events
			p := mustPool(t, keys, newClock(), WithNotify(ev.add))
			status, body, err := get(t, p, up.URL)
			if err != nil {
				t.Fatal(err)
			}
			if status != rep.status || body != rep.body {
				t.Errorf("got %d %q, want the server's %d %q", status, body, rep.status, rep.body)
			}
			if up.total() != 1 {
				t.Errorf("the request was sent %d times, want once (no failover)", up.total())
			}
			if s := statusOf(t, p, keys[0]); s.State != Ready || s.Uses != 1 {
				t.Errorf("the key's status changed: %+v", s)
			}
			if len(ev.all()) != 0 {
				t.Errorf("events %q", ev.strings())
			}
			mustGet(t, p, up.URL) // the next request gets the next key, as always
			if up.count(keys[1]) != 1 {
				t.Errorf("rotation did not go on")
			}
		})
	}
}

func TestWaitsForTheFirstKeyToRecover(t *testing.T) {
	keys := testKeys(2)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "12"}), reply{status: 200, body: "from key 0"})
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "30"}), reply{status: 200, body: "from key 1"})
	clk := newClock()
	var ev events
	p := mustPool(t, keys, clk, WithNotify(ev.add), WithMaxWait(20*time.Second))
	if body := mustGet(t, p, up.URL); body != "from key 0" {
		t.Errorf("got %q, want the answer of key 0 after its recovery", body)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 12*time.Second {
		t.Errorf("waited %v, want [12s]", s)
	}
	if up.count(keys[0]) != 2 || up.count(keys[1]) != 1 {
		t.Errorf("sent %d/%d, want 2/1", up.count(keys[0]), up.count(keys[1]))
	}
	want := []string{
		fmt.Sprintf("%s rate limited (retry in 12 s); trying %s", fingerprintOf(keys[0]), fingerprintOf(keys[1])),
		fmt.Sprintf("%s rate limited (retry in 30 s); waiting 12 s for %s", fingerprintOf(keys[1]), fingerprintOf(keys[0])),
	}
	if got := ev.strings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}

	// A request arriving while every key cools waits too (a Waiting event).
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "5"}), reply{status: 200})
	up.set(keys[1], rateLimited(map[string]string{"Retry-After": "8"}), reply{status: 200})
	mustGet(t, p, up.URL) // key 1 (its turn): 429; key 0: 429; waits 5 s; key 0
	if s := clk.Sleeps(); len(s) != 2 || s[1] != 5*time.Second {
		t.Errorf("waited %v, want [12s 5s]", s)
	}
}

func TestExhaustedWhenNoKeyRecoversInTime(t *testing.T) {
	keys := testKeys(3)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "60"}))
	up.set(keys[1], invalidKey(keys[1]))
	up.set(keys[2], rateLimited(map[string]string{"Retry-After": "90"}))
	clk := newClock()
	var ev events
	p := mustPool(t, keys, clk, WithNotify(ev.add), WithMaxWait(20*time.Second))

	_, _, err := get(t, p, up.URL)
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("error %v (%T), want an *ExhaustedError", err, err)
	}
	want := fmt.Sprintf("every key of the pool is unusable: %s cooling for 60 s, %s rejected (401 invalid_api_key), %s cooling for 90 s",
		fingerprintOf(keys[0]), fingerprintOf(keys[1]), fingerprintOf(keys[2]))
	if ex.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", ex.Error(), want)
	}
	if ex.RetryAfter() != 60*time.Second {
		t.Errorf("RetryAfter = %v, want 60s", ex.RetryAfter())
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("the pool waited %v for keys that recover after MaxWait", clk.Sleeps())
	}
	if up.total() != 3 {
		t.Errorf("%d requests reached the server, want 3 (one per key)", up.total())
	}
	if evs := ev.all(); len(evs) != 4 || evs[3].Kind != Exhausted || !strings.HasSuffix(evs[2].String(), "; no usable key left") {
		t.Errorf("events %q", ev.strings())
	}

	// Later requests fail at once without sending anything to a cooling or disabled key.
	for range 5 {
		if _, _, err := get(t, p, up.URL); !errors.As(err, &ex) {
			t.Fatalf("error %v, want an *ExhaustedError", err)
		}
	}
	if up.total() != 3 {
		t.Errorf("%d requests reached the server, want still 3", up.total())
	}

	// MaxWait 0 never waits, even for a key that recovers in a second.
	clk.Advance(59 * time.Second)
	p0 := mustPool(t, keys, clk, WithMaxWait(0))
	p0.c.store = p.c.store // the same (in-memory) state
	if _, _, err := get(t, p0, up.URL); !errors.As(err, &ex) || len(clk.Sleeps()) != 0 {
		t.Errorf("MaxWait 0: error %v, sleeps %v", err, clk.Sleeps())
	}
	// The same state with a 20 s wait: it waits the second.
	up.set(keys[0])
	mustGet(t, p, up.URL)
	if s := clk.Sleeps(); len(s) != 1 || s[0] != time.Second {
		t.Errorf("waited %v, want [1s]", s)
	}
}

func TestAllKeysDisabledFailsAtOnce(t *testing.T) {
	keys := testKeys(2)
	up := newUpstream(t, keys)
	up.set(keys[0], invalidKey(keys[0]))
	up.set(keys[1], noQuota)
	clk := newClock()
	p := mustPool(t, keys, clk)
	_, _, err := get(t, p, up.URL)
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.RetryAfter() != 0 || len(clk.Sleeps()) != 0 {
		t.Fatalf("error %v, sleeps %v", err, clk.Sleeps())
	}
	want := fmt.Sprintf("every key of the pool is unusable: %s rejected (401 invalid_api_key), %s rejected (429 insufficient_quota)",
		fingerprintOf(keys[0]), fingerprintOf(keys[1]))
	if ex.Error() != want {
		t.Errorf("error %q, want %q", ex.Error(), want)
	}
}

func TestARepeatedlyRateLimitedKeyDoesNotLoop(t *testing.T) {
	keys := testKeys(1)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"retry-after-ms": "100"}))
	clk := newClock()
	p := mustPool(t, keys, clk)
	_, _, err := get(t, p, up.URL)
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("error %v, want an *ExhaustedError", err)
	}
	if up.total() != maxSendsPerKey {
		t.Errorf("sent %d times, want %d", up.total(), maxSendsPerKey)
	}
	if s := clk.Sleeps(); len(s) != maxSendsPerKey-1 || s[0] != minCooldown {
		t.Errorf("sleeps %v, want %d of %v", s, maxSendsPerKey-1, minCooldown)
	}
}

func TestWaitingStopsWithTheContext(t *testing.T) {
	keys := testKeys(1)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "10"}))
	p, err := New(keys, WithMaxWait(time.Minute)) // real sleep
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var ev events
	p.c.notify = func(e Event) {
		ev.add(e)
		if e.Wait > 0 {
			cancel() // the user interrupts while the pool waits
		}
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	_, err = (&http.Client{Transport: p.Transport(nil)}).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if up.total() != 1 {
		t.Errorf("sent %d, want 1", up.total())
	}
}

func TestBodiesAreResentOnFailover(t *testing.T) {
	const payload = `{"model":"gpt-4o","input":"流冰"}`
	keys := testKeys(3)
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"GetBody", func() io.Reader { return strings.NewReader(payload) }},
		{"no GetBody", func() io.Reader {
			return io.MultiReader(strings.NewReader(payload[:5]), strings.NewReader(payload[5:]))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, keys)
			up.set(keys[0], rateLimited(nil))
			up.set(keys[1], invalidKey(keys[1]))
			p := mustPool(t, keys, newClock())
			req, _ := http.NewRequest("POST", up.URL, tc.body())
			if (req.GetBody != nil) != (tc.name == "GetBody") {
				t.Fatalf("GetBody set: %v", req.GetBody != nil)
			}
			resp, err := (&http.Client{Transport: p.Transport(nil)}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || len(up.bodies) != 3 {
				t.Fatalf("status %d after %d sends", resp.StatusCode, len(up.bodies))
			}
			for i, b := range up.bodies {
				if b != payload {
					t.Errorf("send %d had body %q, want %q", i, b, payload)
				}
			}
		})
	}
}

// closeCounter counts Close calls of a request body.
type closeCounter struct {
	io.Reader
	mu     sync.Mutex
	closed int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
	return nil
}

func TestTheCallersBodyIsClosedWhenNothingIsSent(t *testing.T) {
	keys := testKeys(1)
	up := newUpstream(t, keys)
	up.set(keys[0], invalidKey(keys[0]))
	p := mustPool(t, keys, newClock())
	send := func() *closeCounter {
		body := &closeCounter{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest("POST", up.URL, body)
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }
		if _, err := p.Transport(nil).RoundTrip(req); err == nil {
			t.Fatal("no error")
		}
		return body
	}
	if b := send(); b.closed == 0 { // sent once (the transport closes it), rejected
		t.Error("the request body was not closed")
	}
	if b := send(); b.closed != 1 || up.total() != 1 { // never sent: the pool closes it
		t.Errorf("the unsent body was closed %d times (want 1); %d sends (want 1)", b.closed, up.total())
	}
}

func TestStreamingPassesThroughUntouched(t *testing.T) {
	keys := testKeys(2)
	read := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+keys[0] {
			writeReply(w, rateLimited(nil))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: response.output_text.delta\ndata: {\"delta\":\"流\"}\n\n")
		w.(http.Flusher).Flush()
		<-read // the client must see the first event before the server sends the second
		io.WriteString(w, "event: response.output_text.delta\ndata: {\"delta\":\"冰\"}\n\n")
	}))
	defer srv.Close()
	p := mustPool(t, keys, newClock())
	resp, err := (&http.Client{Transport: p.Transport(nil)}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 64)
	got := make(chan string)
	go func() {
		n, _ := io.ReadAtLeast(resp.Body, first, len("event: response.output_text.delta\ndata: {\"delta\":\"流\"}\n\n"))
		got <- string(first[:n])
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, "流") {
			t.Fatalf("first read %q", s)
		}
	case <-time.After(10 * time.Second):
		close(read)
		t.Fatal("the first event did not arrive before the stream ended: the body was buffered")
	}
	close(read)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), "冰") {
		t.Errorf("rest %q", rest)
	}
}

func TestARedirectElsewhereGetsNoKey(t *testing.T) {
	keys := testKeys(1)
	var gotAuth []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "elsewhere")
	}))
	defer other.Close()
	up := newUpstream(t, keys)
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/x", http.StatusFound) })
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/v1/ok", http.StatusFound) })
	mux.Handle("/v1/", up.Config.Handler)
	front := httptest.NewServer(mux)
	defer front.Close()
	p := mustPool(t, keys, newClock())
	client := &http.Client{Transport: p.Transport(nil)}

	resp, err := client.Get(front.URL + "/away")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "elsewhere" || len(gotAuth) != 1 || gotAuth[0] != "" {
		t.Errorf("body %q; the other origin saw Authorization %q, want none", b, gotAuth)
	}
	// A redirect within the origin keeps a key of the pool.
	resp, err = client.Get(front.URL + "/here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.count(keys[0]) != 1 {
		t.Errorf("same-origin redirect: status %d, key sent %d times", resp.StatusCode, up.count(keys[0]))
	}
}

func TestTheResponseDoesNotCarryTheKey(t *testing.T) {
	keys := testKeys(1)
	up := newUpstream(t, keys)
	p := mustPool(t, keys, newClock())
	req, _ := http.NewRequest("GET", up.URL, nil)
	req.Header.Set("Authorization", "Bearer caller")
	resp, err := p.Transport(nil).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request != req || req.Header.Get("Authorization") != "Bearer caller" {
		t.Errorf("the caller's request was changed or the response points to another: %v", resp.Request.Header)
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, withDir := range []bool{false, true} {
		t.Run(fmt.Sprintf("state dir %v", withDir), func(t *testing.T) {
			keys := testKeys(4)
			up := newUpstream(t, keys)
			up.set(keys[2], rateLimited(map[string]string{"Retry-After": "3600"}))
			var opts []Option
			if withDir {
				opts = append(opts, WithStateDir(t.TempDir()))
			}
			var ev events
			p := mustPool(t, keys, newClock(), append(opts, WithNotify(ev.add))...)
			client := &http.Client{Transport: p.Transport(nil)}
			const workers, each = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for range workers {
				wg.Go(func() {
					for range each {
						resp, err := client.Post(up.URL, "application/json", bytes.NewReader([]byte(`{}`)))
						if err != nil {
							errs <- err
							continue
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							errs <- fmt.Errorf("status %d", resp.StatusCode)
						}
						_ = p.Status()
						_ = p.String()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			ok := up.count(keys[0]) + up.count(keys[1]) + up.count(keys[3])
			if ok != workers*each {
				t.Errorf("%d successful sends, want %d", ok, workers*each)
			}
			// Key 2 answered 429 to the requests sent before its first 429 came back, at most one
			// per worker, then nothing.
			if n := up.count(keys[2]); n < 1 || n > workers {
				t.Errorf("the rate-limited key got %d requests, want 1 to %d", n, workers)
			}
			var uses int64
			for _, s := range p.Status() {
				uses += s.Uses
			}
			if uses != int64(up.total()) {
				t.Errorf("use counts add up to %d, the server saw %d", uses, up.total())
			}
		})
	}
}

func TestABodyTooLargeToKeepIsSentOnce(t *testing.T) {
	defer func(n int64) { maxBufferedBody = n }(maxBufferedBody)
	maxBufferedBody = 10
	keys := testKeys(2)
	up := newUpstream(t, keys)
	up.set(keys[0], rateLimited(map[string]string{"Retry-After": "20"}))
	var ev events
	p := mustPool(t, keys, newClock(), WithNotify(ev.add))
	payload := strings.Repeat("長", 20) // 60 bytes, from a reader without GetBody
	req, _ := http.NewRequest("POST", up.URL, io.MultiReader(strings.NewReader(payload)))
	resp, err := (&http.Client{Transport: p.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || string(got) != rateLimited(nil).body {
		t.Errorf("got %d %q, want the 429 as it is", resp.StatusCode, got)
	}
	if up.total() != 1 || up.bodies[0] != payload {
		t.Errorf("%d sends, body %q", up.total(), up.bodies)
	}
	if s := statusOf(t, p, keys[0]); s.State != Cooling {
		t.Errorf("key 0 %+v, want cooling", s)
	}
	if e := ev.strings(); len(e) != 1 || !strings.HasSuffix(e[0], "; the request body was too large to re-send") {
		t.Errorf("events %q", e)
	}
	mustGet(t, p, up.URL) // a small body goes on with key 1
	if up.count(keys[1]) != 1 {
		t.Errorf("key 1 not used")
	}
}
