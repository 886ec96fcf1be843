//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/openaitest"
	"github.com/openai/openai-go/v3/responses"
)

const testKey = "sk-test-0123456789abcdef"

func newServer(t *testing.T, opts ...openaitest.Option) *openaitest.Server {
	t.Helper()
	srv := openaitest.NewServer(append([]openaitest.Option{openaitest.WithPace(0)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// chatOpts points a Chat at srv as a live server would be, with its state in dir.
func chatOpts(srv *openaitest.Server, dir string, more ...ChatOption) []ChatOption {
	return append([]ChatOption{WithBaseURL(srv.URL), WithAPIKey(testKey), WithStateDir(dir), WithQuiet()}, more...)
}

// histOpts does the same for a ChatWithHistList.
func histOpts(srv *openaitest.Server, dir string, more ...HistOption) []HistOption {
	return append([]HistOption{WithBaseURL(srv.URL), WithAPIKey(testKey), WithStateDir(dir), WithQuiet()}, more...)
}

// createOpts does the same for Create.
func createOpts(srv *openaitest.Server, more ...CreateOption) []CreateOption {
	return append([]CreateOption{WithBaseURL(srv.URL), WithAPIKey(testKey), WithQuiet()}, more...)
}

// withInput makes Loop read lines from r (tests).
func withInput(r io.Reader) Option { return Option{func(c *config) { c.input = r }} }

func lastRequest(t *testing.T, srv *openaitest.Server, path string) map[string]any {
	t.Helper()
	reqs := srv.Handler().Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i].JSON()
		}
	}
	t.Fatalf("no request to %s", path)
	return nil
}

func TestChatChainsTurnsWithPreviousResponseID(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	first := chat.Ask("你知道什麼是流冰嗎？")
	if first == "" || chat.Err() != nil {
		t.Fatalf("first turn: %q, %v", first, chat.Err())
	}
	firstID := chat.LastID()
	if !strings.HasPrefix(firstID, "resp_") {
		t.Fatalf("LastID = %q", firstID)
	}
	req := lastRequest(t, srv, "/v1/responses")
	if req["instructions"] != DefaultInstructions || req["model"] != DefaultModel || req["stream"] != true {
		t.Errorf("first request = %v", req)
	}
	if _, ok := req["previous_response_id"]; ok {
		t.Errorf("first turn sent previous_response_id: %v", req)
	}

	second, err := chat.Reply(context.Background(), "哪裡看得到？")
	if err != nil {
		t.Fatal(err)
	}
	if got := lastRequest(t, srv, "/v1/responses")["previous_response_id"]; got != firstID {
		t.Errorf("second turn chained onto %v, want %s", got, firstID)
	}
	// The mirror model quotes the earlier turns it saw: the chain reached it.
	if !strings.Contains(second, "流冰") {
		t.Errorf("second reply does not show the first turn:\n%s", second)
	}
	if chat.Turns() != 2 || chat.LastID() == firstID {
		t.Errorf("turns=%d last=%s", chat.Turns(), chat.LastID())
	}
	u := chat.Usage()
	if u.TotalTokens == 0 || u.TotalTokens != u.InputTokens+u.OutputTokens {
		t.Errorf("usage = %+v", u)
	}
	if u == chat.LastUsage() {
		t.Errorf("running total %+v equals the last turn's usage", u)
	}
}

// GoNB runs each cell as a new process: a chat declared again with the same name continues.
func TestChatSurvivesAcrossCells(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	cell2 := New(chatOpts(srv, dir, WithName("ch3"))...)
	cell2.Ask("你知道什麼是流冰嗎？")
	id := cell2.LastID()

	cell3 := New(chatOpts(srv, dir, WithName("ch3"))...)
	if cell3.LastID() != id || cell3.Turns() != 1 || cell3.Usage() != cell2.Usage() {
		t.Fatalf("cell 3 sees last=%q turns=%d, want %q 1", cell3.LastID(), cell3.Turns(), id)
	}
	other := New(chatOpts(srv, dir, WithName("other"))...)
	if other.LastID() != "" {
		t.Errorf("a differently named chat shares state: %q", other.LastID())
	}
	// WithLastID seeds a new chat once; re-declaring it (next cell) does not reset its thread.
	fork := New(chatOpts(srv, dir, WithName("fork"), WithLastID(id))...)
	fork.Ask("哪裡看得到？")
	again := New(chatOpts(srv, dir, WithName("fork"), WithLastID(id))...)
	if again.LastID() == id || again.LastID() != fork.LastID() {
		t.Errorf("re-declared fork restarted: %q, want %q", again.LastID(), fork.LastID())
	}
}

func TestStoreFalseThenChainingGivesServerMessage(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir(), WithStore(false))...)
	if chat.Ask("你知道什麼是流冰嗎？") == "" {
		t.Fatal(chat.Err())
	}
	if got := lastRequest(t, srv, "/v1/responses")["store"]; got != false {
		t.Errorf("store sent as %v", got)
	}
	id := chat.LastID()
	if chat.Ask("哪裡看得到？") != "" {
		t.Fatal("chaining onto an unstored response succeeded")
	}
	err := chat.Err()
	var apiErr *APIError
	// The real API answers 400 previous_response_not_found (not 404) for an unusable previous id.
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "previous_response_not_found" {
		t.Fatalf("err = %v, want a 400 previous_response_not_found *APIError", err)
	}
	line := Describe(err)
	if !strings.Contains(line, apiErr.Message) || !strings.Contains(line, "400") || !strings.Contains(line, "Reset") {
		t.Errorf("Describe = %q, want the server's message %q, the status and a hint", line, apiErr.Message)
	}
	if chat.LastID() != id || chat.Turns() != 1 {
		t.Errorf("a failed turn changed the chat: last=%s turns=%d", chat.LastID(), chat.Turns())
	}
}

