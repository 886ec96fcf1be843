package replay_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/openaitest"
	"github.com/gonbchat/gonbchat/replay"
)

const key = "sk-recording-0123456789abcdefghijKLMNOP"

func init() { secret.Register(key) }

func input(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

func client(base string, rt http.RoundTripper) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey(key), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: rt}))
	return &c
}

// streamed is a stream as a client saw it.
type streamed struct {
	text   string
	id     string
	deltas []time.Duration // arrival of each delta since the request
}

func stream(t *testing.T, c *openai.Client, params responses.ResponseNewParams) streamed {
	t.Helper()
	start := time.Now()
	s := c.Responses.NewStreaming(context.Background(), params)
	var out streamed
	var b strings.Builder
	for s.Next() {
		ev := s.Current()
		switch ev.Type {
		case "response.output_text.delta":
			b.WriteString(ev.Delta)
			out.deltas = append(out.deltas, time.Since(start))
		case "response.completed":
			out.id = ev.Response.ID
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	out.text = b.String()
	return out
}

func TestRecordThenReplay(t *testing.T) {
	dir := t.TempDir()
	const pace = 5 * time.Millisecond
	srv := openaitest.NewServer(openaitest.WithPace(pace), openaitest.WithAPIKey(key))
	rec, err := replay.NewRecorder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.OnError = func(err error) { t.Error(err) }
	live := client(srv.URL, rec)
	ctx := context.Background()

	// a chain, then the same question twice, then a non-streaming call and a GET
	r1 := stream(t, live, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("你好, what is a goroutine?")})
	r2 := stream(t, live, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("and a channel?"), PreviousResponseID: openai.String(r1.id)})
	same1 := stream(t, live, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("same")})
	same2 := stream(t, live, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("same")})
	plain, err := live.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("not streamed")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := live.Responses.Get(ctx, r2.id, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close() // from here on, offline

	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 6 {
		t.Fatalf("%d recordings, want 6", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := string(b)
		if strings.Contains(s, key[3:15]) || strings.Contains(strings.ToLower(s), "authorization") || strings.Contains(s, "Bearer") {
			t.Errorf("%s holds the key or an auth header:\n%s", filepath.Base(f), s)
		}
		sc := bufio.NewScanner(strings.NewReader(s))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !json.Valid(sc.Bytes()) {
				t.Errorf("%s: a line is not JSON: %s", filepath.Base(f), sc.Text())
			}
		}
	}

	// replay with the SDK, against a host that does not exist
	mirror := openaitest.NewHandler(openaitest.WithPace(0))
	player, err := replay.NewPlayer(dir, mirror.Transport())
	if err != nil {
		t.Fatal(err)
	}
	if player.Len() != 6 {
		t.Fatalf("Len %d", player.Len())
	}
	off := client("https://api.openai.com/v1", player)
	p1 := stream(t, off, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("你好, what is a goroutine?")})
	if p1.text != r1.text || p1.id != r1.id {
		t.Errorf("r1 replayed %q %s, recorded %q %s", p1.text, p1.id, r1.text, r1.id)
	}
	// the chain works with the recorded id
	p2 := stream(t, off, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("and a channel?"), PreviousResponseID: openai.String(p1.id)})
	if p2.text != r2.text || p2.id != r2.id {
		t.Errorf("chain replayed %q, recorded %q", p2.text, r2.text)
	}
	// the nth identical request gets the nth recording
	ps1 := stream(t, off, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("same")})
	ps2 := stream(t, off, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("same")})
	if ps1.id != same1.id || ps2.id != same2.id || same1.id == same2.id {
		t.Errorf("occurrences: replayed %s %s, recorded %s %s", ps1.id, ps2.id, same1.id, same2.id)
	}
	pp, err := off.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("not streamed")})
	if err != nil || pp.ID != plain.ID || pp.OutputText() != plain.OutputText() {
		t.Errorf("non-stream: %v %s", err, pp.ID)
	}
	pg, err := off.Responses.Get(ctx, r2.id, responses.ResponseGetParams{})
	if err != nil || pg.OutputText() != got.OutputText() {
		t.Errorf("GET: %v", err)
	}
	if n := len(mirror.Requests()); n != 0 {
		t.Errorf("%d recorded requests went to the fallback", n)
	}

	// a third "same" and anything new go to the fallback, without the replayed mark
	var resp *http.Response
	fb := stream(t, off, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("same")})
	if fb.id == same1.id || fb.id == same2.id || len(mirror.Requests()) != 1 {
		t.Errorf("third occurrence not from the fallback: %s", fb.id)
	}
	_, err = off.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("never recorded")}, option.WithResponseInto(&resp))
	if err != nil || resp.Header.Get(replay.SourceHeader) != "" || len(mirror.Requests()) != 2 {
		t.Errorf("fallback: %v %v", err, resp.Header)
	}
	// replayed answers say so
	player.Reset()
	_, err = off.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("not streamed")}, option.WithResponseInto(&resp))
	if err != nil || resp.Header.Get(replay.SourceHeader) != replay.Replayed {
		t.Errorf("replayed header: %v %v", err, resp.Header)
	}

	// pacing: the deltas come in order and spread over (at least most of) the recorded time
	if len(p1.deltas) != len(r1.deltas) || len(p1.deltas) < 5 {
		t.Fatalf("%d deltas replayed, %d recorded", len(p1.deltas), len(r1.deltas))
	}
	recSpan := r1.deltas[len(r1.deltas)-1] - r1.deltas[0]
	repSpan := p1.deltas[len(p1.deltas)-1] - p1.deltas[0]
	t.Logf("%d deltas: recorded over %v, replayed over %v", len(p1.deltas), recSpan, repSpan)
	if repSpan < recSpan*7/10 {
		t.Errorf("replay not paced: %v for a recorded %v", repSpan, recSpan)
	}
	for i := 1; i < len(p1.deltas); i++ {
		if p1.deltas[i] < p1.deltas[i-1] {
			t.Fatal("deltas out of order")
		}
	}
}

