package openaitest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

const (
	keyA = "sk-proj-AAAA-first-key-0000000000000000aaaa"
	keyB = "sk-proj-BBBB-second-key-000000000000000bbbb"
	keyC = "sk-proj-CCCC-third-key-0000000000000000cccc"
)

// keyBackends runs f on a Server and through the in-process transport, both accepting keys A
// and B; f asks with a key.
func keyBackends(t *testing.T, f func(t *testing.T, ask func(key string) error, h *openaitest.Handler)) {
	opts := []openaitest.Option{openaitest.WithPace(0), openaitest.WithAPIKeys(keyA, keyB)}
	run := func(t *testing.T, h *openaitest.Handler, base string, hc *http.Client) {
		f(t, func(key string) error {
			c := openai.NewClient(option.WithBaseURL(base), option.WithHTTPClient(hc), option.WithAPIKey(key), option.WithMaxRetries(0))
			_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: userInput("hi")})
			return err
		}, h)
	}
	t.Run("server", func(t *testing.T) {
		srv := openaitest.NewServer(opts...)
		t.Cleanup(srv.Close)
		run(t, srv.Handler(), srv.URL, srv.Client())
	})
	t.Run("transport", func(t *testing.T) {
		h := openaitest.NewHandler(opts...)
		run(t, h, openaitest.InProcessBaseURL, &http.Client{Transport: h.Transport()})
	})
}

func status(err error) int {
	var apiErr *responses.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	if err != nil {
		return -1
	}
	return 200
}

// recordedKeys lists the key of each recorded request.
func recordedKeys(h *openaitest.Handler) []string {
	var keys []string
	for _, r := range h.Requests() {
		keys = append(keys, r.Key)
	}
	return keys
}

func TestAPIKeys(t *testing.T) {
	keyBackends(t, func(t *testing.T, ask func(string) error, h *openaitest.Handler) {
		if err := ask(keyA); err != nil {
			t.Errorf("key A: %v", err)
		}
		if err := ask(keyB); err != nil {
			t.Errorf("key B: %v", err)
		}
		err := ask(keyC)
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || apiErr.Type != "invalid_request_error" {
			t.Fatalf("key C: %v", err)
		}
		if want := "Incorrect API key provided: sk-proj-*******************************cccc. You can find your API key at https://platform.openai.com/account/api-keys."; apiErr.Message != want {
			t.Errorf("message %q", apiErr.Message)
		}
		if strings.Contains(apiErr.RawJSON(), "third-key") {
			t.Errorf("the key shows: %s", apiErr.RawJSON())
		}
		if got := recordedKeys(h); !slices.Equal(got, []string{keyA, keyB, keyC}) {
			t.Errorf("recorded keys %q", got)
		}
		for _, r := range h.Requests() {
			if a := r.Header.Get("Authorization"); strings.Contains(a, "-key-") {
				t.Errorf("recorded header shows the key: %q", a)
			}
		}
	})
	// No key at all.
	srv := openaitest.NewServer(openaitest.WithAPIKeys(keyA))
	defer srv.Close()
	res, err := http.Post(srv.URL+"/responses", "application/json", strings.NewReader(`{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("no key: %d", res.StatusCode)
	}
}

// Faults for one key: "429 with Retry-After 2s to key A, 3 times", "401 to key B always".
func TestFaultForOneKey(t *testing.T) {
	keyBackends(t, func(t *testing.T, ask func(string) error, h *openaitest.Handler) {
		f := openaitest.RateLimitFault(2 * time.Second)
		f.Key, f.Times = keyA, 3
		h.InjectFault(f)
		h.InjectFault(openaitest.Fault{Key: keyB, Status: 401, Times: -1})

		var got []int
		for _, k := range []string{keyA, keyB, keyA, keyB, keyA, keyA, keyB} {
			got = append(got, status(ask(k)))
		}
		if want := []int{429, 401, 429, 401, 429, 200, 401}; !slices.Equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		err := ask(keyB)
		var apiErr *responses.Error
		if !errors.As(err, &apiErr) || apiErr.Code != "invalid_api_key" ||
			apiErr.Message != "Incorrect API key provided: sk-proj-*******************************bbbb. You can find your API key at https://platform.openai.com/account/api-keys." {
			t.Errorf("key B: %v", err)
		}
		h.ClearFaults()
		if err := ask(keyB); err != nil {
			t.Errorf("key B after ClearFaults: %v", err)
		}
	})
}

// With the key of each request recorded, a test can show how a client spreads its requests
// over keys and fails over: here a round robin that moves on after a 429.
func TestRecordedKeysShowRotationAndFailover(t *testing.T) {
	keyBackends(t, func(t *testing.T, ask func(string) error, h *openaitest.Handler) {
		pool := []string{keyA, keyB}
		next := 0
		var served []string    // the key each successful send used
		send := func() error { // a tiny key pool: round robin, failing over on a 429
			var err error
			for range pool {
				k := pool[next%len(pool)]
				next++
				if err = ask(k); status(err) != 429 {
					if err == nil {
						served = append(served, k)
					}
					return err
				}
			}
			return err
		}
		for range 4 {
			if err := send(); err != nil {
				t.Fatal(err)
			}
		}
		if got := recordedKeys(h); !slices.Equal(got, []string{keyA, keyB, keyA, keyB}) {
			t.Errorf("even rotation: %q", got)
		}
		h.ResetRequests()
		served = nil
		h.InjectFault(openaitest.Fault{Key: keyA, Status: 429, RetryAfter: 2 * time.Second, Times: -1})
		for range 2 {
			if err := send(); err != nil {
				t.Fatal(err)
			}
		}
		if got := recordedKeys(h); !slices.Equal(got, []string{keyA, keyB, keyA, keyB}) || !slices.Equal(served, []string{keyB, keyB}) {
			t.Errorf("failover: sent with %q, served with %q", got, served)
		}
	})
}
