package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/internal/apiwire"
)

func apiErr(t *testing.T, err error) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an API error, got %v", err)
	}
	return e
}

func TestAuthIssuedTokens(t *testing.T) {
	e := newEnv(t, envOpt{})
	ctx := context.Background()
	r, err := e.client(e.alice).Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() == "" {
		t.Error("empty reply")
	}
	for _, tok := range []string{"", "gnbt_forged", teacherKey} {
		_, err := e.client(tok).Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-nano", Input: input("hi")})
		if ae := apiErr(t, err); ae.StatusCode != 401 || !strings.Contains(ae.Message, "GONBCHAT_GATEWAY_TOKEN") {
			t.Errorf("token %.8q: %v", tok, err)
		}
	}
	// the upstream saw the teacher's key (it requires it), never a student's token
	for _, rq := range e.upstream.Handler().Requests() {
		all := fmt.Sprint(rq.Header) + string(rq.Body)
		if strings.Contains(all, e.alice) || strings.Contains(all, "gnbt_") {
			t.Errorf("a student's token reached the upstream: %s", all)
		}
	}
	rows := e.waitRows(t, 1)
	if len(rows) != 1 || rows[0].Student != "alice" || rows[0].InputTokens == 0 || rows[0].OutputTokens == 0 || rows[0].Outcome != ledger.OK {
		t.Errorf("ledger: %+v", rows)
	}
}

func TestHubAuth(t *testing.T) {
	var calls atomic.Int32
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/hub/api/user" {
			http.NotFound(w, r)
			return
		}
		switch r.Header.Get("Authorization") {
		case "token hubtok-alice-0001":
			fmt.Fprint(w, `{"kind":"user","name":"alice","admin":false,"scopes":["access:servers!server=alice/"]}`)
		case "token hubtok-service-01":
			fmt.Fprint(w, `{"kind":"service","name":"announcer"}`)
		default:
			w.WriteHeader(403)
			fmt.Fprint(w, `{"status":403,"message":"Forbidden"}`)
		}
	}))
	defer hub.Close()
	e := newEnv(t, envOpt{hubAPI: hub.URL + "/hub/api"})
	ctx := context.Background()
	c := e.client("hubtok-alice-0001")
	for range 3 {
		if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the Hub was asked %d times for one token (want 1: cached)", n)
	}
	for _, tok := range []string{"hubtok-service-01", "hubtok-unknown-1"} {
		_, err := e.client(tok).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")})
		if ae := apiErr(t, err); ae.StatusCode != 401 || !strings.Contains(ae.Message, "JUPYTERHUB_API_TOKEN") {
			t.Errorf("%s: %v", tok, err)
		}
	}
	// issued tokens work beside the Hub
	if _, err := e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	rows := e.waitRows(t, 4)
	if len(rows) != 4 || rows[0].Student != "alice" || rows[3].Student != "bob" {
		t.Errorf("rows: %+v", rows)
	}

	// a Hub that is down is a retryable 503, not a refusal
	hub.Close()
	_, err := e.client("hubtok-other-0002").Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")})
	if ae := apiErr(t, err); ae.StatusCode != 503 || !strings.Contains(ae.Message, "could not reach JupyterHub") {
		t.Errorf("hub down: %v", err)
	}
}