func TestParamsPassThrough(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir(), WithInstructions("只用英文"), WithModel("gpt-4.1-mini"))...)
	chat.Ask("hi", WithTemperature(0.25), WithMaxOutputTokens(300), WithParam("metadata", map[string]string{"lesson": "3"}))
	req := lastRequest(t, srv, "/v1/responses")
	if req["temperature"] != 0.25 || req["max_output_tokens"] != 300.0 || req["instructions"] != "只用英文" || req["model"] != "gpt-4.1-mini" {
		t.Errorf("request = %v", req)
	}
	if md, _ := req["metadata"].(map[string]any); md["lesson"] != "3" {
		t.Errorf("metadata = %v", req["metadata"])
	}
	// Per-call options do not stick.
	chat.Ask("again")
	if req := lastRequest(t, srv, "/v1/responses"); req["temperature"] != nil {
		t.Errorf("per-call temperature leaked into the next turn: %v", req)
	}
}

func TestStreamYieldsDeltasAndCommitsOnlyWhenComplete(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	var deltas []string
	for d, err := range chat.Stream(context.Background(), "你好") {
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
	}
	if len(deltas) < 3 {
		t.Fatalf("only %d deltas", len(deltas))
	}
	msgs, err := chat.Thread(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs[len(msgs)-1].Content; got != strings.Join(deltas, "") {
		t.Errorf("deltas joined differ from the stored reply:\n%q\n%q", strings.Join(deltas, ""), got)
	}
	// Breaking out of the loop abandons the turn.
	id := chat.LastID()
	for range chat.Stream(context.Background(), "第二題") {
		break
	}
	if chat.LastID() != id || chat.Turns() != 1 {
		t.Errorf("an abandoned turn was recorded")
	}
}

func TestDroppedStreamAndInStreamErrorLeaveChatUnchanged(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	chat.Ask("first")
	id := chat.LastID()

	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", DropAfterEvents: 5})
	if chat.Ask("second") != "" {
		t.Fatal("a dropped stream produced a reply")
	}
	if err := chat.Err(); err == nil {
		t.Fatal("no error for a dropped stream")
	}

	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", StreamError: true})
	_, err := chat.Reply(context.Background(), "third")
	var se *StreamError
	if !errors.As(err, &se) || se.Code != "insufficient_quota" || se.Message == "" {
		t.Fatalf("err = %#v, want a *StreamError with the server's code and message", err)
	}
	if line := Describe(err); !strings.Contains(line, "insufficient_quota") {
		t.Errorf("Describe = %q", line)
	}
	if chat.LastID() != id || chat.Turns() != 1 {
		t.Errorf("failed turns changed the chat")
	}
}

func TestSaveAndLoadLastID(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	chat1 := New(chatOpts(srv, dir, WithName("chat1"))...)
	file := filepath.Join(t.TempDir(), "last_id")
	if err := chat1.Save(file); err == nil {
		t.Error("saving an empty chat succeeded")
	}
	chat1.Ask("你知道什麼是流冰嗎？")
	if err := chat1.Save(file); err != nil {
		t.Fatal(err)
	}
	chat2 := New(chatOpts(srv, dir, WithName("chat2"))...)
	if err := chat2.Load(file); err != nil {
		t.Fatal(err)
	}
	if chat2.LastID() != chat1.LastID() {
		t.Fatalf("loaded %q, want %q", chat2.LastID(), chat1.LastID())
	}
	reply, _ := chat2.Reply(context.Background(), "哪裡看得到？")
	if !strings.Contains(reply, "流冰") {
		t.Errorf("chat2 does not continue chat1's thread:\n%s", reply)
	}

	for name, content := range map[string]string{"empty": "", "blank": " \n", "garbage": "two words\nand lines"} {
		f := filepath.Join(t.TempDir(), name)
		os.WriteFile(f, []byte(content), 0o644)
		before := chat2.LastID()
		err := chat2.Load(f)
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
		if chat2.LastID() != before {
			t.Errorf("%s: a failed load changed the chat", name)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if err := chat2.Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestThreadShowsEveryPageAndDeleteThreadWalksBack(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	const turns = 12 // 23 input items: more than one page of 20
	for i := 0; i < turns; i++ {
		if _, err := chat.Reply(context.Background(), "第"+string(rune('A'+i))+"題"); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := chat.Thread(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2*turns {
		t.Fatalf("thread has %d messages, want %d", len(msgs), 2*turns)
	}
	for i, m := range msgs {
		want := llm.User
		if i%2 == 1 {
			want = llm.Assistant
		}
		if m.Role != want {
			t.Fatalf("message %d is %s, want %s", i, m.Role, want)
		}
	}
	if msgs[0].Content != "第A題" || msgs[2*turns-2].Content != "第L題" {
		t.Errorf("order: first %q, last question %q", msgs[0].Content, msgs[2*turns-2].Content)
	}
	if md := messageMarkdown("zh-TW", msgs[0], 0); md != "**[0] 使用者**\n\n第A題" {
		t.Errorf("messageMarkdown = %q", md)
	}

	last := chat.LastID()
	if err := chat.DeleteThread(); err != nil {
		t.Fatal(err)
	}
	if chat.LastID() != "" {
		t.Errorf("LastID after delete = %q", chat.LastID())
	}
	deletes := 0
	for _, r := range srv.Handler().Requests() {
		if r.Method == "DELETE" {
			deletes++
		}
	}
	if deletes != turns {
		t.Errorf("%d DELETE requests, want %d", deletes, turns)
	}
	probe := New(chatOpts(srv, t.TempDir(), WithLastID(last))...)
	if _, err := probe.Thread(context.Background()); err == nil {
		t.Error("the deleted thread can still be read")
	}
}

func TestRollbackMovesLastIDBackAlongTheChain(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	var ids []string
	for _, q := range []string{"自然數1的後面是幾?", "再往後是幾?", "再往後呢?", "再往後呢?"} {
		chat.Reply(context.Background(), q)
		ids = append(ids, chat.LastID())
	}
	if err := chat.Rollback(5); err == nil {
		t.Error("rolling back more turns than exist succeeded")
	}
	if chat.LastID() != ids[3] {
		t.Fatal("a failed rollback moved the chat")
	}
	removed, err := chat.rollback(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if chat.LastID() != ids[1] || chat.Turns() != 2 {
		t.Errorf("after rollback(2): last=%s turns=%d, want %s 2", chat.LastID(), chat.Turns(), ids[1])
	}
	if len(removed) != 4 || removed[0].Role != llm.User || removed[0].Content != "再往後呢?" || removed[3].Role != llm.Assistant {
		t.Errorf("removed = %+v", removed)
	}
	reply, _ := chat.Reply(context.Background(), "現在呢?")
	if got := lastRequest(t, srv, "/v1/responses")["previous_response_id"]; got != ids[1] {
		t.Errorf("next turn chained onto %v, want %s (reply %q)", got, ids[1], reply)
	}
}

func TestLoopAsksUntilEmptyLine(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	chat.Loop(withInput(strings.NewReader("你好\n哪裡看得到？\n\n不會送出\n")))
	if chat.Turns() != 2 {
		t.Errorf("turns = %d, want 2", chat.Turns())
	}
}

func TestAPIKeyNeverShownOrSaved(t *testing.T) {
	srv := newServer(t, openaitest.WithAPIKey("sk-the-right-key-000000"))
	dir := t.TempDir()
	chat := New(chatOpts(srv, dir)...) // sends testKey: wrong
	chat.Ask("hi")
	err := chat.Err()
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("err = %v, want 401", err)
	}
	if line := err.Error(); strings.Contains(line, testKey) || strings.Contains(line, "0123456789abcdef") || line != Describe(err) {
		t.Errorf("error line shows the key: %q", line)
	}
	chat.Save(filepath.Join(dir, "x")) // nothing to save, but the state file exists
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), testKey) {
				t.Errorf("%s contains the API key", p)
			}
		}
		return nil
	})
}

func TestOfflineDefaultNeedsNoKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	chat := New(WithStateDir(dir), WithQuiet(), WithOfflinePace(0))
	if chat.Source() != Offline {
		t.Fatalf("source = %s", chat.Source())
	}
	chat.Reply(context.Background(), "你知道什麼是流冰嗎？")
	// A second "cell" (new handler over the same store dir) finds the chain.
	offlineHandlers.Lock()
	clear(offlineHandlers.m)
	offlineHandlers.Unlock()
	next := New(WithStateDir(dir), WithQuiet(), WithOfflinePace(0))
	reply, err := next.Reply(context.Background(), "哪裡看得到？")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reply, "流冰") {
		t.Errorf("the offline chain was lost across processes:\n%s", reply)
	}
}

