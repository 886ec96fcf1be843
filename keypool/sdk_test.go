package keypool

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

// sdkSetup is the openai-go SDK on a pool, against the local OpenAI-compatible server
// (openaitest, streaming real SSE) behind a gate that knows the pool's keys and answers them
// from per-key scripts first.
type sdkSetup struct {
	up       *upstream // the gate: per-key scripts and counts
	backend  *openaitest.Handler
	pool     *Pool
	clk      *fakeClock
	ev       *events
	client   openai.Client
	mu       sync.Mutex
	attempts []string // X-Stainless-Retry-Count of each request the SDK handed the pool
}

func newSDKSetup(t *testing.T, keys []string, opts ...Option) *sdkSetup {
	s := &sdkSetup{clk: newClock(), ev: &events{}, backend: openaitest.NewHandler(openaitest.WithPace(0))}
	s.up = newUpstream(t, keys)
	// Unlike the plain upstream, each scripted reply is used once; then the backend answers.
	s.up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		key, _ := strings.CutPrefix(auth, "Bearer ")
		s.up.mu.Lock()
		s.up.auths = append(s.up.auths, auth)
		if !s.up.keys[key] {
			s.up.mu.Unlock()
			writeReply(w, invalidKey(key))
			return
		}
		s.up.sent[key]++
		s.up.order = append(s.up.order, key)
		script := s.up.script[key]
		if len(script) > 0 {
			s.up.script[key] = script[1:]
		}
		s.up.mu.Unlock()
		if len(script) > 0 {
			writeReply(w, script[0])
			return
		}
		s.backend.ServeHTTP(w, r)
	})
	s.pool = mustPool(t, keys, s.clk, append([]Option{WithNotify(s.ev.add)}, opts...)...)
	pooled := s.pool.Transport(nil)
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		s.mu.Lock()
		s.attempts = append(s.attempts, r.Header.Get("X-Stainless-Retry-Count"))
		s.mu.Unlock()
		return pooled.RoundTrip(r)
	})
	s.client = openai.NewClient(
		option.WithBaseURL(s.up.URL+"/v1"),
		option.WithAPIKey("sk-the-sdk-own-placeholder-key-0000"), // replaced by the pool's
		option.WithHTTPClient(&http.Client{Transport: counting}),
	)
	return s
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *sdkSetup) stream(question string) (string, error) {
	st := s.client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4.1-nano",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(question)},
	})
	defer st.Close()
	var b strings.Builder
	for st.Next() {
		if ev := st.Current(); ev.Type == "response.output_text.delta" {
			b.WriteString(ev.Delta)
		}
	}
	return b.String(), st.Err()
}

func (s *sdkSetup) sdkAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.attempts...)
}

func TestSDKStreamsThroughThePoolAfterA429(t *testing.T) {
	keys := testKeys(2)
	s := newSDKSetup(t, keys)
	s.up.set(keys[0], rateLimited(map[string]string{"retry-after-ms": "30000", "Retry-After": "30"}))

	text, err := s.stream("流冰在哪裡看得到？")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "流冰在哪裡看得到？") {
		t.Errorf("the mirror's streamed reply lacks the question:\n%s", text)
	}
	if a := s.sdkAttempts(); len(a) != 1 {
		t.Errorf("the SDK sent %d attempts %v, want 1: it never saw the 429", len(a), a)
	}
	if s.up.count(keys[0]) != 1 || s.up.count(keys[1]) != 1 {
		t.Errorf("sent %d/%d, want 1/1", s.up.count(keys[0]), s.up.count(keys[1]))
	}
	if len(s.clk.Sleeps()) != 0 {
		t.Errorf("the pool waited %v", s.clk.Sleeps())
	}
	for _, a := range s.up.auths {
		if strings.Contains(a, "placeholder") {
			t.Errorf("the SDK's own key reached the server")
		}
	}
	// The next stream goes on with key 1: key 0 still cools.
	if _, err := s.stream("再一次"); err != nil {
		t.Fatal(err)
	}
	if s.up.count(keys[0]) != 1 || s.up.count(keys[1]) != 2 {
		t.Errorf("sent %d/%d, want 1/2", s.up.count(keys[0]), s.up.count(keys[1]))
	}
}