func TestStoredResponsesAreIsolated(t *testing.T) {
	e := newEnv(t, envOpt{})
	ctx := context.Background()
	alice, bob := e.client(e.alice), e.client(e.bob)
	r1, err := alice.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("my secret plan")})
	if err != nil {
		t.Fatal(err)
	}
	// alice continues her own chain, streaming
	s := alice.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "m", Input: input("and then?"),
		PreviousResponseID: openai.String(r1.ID)})
	var r2 responses.Response
	for s.Next() {
		if ev := s.Current(); ev.Type == "response.completed" {
			r2 = ev.Response
		}
	}
	if s.Err() != nil || r2.ID == "" {
		t.Fatalf("chain: %v", s.Err())
	}

	// bob cannot read, list, chain from or delete alice's responses: they do not exist for him
	if _, err := bob.Responses.Get(ctx, r1.ID, responses.ResponseGetParams{}); apiErr(t, err).StatusCode != 404 {
		t.Errorf("bob GET: %v", err)
	}
	if _, err := bob.Responses.InputItems.List(ctx, r2.ID, responses.InputItemListParams{}); apiErr(t, err).StatusCode != 404 {
		t.Errorf("bob input_items: %v", err)
	}
	_, err = bob.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("tell me"), PreviousResponseID: openai.String(r1.ID)})
	if ae := apiErr(t, err); ae.StatusCode != 400 || ae.Code != "previous_response_not_found" {
		t.Errorf("bob chain: %v", err)
	}
	if err := bob.Responses.Delete(ctx, r1.ID); apiErr(t, err).StatusCode != 404 {
		t.Errorf("bob DELETE: %v", err)
	}
	// an id the gateway never made (another class's, or a guess) is not reachable either
	if _, err := alice.Responses.Get(ctx, "resp_0123456789", responses.ResponseGetParams{}); apiErr(t, err).StatusCode != 404 {
		t.Errorf("foreign id: %v", err)
	}

	// alice can
	got, err := alice.Responses.Get(ctx, r1.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != r1.ID {
		t.Fatalf("alice GET: %v", err)
	}
	items, err := alice.Responses.InputItems.List(ctx, r2.ID, responses.InputItemListParams{})
	if err != nil || len(items.Data) == 0 {
		t.Fatalf("alice input_items: %v", err)
	}
	if err := alice.Responses.Delete(ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Responses.Get(ctx, r1.ID, responses.ResponseGetParams{}); apiErr(t, err).StatusCode != 404 {
		t.Errorf("GET after delete: %v", err)
	}
	if o, _ := e.ledger.Owner(ctx, r1.ID); o != "" {
		t.Errorf("deleted response still owned by %q", o)
	}
	if o, _ := e.ledger.Owner(ctx, r2.ID); o != "alice" {
		t.Errorf("streamed response owner %q", o)
	}
}

const classPolicy = `
models:
  allowed: [gpt-4.1-mini, gpt-4.1-nano]
  aliases: {class: gpt-4.1-mini}
  default: class
max_output_tokens: 50
store: never
tutor: Give hints, not solutions.
`

func TestPolicyRewritesRequests(t *testing.T) {
	e := newEnv(t, envOpt{policy: classPolicy})
	ctx := context.Background()
	c := e.client(e.alice)
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "class", Input: input("hi"),
		Instructions: openai.String("Answer in French."), MaxOutputTokens: openai.Int(5000)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "gpt-4.1-mini" {
		t.Errorf("model %q", r.Model)
	}
	reqs := e.upstream.Handler().Requests()
	got := reqs[len(reqs)-1].JSON()
	if got["model"] != "gpt-4.1-mini" || got["max_output_tokens"] != float64(50) || got["store"] != false ||
		got["instructions"] != "Give hints, not solutions.\n\nAnswer in French." {
		t.Errorf("upstream got %v", got)
	}
	// store=false forced: nothing to chain from, nothing owned
	if o, _ := e.ledger.Owner(ctx, r.ID); o != "" {
		t.Errorf("an unstored response is owned by %q", o)
	}

	// Chat Completions: the tutor is the first message, the output clamped, usage asked for
	cc := openai.NewClient(option.WithBaseURL(e.url), option.WithAPIKey(e.bob), option.WithMaxRetries(0))
	stream := cc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4.1-nano",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hello")},
		MaxTokens: openai.Int(900)})
	var chunks int
	for stream.Next() {
		ch := stream.Current()
		chunks++
		if len(ch.Choices) == 0 {
			t.Errorf("bob got the usage chunk he did not ask for: %+v", ch)
		}
	}
	if stream.Err() != nil {
		t.Fatal(stream.Err())
	}
	reqs = e.upstream.Handler().Requests()
	got = reqs[len(reqs)-1].JSON()
	msgs := got["messages"].([]any)
	if first := msgs[0].(map[string]any); first["role"] != "system" || first["content"] != "Give hints, not solutions." || len(msgs) != 3 {
		t.Errorf("messages %v", msgs)
	}
	if got["max_tokens"] != float64(50) || got["stream_options"].(map[string]any)["include_usage"] != true {
		t.Errorf("chat upstream got %v", got)
	}
	rows := e.waitRows(t, 2)
	last := rows[len(rows)-1]
	if last.Student != "bob" || last.Endpoint != "chat.completions" || !last.Stream || last.InputTokens == 0 || last.OutputTokens == 0 {
		t.Errorf("chat row %+v", last)
	}

	// several answers in one request would multiply the clamped output: refused
	_, err = cc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4.1-nano",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}, N: openai.Int(8)})
	if ae := apiErr(t, err); ae.StatusCode != 400 || ae.Param != "n" || !strings.Contains(ae.Message, "one answer per request") {
		t.Errorf("n=8: %v", err)
	}
	if n := len(e.upstream.Handler().Requests()); n != len(reqs) {
		t.Errorf("n=8 reached the upstream (%d requests, was %d)", n, len(reqs))
	}
	if _, err := cc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4.1-nano",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}, N: openai.Int(1)}); err != nil {
		t.Errorf("n=1: %v", err)
	}

	// a model outside the class
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-5", Input: input("hi")})
	ae := apiErr(t, err)
	if ae.StatusCode != 400 || ae.Message != `The model "gpt-5" is not available in this class; use "class" (gpt-4.1-mini) or "gpt-4.1-nano".` {
		t.Errorf("gpt-5: %v", err)
	}
	// the models list shows the class's models
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "class,gpt-4.1-mini,gpt-4.1-nano" {
		t.Errorf("models %v", ids)
	}
	// endpoints beyond the chat ones are not forwarded with the teacher's key
	resp, err := http.Get(e.url + "/files")
	if err == nil {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", e.url+"/files", nil)
	req.Header.Set("Authorization", "Bearer "+e.alice)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/v1/files: %d", resp.StatusCode)
	}
	for _, rq := range e.upstream.Handler().Requests() {
		if strings.Contains(rq.Path, "files") {
			t.Error("/v1/files reached the upstream")
		}
	}
}