func TestCreateChainsOnlyWhenAsked(t *testing.T) {
	srv := newServer(t)
	opts := createOpts(srv)
	r := Create("你知道什麼是流冰嗎？", opts...)
	r1 := Create("哪裡看得到？", opts...)
	r2 := Create("哪裡看得到？", append(opts, WithPreviousResponseID(r.ID))...)
	if r1.PreviousResponseID != "" || r2.PreviousResponseID != r.ID {
		t.Errorf("previous ids: r1=%q r2=%q want \"\" and %q", r1.PreviousResponseID, r2.PreviousResponseID, r.ID)
	}
	if strings.Contains(r1.Text, "流冰") || !strings.Contains(r2.Text, "流冰") {
		t.Errorf("r1 should not see the first question, r2 should:\nr1: %s\nr2: %s", r1.Text, r2.Text)
	}
	if r2.Usage.InputTokens <= r1.Usage.InputTokens {
		t.Errorf("the chained request should use more input tokens: %d vs %d", r2.Usage.InputTokens, r1.Usage.InputTokens)
	}
}

func TestInteractiveOverride(t *testing.T) {
	t.Setenv("GONBCHAT_INTERACTIVE", "0")
	if ok, why := interactive("en"); ok || !strings.Contains(why, "GONBCHAT_INTERACTIVE=0") {
		t.Errorf("GONBCHAT_INTERACTIVE=0: %v %q", ok, why)
	}
	t.Setenv("GONBCHAT_INTERACTIVE", "1")
	if ok, _ := interactive("en"); !ok {
		t.Error("GONBCHAT_INTERACTIVE=1 is not interactive")
	}
	// A test binary is no known interactive frontend.
	t.Setenv("GONBCHAT_INTERACTIVE", "")
	if ok, why := interactive("zh-TW"); ok || !strings.Contains(why, "GONBCHAT_INTERACTIVE=1") {
		t.Errorf("unknown launcher: %v %q", ok, why)
	}
	// The line a jupyter_client script's cell shows: the way out is inside the reason, and the
	// sentence ends with what happened (it read "…set GONBCHAT_INTERACTIVE=1 if a person can, so
	// the loop ends here.").
	for _, lang := range []string{"en", "zh-TW", "zh-CN"} {
		_, why := interactive(lang)
		line := tr(lang, msgLoopNoInput, why)
		if !strings.HasSuffix(why, ")") && !strings.HasSuffix(why, "）") {
			t.Errorf("%s: %q", lang, line)
		}
	}
}