func TestSDKFailsOverA401ItWouldNotRetry(t *testing.T) {
	keys := testKeys(2)
	s := newSDKSetup(t, keys)
	s.up.set(keys[0], invalidKey(keys[0]))
	if _, err := s.stream("你好"); err != nil {
		t.Fatal(err)
	}
	if a := s.sdkAttempts(); len(a) != 1 || s.up.count(keys[1]) != 1 {
		t.Errorf("attempts %v, key 1 sent %d", a, s.up.count(keys[1]))
	}
	if st := statusOf(t, s.pool, keys[0]); st.State != Disabled {
		t.Errorf("key 0: %+v", st)
	}
}

func TestSDKWaitsOnceInThePoolNotInTheSDK(t *testing.T) {
	keys := testKeys(2)
	s := newSDKSetup(t, keys)
	s.up.set(keys[0], rateLimited(map[string]string{"Retry-After": "5"}))
	s.up.set(keys[1], rateLimited(map[string]string{"Retry-After": "8"}))
	text, err := s.stream("等一下")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "等一下") {
		t.Errorf("reply %q", text)
	}
	if sl := s.clk.Sleeps(); len(sl) != 1 || sl[0].Seconds() != 5 {
		t.Errorf("pool waits %v, want [5s]", sl)
	}
	if a := s.sdkAttempts(); len(a) != 1 {
		t.Errorf("SDK attempts %v, want 1", a)
	}
}

func TestSDKWithAnExhaustedPoolFailsFastWithExhaustedError(t *testing.T) {
	keys := testKeys(2)
	s := newSDKSetup(t, keys, WithMaxWait(20e9))
	// Key 0 recovers within MaxWait once, then asks for more than the request has left.
	s.up.set(keys[0], rateLimited(map[string]string{"Retry-After": "10"}), rateLimited(map[string]string{"Retry-After": "15"}))
	s.up.set(keys[1], rateLimited(map[string]string{"Retry-After": "600"}))

	_, err := s.stream("還在嗎？")
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("error %v (%T), want an *ExhaustedError through the SDK", err, err)
	}
	var apiErr *responses.Error
	if errors.As(err, &apiErr) {
		t.Errorf("the SDK made an API error of it: %v", apiErr)
	}
	// The pool waited once (10 s, in the first attempt); the SDK retried the transport error
	// twice, and the pool answered those retries at once (no 15 s wait each), sending nothing.
	if sl := s.clk.Sleeps(); len(sl) != 1 || sl[0].Seconds() != 10 {
		t.Errorf("pool waits %v, want [10s]", sl)
	}
	if a := s.sdkAttempts(); strings.Join(a, ",") != "0,1,2" {
		t.Errorf("SDK attempts (retry counts) %v, want 0,1,2", a)
	}
	if s.up.total() != 3 {
		t.Errorf("%d requests reached the server, want 3 (k0, k1, k0 after its cooldown)", s.up.total())
	}
	assertNoKey(t, "error", err.Error(), keys)
	if !strings.Contains(err.Error(), "every key of the pool is unusable: "+fingerprintOf(keys[0])+" cooling for 15 s") {
		t.Errorf("error %q", err)
	}
}

func TestSDKRetriesA5xxWithTheNextKey(t *testing.T) {
	keys := testKeys(2)
	s := newSDKSetup(t, keys)
	s.up.set(keys[0], srvErr)
	if _, err := s.stream("五百"); err != nil {
		t.Fatal(err)
	}
	if a := s.sdkAttempts(); strings.Join(a, ",") != "0,1" {
		t.Errorf("SDK attempts %v, want 0,1 (its own retry of the 500)", a)
	}
	if s.up.count(keys[1]) != 1 {
		t.Errorf("the retry did not go to the next key")
	}
	if st := statusOf(t, s.pool, keys[0]); st.State != Ready {
		t.Errorf("a 500 changed key 0: %+v", st)
	}
}

func TestSDKInStreamQuotaErrorPassesThrough(t *testing.T) {
	keys := testKeys(1)
	s := newSDKSetup(t, keys)
	s.backend.InjectFault(openaitest.InsufficientQuotaFault())
	_, err := s.stream("額度")
	var se *ssestream.StreamError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want the stream's own error", err)
	}
	// The status line was 200: the pool cannot fail over a stream already started.
	if st := statusOf(t, s.pool, keys[0]); st.State != Ready || len(s.sdkAttempts()) != 1 {
		t.Errorf("key %+v, attempts %v", st, s.sdkAttempts())
	}
}
