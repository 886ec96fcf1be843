//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/openaitest"
)

// userMessages are the user messages of a recorded Responses request, in order.
func userMessages(req map[string]any) []string {
	if s, ok := req["input"].(string); ok {
		return []string{s}
	}
	var out []string
	items, _ := req["input"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m["role"] == "user" {
			out = append(out, fmt.Sprint(m["content"]))
		}
	}
	return out
}

// waitForRequests waits until srv has received n requests.
func waitForRequests(t *testing.T, srv *openaitest.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(srv.Handler().Requests()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d requests, want %d", len(srv.Handler().Requests()), n)
		}
	}
}

// Turns started together on one chat never overlap: each is built from the history the one
// before it left, in the order they were started.
func TestGoTurnsOnOneChatRunOneAfterTheOther(t *testing.T) {
	srv := newServer(t, openaitest.WithPace(time.Millisecond))
	chat := NewHistList(histOpts(srv, t.TempDir())...)
	var ps []*Pending
	for i := 1; i <= 5; i++ {
		ps = append(ps, chat.Go(context.Background(), fmt.Sprintf("第%d題", i)))
	}
	for i, p := range ps {
		if text, err := p.Wait(); err != nil || text == "" {
			t.Fatalf("turn %d: %q %v", i+1, text, err)
		}
	}
	reqs := requestsTo(srv, "/v1/responses")
	if len(reqs) != 5 {
		t.Fatalf("%d requests", len(reqs))
	}
	for k, req := range reqs {
		var want []string
		for i := 1; i <= k+1; i++ {
			want = append(want, fmt.Sprintf("第%d題", i))
		}
		if got := userMessages(req); !slices.Equal(got, want) {
			t.Errorf("request %d carries the user messages %v, want %v", k+1, got, want)
		}
	}
	msgs := chat.Messages()
	if len(msgs) != 10 || msgs[8].Content != "第5題" || msgs[9].Role != llm.Assistant {
		t.Errorf("history %+v", msgs)
	}

	// A Chat chains each turn onto the one before: no two share a previous response.
	c := New(chatOpts(srv, t.TempDir())...)
	srv.Handler().ResetRequests()
	var cps []*Pending
	for i := 1; i <= 4; i++ {
		cps = append(cps, c.Go(context.Background(), fmt.Sprintf("問題%d", i)))
	}
	for _, p := range cps {
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[any]bool{}
	for i, req := range requestsTo(srv, "/v1/responses") {
		prev := req["previous_response_id"]
		if (i == 0) != (prev == nil) || seen[prev] || req["input"] != fmt.Sprintf("問題%d", i+1) {
			t.Errorf("request %d: previous_response_id %v input %v", i+1, prev, req["input"])
		}
		seen[prev] = true
	}
	if c.Turns() != 4 {
		t.Errorf("turns %d", c.Turns())
	}
}

// Reply, Ask and Stream on one chat from several goroutines take turns too (the chat's lock is
// held for a whole turn): no two requests are built from the same history.
func TestConcurrentRepliesNeverShareAHistory(t *testing.T) {
	srv := newServer(t, openaitest.WithPace(time.Millisecond))
	chat := NewHistList(histOpts(srv, t.TempDir())...)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := chat.Reply(context.Background(), fmt.Sprintf("問%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, req := range requestsTo(srv, "/v1/responses") {
		n := len(userMessages(req))
		if seen[n] {
			t.Errorf("two requests carried %d user messages: built from the same history", n)
		}
		seen[n] = true
	}
	if len(seen) != 6 || len(chat.Messages()) != 12 {
		t.Errorf("%d distinct requests, %d messages", len(seen), len(chat.Messages()))
	}
}

// A turn cancelled mid-stream returns what arrived with the error, and a ChatWithHistList keeps
// it, marked as cut short, as an interrupted Ask does.
func TestGoCancelKeepsThePartialReplyMarked(t *testing.T) {
	srv := newServer(t, openaitest.WithPace(20*time.Millisecond))
	chat := NewHistList(histOpts(srv, t.TempDir())...)
	p := chat.Go(context.Background(), "請寫一篇很長的回答")
	waitForRequests(t, srv, 1)
	time.Sleep(400 * time.Millisecond) // the reply has begun; it streams for about 2 s
	p.Cancel()
	text, err := p.Wait()
	if !errors.Is(err, context.Canceled) || text == "" {
		t.Fatalf("Wait = %q, %v", text, err)
	}
	msgs := chat.Messages()
	if len(msgs) != 2 || !msgs[1].Partial || msgs[1].Content != text {
		t.Fatalf("history %+v, want the %d characters that arrived, marked", msgs, len([]rune(text)))
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done is not closed after Wait")
	}
	// A turn waiting behind another can be cancelled before it starts; the next still runs.
	srv2 := newServer(t, openaitest.WithPace(5*time.Millisecond))
	c2 := NewHistList(histOpts(srv2, t.TempDir())...)
	first := c2.Go(context.Background(), "一")
	ctx, cancel := context.WithCancel(context.Background())
	second := c2.Go(ctx, "二")
	third := c2.Go(context.Background(), "三")
	cancel()
	if _, err := second.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: %v", err)
	}
	first.Wait()
	if _, err := third.Wait(); err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, m := range c2.Messages() {
		if m.Role == llm.User {
			users = append(users, m.Content)
		}
	}
	if !slices.Equal(users, []string{"一", "三"}) {
		t.Errorf("user messages %v", users)
	}
}

// AskAll asks at the same time: the server sees the second question before it answers the
// first (it holds the first until then, and fails it if the second never comes).
func TestAskAllAsksAtOnceAndShowsInOrder(t *testing.T) {
	cells := recordCells(t)
	srv := newServer(t)
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			srv.Handler().ServeHTTP(w, r)
		case <-time.After(10 * time.Second):
			http.Error(w, "the other question never came", http.StatusGatewayTimeout)
		}
	}))
	t.Cleanup(front.Close)
	opts := func(name string) []HistOption {
		return []HistOption{WithBaseURL(front.URL + "/v1"), WithAPIKey(testKey), WithStateDir(t.TempDir()), WithName(name)}
	}
	tony, lucy := NewHistList(opts("Tony")...), NewHistList(opts("Lucy")...)
	var replies []string
	out := captureOutput(t, func() {
		replies = AskAll(Ask(tony, "自然数50的后面是几?"), Ask(lucy, "自然数100的后面是几?"), Ask(tony, "再往后是几?"))
	})
	if tony.Err() != nil || lucy.Err() != nil {
		t.Fatal(tony.Err(), lucy.Err())
	}
	cs := cells()
	if len(replies) != 3 || len(cs) != 3 {
		t.Fatalf("%d replies, %d cells", len(replies), len(cs))
	}
	for i, r := range replies {
		if r == "" || cs[i].String() != r || !cs[i].closed {
			t.Errorf("question %d: reply %q shown as %q", i+1, r, cs[i].String())
		}
	}
	if !strings.Contains(replies[0], "自然数50") || !strings.Contains(replies[1], "自然数100") || !strings.Contains(replies[2], "自然数50") {
		t.Errorf("replies %q", replies)
	}
	if m := tony.Messages(); len(m) != 4 || m[0].Content != "自然数50的后面是几?" || m[2].Content != "再往后是几?" {
		t.Errorf("Tony's history %+v", m)
	}
	// The labels, then the usage lines, in the order of the questions.
	if i, j, k := strings.Index(out, "▸ Tony"), strings.Index(out, "▸ Lucy"), strings.Index(out, "Lucy · tokens"); !(i >= 0 && i < j && j < k) ||
		strings.Count(out, "Tony · tokens") != 2 || strings.Index(out, "Tony · tokens") > k {
		t.Errorf("output:\n%s", out)
	}
}