func TestAIOffAndReload(t *testing.T) {
	e := newEnv(t, envOpt{policy: "max_output_tokens: 100\n"})
	ctx := context.Background()
	c := e.client(e.alice)
	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	e.setPolicy(t, "ai_off: true\nai_off_message: AI is switched off for the exam (until 11:00).\n")
	_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")})
	ae := apiErr(t, err)
	if ae.StatusCode != 403 || ae.Message != "AI is switched off for the exam (until 11:00)." {
		t.Errorf("AI off: %v", err)
	}
	// a refusal of the policy is marked, so chatcell shows its message alone; other errors are not
	if h := ae.Response.Header.Get(apiwire.RefusalHeader); h != "policy" {
		t.Errorf("AI off: %s is %q", apiwire.RefusalHeader, h)
	}
	_, err = c.Responses.Get(ctx, "resp_of_nobody", responses.ResponseGetParams{})
	if ae := apiErr(t, err); ae.StatusCode != 404 || ae.Response.Header.Get(apiwire.RefusalHeader) != "" {
		t.Errorf("a response not found: %v, %s %q", err, apiwire.RefusalHeader, ae.Response.Header.Get(apiwire.RefusalHeader))
	}
	// a broken edit keeps the exam going
	if err := writeFile(e.policy, "ai_off: maybe\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.watcher.Reload(); err == nil {
		t.Fatal("a broken policy loaded")
	}
	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); apiErr(t, err).StatusCode != 403 {
		t.Errorf("broken edit switched AI on: %v", err)
	}
	e.setPolicy(t, "ai_off: false\n")
	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	rows := e.waitRows(t, 5)
	var refused int
	for _, r := range rows {
		if r.Outcome == ledger.Refused && r.Status == 403 {
			refused++
		}
	}
	if len(rows) != 5 || refused != 2 {
		t.Errorf("rows %+v", rows)
	}
}

func TestBudgets(t *testing.T) {
	now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	e := newEnv(t, envOpt{now: func() time.Time { return now }, policy: `
budgets:
  timezone: UTC
  reset: "06:00"
  student: {tokens: 10, per: day}
  class: {tokens: 100000, per: week}
  overrides:
    bob: {tokens: 1000000, per: day}
`})
	ctx := context.Background()
	alice := e.client(e.alice)
	// the first request fits (nothing spent), and spends more than 10 tokens
	if _, err := alice.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hello there")}); err != nil {
		t.Fatal(err)
	}
	_, err := alice.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("again")})
	ae := apiErr(t, err)
	if ae.StatusCode != 429 || ae.Message != "Your budget for today is used up (10 tokens per day); it resets at 06:00." {
		t.Errorf("student budget: %v", err)
	}
	// bob's override lets him on
	if _, err := e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	// the class budget: make it smaller than what was spent
	e.setPolicy(t, "budgets:\n  timezone: UTC\n  class: {tokens: 20, per: week}\n")
	_, err = e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")})
	ae = apiErr(t, err)
	if ae.StatusCode != 429 || ae.Message != "The class budget for this week is used up; it resets on Monday at 00:00." {
		t.Errorf("class budget: %v", err)
	}
	// the next day (after 06:00) alice's daily budget is back
	now = now.Add(16 * time.Hour)
	e.setPolicy(t, "budgets:\n  timezone: UTC\n  reset: \"06:00\"\n  student: {tokens: 10, per: day}\n")
	if _, err := alice.Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("new day")}); err != nil {
		t.Errorf("next day: %v", err)
	}
}