func TestMatchingIgnoresKeyOrderAndStreamOptions(t *testing.T) {
	dir := t.TempDir()
	srv := openaitest.NewServer(openaitest.WithPace(0))
	defer srv.Close()
	rec, _ := replay.NewRecorder(dir, nil)
	post := func(rt http.RoundTripper, base, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, recorded := post(rec, srv.URL, `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	player, err := replay.NewPlayer(dir, nil, replay.WithSpeed(0))
	if err != nil {
		t.Fatal(err)
	}
	// through a gateway's prefix, keys reordered, no stream_options
	resp, got := post(player, "http://gateway.invalid/services/gonbchat/v1", `{"messages":[{"content":"hi","role":"user"}],"stream":true,"model":"m"}`)
	if got != recorded || resp.Header.Get(replay.SourceHeader) != replay.Replayed {
		t.Errorf("replayed:\n%s\nrecorded:\n%s", got, recorded)
	}
	// with no fallback, an unknown request is an error naming it
	req, _ := http.NewRequest("POST", "http://x.invalid/v1/chat/completions", strings.NewReader(`{"model":"other"}`))
	if _, err := player.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "no recording for POST /v1/chat/completions") {
		t.Errorf("unknown: %v", err)
	}
}

// TestStateDirCountsAcrossProcesses: GoNB runs each cell in a new process; two players sharing
// a state directory continue each other's counts.
func TestStateDirCountsAcrossProcesses(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	srv := openaitest.NewServer(openaitest.WithPace(0))
	rec, _ := replay.NewRecorder(dir, nil)
	live := client(srv.URL, rec)
	ctx := context.Background()
	var ids []string
	for range 2 {
		r, err := live.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("again")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	srv.Close()
	for i := range 2 {
		p, err := replay.NewPlayer(dir, nil, replay.WithStateDir(state), replay.WithSpeed(0)) // a new "cell"
		if err != nil {
			t.Fatal(err)
		}
		r, err := client("https://api.openai.com/v1", p).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("again")})
		if err != nil || r.ID != ids[i] {
			t.Errorf("cell %d: %v %s, want %s", i, err, r.ID, ids[i])
		}
	}
}

func TestBadRecordingIsNamed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.jsonl"), []byte(`{"kind":"request","method":"GET","path":"/v1/models"}`+"\n{oops\n"), 0o644)
	_, err := replay.NewPlayer(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "x.jsonl line 2") {
		t.Errorf("%v", err)
	}
	if _, err := replay.NewPlayer(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("a missing directory loaded")
	}
}

// TestChatStreamThroughSDK: the SDK stops reading a Chat Completions stream at "data: [DONE]";
// the recording is complete all the same, and replays the same chunks.
func TestChatStreamThroughSDK(t *testing.T) {
	dir := t.TempDir()
	srv := openaitest.NewServer(openaitest.WithPace(0))
	rec, _ := replay.NewRecorder(dir, nil)
	rec.OnError = func(err error) { t.Error(err) }
	ctx := context.Background()
	read := func(c *openai.Client) string {
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4.1-nano",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		var b strings.Builder
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 {
				b.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		return b.String()
	}
	live := read(client(srv.URL, rec))
	srv.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl")); len(files) != 1 {
		t.Fatalf("%d recordings", len(files))
	}
	p, err := replay.NewPlayer(dir, nil, replay.WithSpeed(0))
	if err != nil {
		t.Fatal(err)
	}
	if got := read(client("https://api.openai.com/v1", p)); got != live || got == "" {
		t.Errorf("replayed %q, recorded %q", got, live)
	}
}

// TestStreamEndingAtDoneIsRecorded: a client that stops at "data: [DONE]" (the body's EOF has
// not come yet) has read a whole answer; one that stops before has not.
func TestStreamEndingAtDoneIsRecorded(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")
		if r.URL.Query().Get("cut") == "" {
			io.WriteString(w, "data: [DONE]\n\n")
		}
		w.(http.Flusher).Flush()
		select { // the connection stays open: no EOF
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	rec, _ := replay.NewRecorder(dir, nil)
	for _, q := range []string{"", "?cut=1"} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions"+q, strings.NewReader(`{"stream":true}`))
		resp, err := rec.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "data: [DONE]") || (q != "" && strings.HasPrefix(line, "data: {")) {
				br.ReadString('\n') // the blank line that ends the event
				break
			}
		}
		resp.Body.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("%d recordings, want the complete one only", len(files))
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "[DONE]") {
		t.Errorf("recording: %s", b)
	}
}

// A key the server echoes (in an error body, in a streamed event, in the query) is not written
// into the recording, and the recording still plays.
func TestEchoedKeyIsNotRecorded(t *testing.T) {
	const other = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH" // a provider key shape
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+key+`.","type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"your key is "+key+" and "+other+"\"}}]}\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer srv.Close()
	dir := t.TempDir()
	rec, err := replay.NewRecorder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/v1/models?key=" + key, "/v1/chat/completions"} {
		req, _ := http.NewRequest("POST", srv.URL+u, strings.NewReader(`{"stream":true}`))
		resp, err := rec.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 2 {
		t.Fatalf("%d recordings", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), key[3:20]) || strings.Contains(string(b), other[8:30]) {
			t.Errorf("%s holds a key:\n%s", filepath.Base(f), b)
		}
	}
	p, err := replay.NewPlayer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://replay.invalid/v1/chat/completions", strings.NewReader(`{"stream":true}`))
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get(replay.SourceHeader) != replay.Replayed || !strings.Contains(string(b), "your key is [redacted") {
		t.Errorf("replayed: %s %q", resp.Header.Get(replay.SourceHeader), b)
	}
}