// The timeouts measure silence: a server that answers nothing within the start timeout ends the
// reply with ErrNoResponse, while one that keeps sending events is never cut.
func TestTimeoutsMeasureSilence(t *testing.T) {
	srv := newServer(t, openaitest.WithPace(30*time.Millisecond))
	chat := New(chatOpts(srv, t.TempDir(), WithStallTimeout(time.Second), WithStartTimeout(time.Second))...)
	if _, err := chat.Reply(context.Background(), "a paced reply of a second or two"); err != nil {
		t.Fatalf("a reply that keeps streaming was cut: %v", err)
	}
	srv.Handler().InjectFault(openaitest.Fault{Path: "/v1/responses", Latency: 4 * time.Second})
	_, err := chat.Reply(context.Background(), "a silent server")
	if !errors.Is(err, ErrNoResponse) {
		t.Fatalf("err = %v, want ErrNoResponse", err)
	}
	if line := Describe(err); !strings.Contains(line, "did not answer within 0 s") && !strings.Contains(line, "did not answer within") {
		t.Errorf("Describe = %q", line)
	}
}

// The zero Chat and the zero ChatWithHistList are not chats: every verb says how to make one.
func TestZeroValuesSayHowToCreate(t *testing.T) {
	var chat Chat
	if _, err := chat.Reply(context.Background(), "你好"); !errors.Is(err, errNotCreated) || !strings.Contains(err.Error(), "chatcell.New") {
		t.Errorf("zero Chat: %v", err)
	}
	var hist ChatWithHistList
	if err := hist.Rollback(1); !errors.Is(err, errNotCreated) {
		t.Errorf("zero ChatWithHistList: %v", err)
	}
	if hist.Err() == nil || chat.LastID() != "" || hist.Messages() != nil {
		t.Error("zero values report nothing")
	}
}