func TestMoneyBudget(t *testing.T) {
	e := newEnv(t, envOpt{policy: `
models: {allowed: [tiny]}
prices: {tiny: {input: 1000000, output: 1000000}}
budgets: {class: {usd: 1, per: day}}
`})
	ctx := context.Background()
	if _, err := e.client(e.alice).Responses.New(ctx, responses.ResponseNewParams{Model: "tiny", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	rows := e.waitRows(t, 1)
	if rows[0].CostUSD < 1 {
		t.Fatalf("cost %v (a token costs $1 here)", rows[0].CostUSD)
	}
	_, err := e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "tiny", Input: input("hi")})
	if ae := apiErr(t, err); ae.StatusCode != 429 || !strings.HasPrefix(ae.Message, "The class budget for today is used up; it resets at") {
		t.Errorf("money: %v", err)
	}
}

// TestBudgetRace: 30 students ask at once against a class budget that has room for a few
// requests: the ones admitted cannot together spend much more than the budget.
func TestBudgetRace(t *testing.T) {
	e := newEnv(t, envOpt{pace: 5 * time.Millisecond, policy: `
max_output_tokens: 40
budgets: {class: {tokens: 300, per: day}}
`})
	ctx := context.Background()
	toks := make([]string, 30)
	for i := range toks {
		toks[i], _ = e.ledger.AddToken(ctx, fmt.Sprintf("s%02d", i))
	}
	var wg sync.WaitGroup
	var ok, refused atomic.Int32
	start := make(chan struct{})
	for _, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.client(tok).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("Tell me a long story about the sea.")})
			var ae *openai.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ae) && ae.StatusCode == 429:
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	rows := e.waitRows(t, 30)
	var spent, biggest int64
	for _, r := range rows {
		n := r.InputTokens + r.OutputTokens
		spent += n
		biggest = max(biggest, n)
	}
	t.Logf("admitted %d, refused %d, spent %d tokens of 300", ok.Load(), refused.Load(), spent)
	if len(rows) != 30 || ok.Load()+refused.Load() != 30 {
		t.Fatalf("%d rows for 30 requests", len(rows))
	}
	if refused.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("admitted %d, refused %d", ok.Load(), refused.Load())
	}
	if spent > 300+biggest {
		t.Errorf("overspent: %d tokens for a budget of 300 (largest request %d)", spent, biggest)
	}
}

// TestStreamPassthrough: the first event reaches the student while the upstream is still
// holding the rest; usage is read from the stream.
func TestStreamPassthrough(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+teacherKey {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		fmt.Fprint(w, "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_s1\",\"model\":\"m\",\"status\":\"in_progress\"}}\n\n")
		fmt.Fprint(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hel\"}\n\n")
		f.Flush()
		<-release
		fmt.Fprint(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"lo\"}\n\n")
		fmt.Fprint(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_s1\",\"model\":\"gpt-4.1-mini\",\"status\":\"completed\",\"usage\":{\"input_tokens\":11,\"output_tokens\":2,\"total_tokens\":13}}}\n\n")
	}))
	defer up.Close()
	e := newEnv(t, envOpt{upstream: up.URL + "/v1"})
	req, _ := http.NewRequest("POST", e.url+"/responses", strings.NewReader(`{"model":"m","input":"hi","stream":true}`))
	req.Header.Set("Authorization", "Bearer "+e.alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var got strings.Builder
	for !strings.Contains(got.String(), `"Hel"`) {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("before the upstream finished: %v (got %q)", err, got.String())
		}
		got.WriteString(line)
	}
	close(release) // only now may the upstream finish
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "response.completed") {
		t.Errorf("rest: %s", rest)
	}
	rows := e.waitRows(t, 1)
	if len(rows) != 1 || rows[0].InputTokens != 11 || rows[0].OutputTokens != 2 || rows[0].Model != "gpt-4.1-mini" || rows[0].ResponseID != "resp_s1" {
		t.Errorf("row %+v", rows)
	}
	if o, _ := e.ledger.Owner(context.Background(), "resp_s1"); o != "alice" {
		t.Errorf("owner %q", o)
	}
}