// The stop button (SIGINT) stops every reply of AskAll: each chat keeps what arrived, marked,
// and the cell ends as an interrupted program.
func TestAskAllInterruptKeepsEveryPartialReply(t *testing.T) {
	if os.Getenv("GONBCHAT_HELPER_ASKALL") != "" {
		dir := os.Getenv("GONBCHAT_HELPER_DIR")
		url := os.Getenv("GONBCHAT_HELPER_ASKALL")
		chat := func(name string) *ChatWithHistList {
			return NewHistList(WithBaseURL(url), WithAPIKey(testKey), WithStateDir(dir), WithName(name)) // not quiet: the lines are checked
		}
		AskAll(Ask(chat("a"), "請寫一篇很長的回答"), Ask(chat("b"), "請再寫一篇很長的回答"))
		os.Exit(0)
	}
	srv := newServer(t, openaitest.WithPace(20*time.Millisecond))
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAskAllInterruptKeepsEveryPartialReply$")
	cmd.Env = append(os.Environ(), "GONBCHAT_HELPER_ASKALL="+srv.URL, "GONBCHAT_HELPER_DIR="+dir)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForRequests(t, srv, 2)
	time.Sleep(400 * time.Millisecond) // both replies have begun; they stream for about 2 s
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Fatalf("helper ended with %v, want stopped by SIGINT; output:\n%s", err, out)
	}
	for _, name := range []string{"a", "b"} {
		msgs := NewHistList(histOpts(srv, dir, WithName(name))...).Messages()
		if len(msgs) != 2 || !msgs[1].Partial || msgs[1].Content == "" {
			t.Errorf("chat %s after SIGINT: %+v\n%s", name, msgs, out)
		}
	}
	if strings.Count(out.String(), tr("en", msgInterrupted)) != 2 {
		t.Errorf("want one interrupted line per chat:\n%s", out)
	}
}

func TestAskAllZeroAndUncreatedChats(t *testing.T) {
	var zero ChatWithHistList
	out := captureOutput(t, func() {
		if r := AskAll(Ask(&zero, "x"), Ask(nil, "y")); len(r) != 2 || r[0] != "" || r[1] != "" {
			t.Errorf("replies %q", r)
		}
	})
	if strings.Count(out, "✖ this chat was not created") != 2 {
		t.Errorf("output:\n%s", out)
	}
	if _, err := zero.Go(context.Background(), "x").Wait(); err == nil {
		t.Error("Go on a zero chat succeeded")
	}
}