func TestSetLastIDAndReset(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir())...)
	chat.Reply(context.Background(), "第一題")
	first := chat.LastID()
	chat.Reply(context.Background(), "第二題")
	if err := chat.SetLastID("  " + first + "\n"); err != nil || chat.LastID() != first {
		t.Fatalf("SetLastID: %v, %q", err, chat.LastID())
	}
	reply, _ := chat.Reply(context.Background(), "第三題")
	if strings.Contains(reply, "第二題") || !strings.Contains(reply, "第一題") {
		t.Errorf("after SetLastID the model should see only the first turn:\n%s", reply)
	}
	chat.Reset()
	reply, _ = chat.Reply(context.Background(), "重新開始")
	if strings.Contains(reply, "第一題") {
		t.Errorf("after Reset the model still sees the old thread:\n%s", reply)
	}
}

// A .env file next to the notebook (the cell's working directory) supplies the key and base URL,
// without overriding variables that are already set. .env is read once per process, so each
// case runs in a child process.
func TestDotenvNextToTheNotebook(t *testing.T) {
	if dir := os.Getenv("GONBCHAT_DOTENV_CHILD"); dir != "" {
		os.Chdir(dir)
		cfg := defaults()
		WithStateDir(t.TempDir()).forNew(cfg)
		cn := resolveConn(cfg)
		fmt.Printf("source=%s base=%s\n", cn.source, cn.baseURL)
		return
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("OPENAI_API_KEY=sk-from-dotenv-0123456789\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n"), 0o600)
	for _, tc := range []struct{ base, want string }{
		{"", "source=live base=http://127.0.0.1:9/v1"},
		{"http://already.set/v1", "source=live base=http://already.set/v1"}, // the environment wins
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestDotenvNextToTheNotebook$")
		cmd.Env = append(os.Environ(), "GONBCHAT_DOTENV_CHILD="+dir, "OPENAI_API_KEY=", "OPENAI_BASE_URL="+tc.base)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("with OPENAI_BASE_URL=%q: got\n%s\nwant %q", tc.base, out, tc.want)
		}
	}
}