// TestNoKeyReachesStudents: an upstream that echoes the key (in an error, in a stream) has it
// redacted; an upstream that refuses the key is one line for the teacher.
func TestNoKeyReachesStudents(t *testing.T) {
	var mode atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Openai-Organization", "org-teacher")
			w.Header().Set("Set-Cookie", "session=abc")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"bad thing with key %s","type":"invalid_request_error","param":null,"code":null}}`, teacherKey)
		case 1:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"%s\"}\n\n", teacherKey[3:30])
		case 2:
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s"}}`, teacherKey)
		}
	}))
	defer up.Close()
	e := newEnv(t, envOpt{upstream: up.URL + "/v1"})
	do := func(body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", e.url+"/responses", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for m := range 3 {
		mode.Store(int32(m))
		resp, body := do(`{"model":"m","input":"hi","stream":true}`)
		all := fmt.Sprint(resp.Header) + body
		if strings.Contains(all, teacherKey[3:15]) || strings.Contains(all, "org-teacher") || strings.Contains(all, "session=") {
			t.Errorf("mode %d leaked: %s", m, all)
		}
		if m == 2 && (resp.StatusCode != 502 || !strings.Contains(body, "tell your teacher")) {
			t.Errorf("refused key: %d %s", resp.StatusCode, body)
		}
	}
	for _, r := range e.waitRows(t, 3) {
		if strings.Contains(r.Detail, teacherKey[3:15]) {
			t.Errorf("key in the ledger: %+v", r)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, envOpt{pace: 20 * time.Millisecond})
	ctx := context.Background()
	c := e.client(e.alice)
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "m", Input: input("a story, please")})
		first := true
		for s.Next() {
			if first {
				close(started)
				first = false
			}
		}
		done <- s.Err()
	}()
	<-started
	shut := make(chan error)
	go func() { shut <- e.gw.Shutdown(context.Background()) }()
	// new requests are turned away while the stream finishes
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "m", Input: input("hi")})
		if err != nil {
			if ae := apiErr(t, err); ae.StatusCode != 503 {
				t.Fatalf("during shutdown: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Shutdown never started refusing")
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the stream in flight was cut: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range e.rows(t) {
		if r.Student == "alice" {
			found = r.Outcome == ledger.OK && r.OutputTokens > 0
		}
	}
	if !found {
		t.Errorf("the streamed reply's row is missing: %+v", e.rows(t))
	}
}

func TestForcedShutdownRecordsInterrupted(t *testing.T) {
	e := newEnv(t, envOpt{pace: 200 * time.Millisecond})
	c := e.client(e.alice)
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "m", Input: input("a long story")})
		first := true
		for s.Next() {
			if first {
				close(started)
				first = false
			}
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.gw.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v", err)
	}
	<-done
	rows := e.rows(t) // Shutdown returned: the row must be there already
	if len(rows) != 1 || rows[0].Outcome != ledger.Interrupted || rows[0].InputTokens+rows[0].OutputTokens == 0 {
		t.Errorf("rows %+v", rows)
	}
}

func TestAdminPageAndPrefix(t *testing.T) {
	e := newEnv(t, envOpt{admin: "admin-secret-token", prefix: "/services/gonbchat/", policy: "budgets: {student: {tokens: 100000, per: day}}"})
	ctx := context.Background()
	// students may use the Hub's service prefix
	pc := openai.NewClient(option.WithBaseURL(e.srv.URL+"/services/gonbchat/v1"), option.WithAPIKey(e.alice), option.WithMaxRetries(0))
	if _, err := pc.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-mini", Input: input("hi")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client(e.bob).Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1-mini", Input: input("hello")}); err != nil {
		t.Fatal(err)
	}
	get := func(path, user, pw string) (int, string) {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		if pw != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/admin/", "", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get("/admin/", "teacher", e.alice); code != 401 {
		t.Errorf("a student's token: %d", code)
	}
	code, page := get("/services/gonbchat/admin/", "teacher", "admin-secret-token")
	if code != 200 || !strings.Contains(page, "<svg") || !strings.Contains(page, "<rect") || !strings.Contains(page, ">alice<") || !strings.Contains(page, ">bob<") {
		t.Errorf("page %d:\n%s", code, page)
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("the template refused a value (ZgotmplZ): a colour or style is missing")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script") {
		t.Error("the page loads something from elsewhere")
	}
	code, js := get("/admin/usage.json", "", "admin-secret-token")
	var data struct {
		Students []ledger.Usage `json:"students"`
	}
	if code != 200 || json.Unmarshal([]byte(js), &data) != nil || len(data.Students) != 2 || data.Students[0].Student != "alice" || data.Students[0].OutputTokens == 0 {
		t.Errorf("usage.json %d %s", code, js)
	}
}
