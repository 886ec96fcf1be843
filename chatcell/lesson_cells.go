//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/llm"
)

// What the lesson notebooks need besides the chats, to follow the textbooks cell by cell: a
// reply kept from one cell to the next (GoNB runs every cell as a new program), deleting one
// stored response, and appending messages to a history as they are.

// keptState is the file Keep writes for one reply.
type keptState struct {
	Version int   `json:"version"`
	Reply   Reply `json:"reply"`
}

var keptInMemory = struct {
	sync.Mutex
	m map[string]Reply
}{m: map[string]Reply{}}

// keptFile is where Keep keeps the reply named name, or "" to keep it in memory.
func keptFile(name string) string {
	dir := defaults().stateDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "kept", stateName(name)+".json")
}

// Keep keeps r under name for the rest of the kernel's life and returns it. GoNB runs every
// cell as a new program, so a reply held in a variable is gone in the next cell; Kept(name)
// gives it back there, as the textbook's response, response1 and response2 stay in Python
// variables from cell to cell. Keeping another reply under the same name replaces it (as
// assigning the variable again does). Outside GoNB it is kept in the program's memory. Names
// are those of WithName. A name that is not valid, or a state file that cannot be written, is
// shown as one line; Keep returns r all the same.
func Keep(name string, r Reply) Reply {
	lang := envLanguage()
	if err := keep(name, r); err != nil {
		display.Error(wrap(lang, err).Error())
	}
	return r
}

func keep(name string, r Reply) error {
	if err := validName(name); err != nil {
		return err
	}
	path := keptFile(name)
	if path == "" {
		keptInMemory.Lock()
		keptInMemory.m[name] = r
		keptInMemory.Unlock()
		return nil
	}
	return saveState(path, &keptState{Version: 1, Reply: r})
}

// Kept returns the reply kept under name by Keep. When nothing is kept under that name (the
// cell that keeps it has not run in this kernel yet) it shows one line saying so and returns
// the zero Reply.
func Kept(name string) Reply {
	lang := envLanguage()
	r, found, err := kept(name)
	switch {
	case err != nil:
		display.Error(wrap(lang, err).Error())
	case !found:
		display.Error(fmt.Sprintf(keptMissing[keptLang(lang)], name))
	}
	return r
}

func kept(name string) (Reply, bool, error) {
	if err := validName(name); err != nil {
		return Reply{}, false, err
	}
	path := keptFile(name)
	if path == "" {
		keptInMemory.Lock()
		defer keptInMemory.Unlock()
		r, ok := keptInMemory.m[name]
		return r, ok, nil
	}
	var st keptState
	found, err := loadState(path, &st)
	if err != nil || !found {
		return Reply{}, false, err
	}
	return st.Reply, true, nil
}

func (s *keptState) check() error {
	if s.Version != 1 {
		return fmt.Errorf("kept reply of version %d, want 1", s.Version)
	}
	return nil
}

var keptMissing = map[string]string{
	"en":    "no reply is kept under %q yet: run the cell that keeps it (chatcell.Keep) first",
	"zh-TW": "還沒有以 %q 保留的回覆：請先執行保留它的儲存格（chatcell.Keep）",
	"zh-CN": "还没有以 %q 保留的回复：请先运行保留它的单元格（chatcell.Keep）",
}

func keptLang(lang string) string {
	if _, ok := keptMissing[lang]; ok {
		return lang
	}
	return "en"
}

// Delete deletes one stored response from the server, as the textbook's
// client.responses.delete(id) does (DeleteThread deletes a chat's whole thread). An error is
// shown as one line and returned. DeleteContext is the Go API.
func Delete(id string, opts ...CreateOption) error {
	cfg, _ := createConfig(opts)
	err := DeleteContext(context.Background(), id, opts...)
	showErr(cfg, err)
	return err
}

// DeleteContext deletes one stored response from the server.
func DeleteContext(ctx context.Context, id string, opts ...CreateOption) error {
	cfg, cn := createConfig(opts)
	if err := cfg.err(); err != nil {
		return wrap(cfg.lang, err)
	}
	if strings.TrimSpace(id) == "" {
		return wrap(cfg.lang, emptyID(cfg.lang, "Delete"))
	}
	return wrap(cfg.lang, service(cn).Delete(ctx, strings.TrimSpace(id)))
}

// Append adds messages to the end of the history as they are, as the lessons'
// messages.append(...) does: a reply the model returned (Reply.Message()), or a message of
// your own. Unlike AddDialogs it does not mark them forged. It adds nothing if a message is
// invalid, and then shows why.
func (c *ChatWithHistList) Append(msgs ...llm.Message) error {
	return c.do(func(*config) error {
		if err := c.hist.Append(msgs...); err != nil {
			return err
		}
		return c.persist()
	})
}