func TestEventLine(t *testing.T) {
	var ev responses.ResponseStreamEventUnion
	if err := json.Unmarshal([]byte(`{"type":"response.output_text.delta","sequence_number":4,"delta":"**流","item_id":"msg_1","output_index":0,"content_index":0}`), &ev); err != nil {
		t.Fatal(err)
	}
	if got := eventLine(ev); !strings.HasPrefix(got, "response.output_text.delta") || !strings.Contains(got, `#4`) || !strings.HasSuffix(got, `delta="**流"`) || strings.Contains(got, "msg_1") {
		t.Errorf("delta line = %q", got)
	}
	long := `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","instructions":"` + strings.Repeat("長", 300) + `"}}`
	json.Unmarshal([]byte(long), &ev)
	if got := eventLine(ev); !strings.Contains(got, `"id":"resp_1"`) || !strings.HasSuffix(got, " …") || !utf8.ValidString(got) {
		t.Errorf("long line = %q", got)
	}
}

// A response the server no longer has (expired after 30 days, deleted from the dashboard, or a
// replay of another server) does not end the chat: it sends its own copy of the thread again,
// says so in one line, and goes on chaining.
func TestExpiredThreadIsSentAgainFromTheLocalCopy(t *testing.T) {
	srv := newServer(t)
	chat := New(chatOpts(srv, t.TempDir(), WithName("long-lived"))...)
	chat.Reply(context.Background(), "你知道什麼是流冰嗎？")
	chat.Reply(context.Background(), "哪裡看得到？")
	gone := chat.LastID()
	// The server loses the thread behind the chat's back.
	other := New(chatOpts(srv, t.TempDir(), WithLastID(gone))...)
	if err := other.DeleteThread(); err != nil {
		t.Fatal(err)
	}
	reply, err := chat.Reply(context.Background(), "最好的季節是什麼時候？")
	if err != nil {
		t.Fatalf("the chat did not go on: %v", err)
	}
	req := lastRequest(t, srv, "/v1/responses")
	if _, chained := req["previous_response_id"]; chained {
		t.Errorf("the re-sent request still chains: %v", req)
	}
	if input, _ := req["input"].([]any); len(input) != 5 {
		t.Errorf("re-sent %d messages, want the 4 of the thread and the question", len(input))
	}
	if !strings.Contains(reply, "流冰") || !strings.Contains(reply, "哪裡看得到") {
		t.Errorf("the model did not see the thread:\n%s", reply)
	}
	if chat.Turns() != 3 || chat.LastID() == gone {
		t.Errorf("turns %d, last %s", chat.Turns(), chat.LastID())
	}
	chat.Reply(context.Background(), "謝謝")
	if got := lastRequest(t, srv, "/v1/responses")["previous_response_id"]; got == nil {
		t.Error("after re-sending, the chat no longer chains")
	}
	// A thread whose last turn was never stored (store=false) is not re-sent: that error is the lesson.
	unstored := New(chatOpts(srv, t.TempDir(), WithName("unstored"), WithStore(false))...)
	unstored.Reply(context.Background(), "第一題")
	if _, err := unstored.Reply(context.Background(), "第二題"); err == nil {
		t.Error("a store=false thread was re-sent silently")
	}
}

// TestOfflineModelSpeaksTheChatsChinese: offline, the mirror's labels follow the chat's
// language (Simplified for the zh-CN lessons), and two chats in one process each get their own.
func TestOfflineModelSpeaksTheChatsChinese(t *testing.T) {
	dir := t.TempDir()
	cn := NewHistList(WithName("cn"), WithOffline(), WithStateDir(dir), WithQuiet(), WithLanguage("zh-CN"))
	tw := NewHistList(WithName("tw"), WithOffline(), WithStateDir(dir), WithQuiet(), WithLanguage("zh-TW"))
	a, err := cn.Reply(context.Background(), "你好")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tw.Reply(context.Background(), "你好")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a, "镜像模型") || strings.Contains(a, "鏡像模型") {
		t.Errorf("zh-CN chat got:\n%s", a)
	}
	if !strings.Contains(b, "鏡像模型") || strings.Contains(b, "镜像模型") {
		t.Errorf("zh-TW chat got:\n%s", b)
	}
}

// The note shown while a turn waits to try again says what happened: a server that answered 200
// and ended at once did not lose the connection.
func TestRetryNoteSaysWhy(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errEmptyStream, "the server sent an empty answer"},
		{syscall.ECONNRESET, "connection lost"},
	} {
		_, why, ok := retryAfter("en", c.err, 0)
		if !ok || why != c.want {
			t.Errorf("retryAfter(%v) = %q, %v; want %q", c.err, why, ok, c.want)
		}
	}
}
