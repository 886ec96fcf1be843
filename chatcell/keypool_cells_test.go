//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/gonbchat/gonbchat/openaitest"
)

// A key pool as a lesson declares it (keypool.New(keys), no state directory), shared by a Chat
// and a ChatWithHistList on Chat Completions, re-declared in every GoNB cell: the keys are used
// in turn across the chats and the cells, a 429 and a 401 fail over within the request, and the
// later cells send nothing to the cooled or rejected key. No key reaches a file or a reply.
func TestKeyPoolAcrossChatsAndCells(t *testing.T) {
	kernel := t.TempDir()
	t.Setenv("GONB_TMP_DIR", kernel)
	keys := []string{
		"sk-cells-aaaaaaaaaaaaaaaaaaaaaa01",
		"sk-cells-bbbbbbbbbbbbbbbbbbbbbb02",
		"sk-cells-cccccccccccccccccccccc03",
	}
	srv := openaitest.NewServer(openaitest.WithAPIKeys(keys...), openaitest.WithPace(0))
	defer srv.Close()
	fp := func(i int) string { return secret.Fingerprint(keys[i]) }
	seen := 0
	sent := func() []string { // the keys of the requests since the last call, by fingerprint
		var out []string
		reqs := srv.Handler().Requests()
		for _, r := range reqs[seen:] {
			for i, k := range keys {
				if r.Key == k {
					out = append(out, fp(i))
				}
			}
		}
		seen = len(reqs)
		return out
	}
	var texts []string
	cell := func(name string) {
		t.Helper()
		pool, err := keypool.New(keys) // what a cell's top-level declaration does
		if err != nil {
			t.Fatal(err)
		}
		base := chatcell.WithBaseURL(srv.URL)
		chat := chatcell.New(chatcell.WithName("a"), chatcell.WithKeyPool(pool), base)
		hist := chatcell.NewHistList(chatcell.WithName("b"), chatcell.WithKeyPool(pool), base,
			chatcell.WithBackend(completions.Backend{}))
		ctx := context.Background()
		for _, c := range []interface {
			Reply(context.Context, string, ...chatcell.CallOption) (string, error)
		}{chat, hist} {
			text, err := c.Reply(ctx, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			texts = append(texts, text)
		}
	}
	check := func(name string, want ...string) {
		t.Helper()
		if got := sent(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: keys sent %v, want %v", name, got, want)
		}
	}
	cell("cell 1")
	check("cell 1", fp(0), fp(1))
	cell("cell 2")
	check("cell 2", fp(2), fp(0))

	srv.Handler().InjectFault(openaitest.Fault{Key: keys[1], Status: 429, RetryAfter: time.Minute})
	srv.Handler().InjectFault(openaitest.Fault{Key: keys[2], Status: 401})
	cell("cell 3") // the Chat: 429 on keys[1], 401 on keys[2], then keys[0]; the list: keys[0]
	check("cell 3", fp(1), fp(2), fp(0), fp(0))
	cell("cell 4")
	check("cell 4", fp(0), fp(0))

	st, _ := keypool.New(keys)
	if s := st.Status(); s[0].Uses != 6 || s[1].State != keypool.Cooling || s[2].State != keypool.Disabled {
		t.Errorf("the pool in a new cell: %+v", s)
	}
	filepath.WalkDir(kernel, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		for _, k := range keys {
			if strings.Contains(string(data), k) {
				t.Errorf("%s holds a key", path)
			}
		}
		return nil
	})
	for _, s := range texts {
		for _, k := range keys {
			if strings.Contains(s, k) {
				t.Errorf("a reply holds a key: %s", s)
			}
		}
	}
}
