//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/llm"
)

// Chat is a conversation on the Responses API whose history the server keeps: each turn chains
// onto the previous one with previous_response_id (textbook chapter 3, sections 3-1 to 3-4).
//
// Create it with New at the top level of a cell (var chat = chatcell.New()), so that GoNB
// re-creates it in every later cell; it picks up where it was. A Chat is safe for concurrent
// use: two turns at the same time take turns.
//
// The zero value is not a chat: its verbs send nothing and report an error saying to declare it
// with New (a chat needs its name, connection and state, which only New sets up).
type Chat struct {
	core
	st chatState
}

type chatState struct {
	Version int    `json:"version"`
	LastID  string `json:"last_id"`
	Seed    string `json:"seed,omitempty"`
	Tally   tally  `json:"tally"`
	// The chat's own copy of its thread (the questions and replies that end at ThreadEnd), so
	// that a thread the server no longer has (expired, deleted, another server) can be sent
	// again instead of failing. LastStored is false when the last turn was sent with
	// store=false: the server never had it, and the error is the truth.
	Thread     []llm.Message `json:"thread,omitempty"`
	ThreadEnd  string        `json:"thread_end,omitempty"`
	LastStored bool          `json:"last_stored,omitempty"`
	// Unstored is true when the server did not store the last response although the chat did
	// not ask for store=false (a class gateway's policy can force it): the next turn sends the
	// thread from the chat's own copy instead of chaining onto an id the server does not have.
	Unstored bool `json:"unstored,omitempty"`
}

// New returns the chat named by WithName (default DefaultName). Inside a GoNB kernel it continues
// the chat of that name if an earlier cell started it. A Chat talks to the Responses API, so a
// provider that has only Chat Completions is an error here (use NewHistList).
func New(opts ...ChatOption) *Chat {
	cfg := defaults()
	for _, o := range opts {
		o.forNew(cfg)
	}
	c := &Chat{}
	c.start(cfg, c, func(cfg *config) error {
		if p := cfg.provider; p != nil {
			if !cfg.modelSet {
				cfg.model = p.Model
			}
			if p.ChatOnly {
				return fmt.Errorf("%s", tr(cfg.lang, msgChatOnlyProvider, p.Name))
			}
		}
		return nil
	})
	cfg.backend = ResponsesBackend{}
	if cfg.err() != nil {
		return c
	}
	found, err := loadState(c.path(), &c.st)
	if err != nil {
		c.notify(err)
	}
	if !found {
		c.st = chatState{Version: 1, LastID: cfg.seed, Seed: cfg.seed}
		if cfg.seed != "" {
			c.persist()
		}
	}
	c.tally = c.st.Tally
	return c
}

// notify shows a problem found while creating the chat that does not stop it.
func (c *core) notify(err error) {
	if !c.cfg.quiet {
		c.report(c.cfg, err)
	}
}

func (c *Chat) path() string { return stateFile(c.cfg, "chats") }

func (c *Chat) persist() error {
	c.st.Tally = c.tally
	if err := saveState(c.path(), &c.st); err != nil {
		return fmt.Errorf("%s: %w", tr(c.cfg.lang, msgSavingState), err)
	}
	return nil
}

// LastID returns the id of the last response, "" before the first turn.
func (c *Chat) LastID() string {
	if c.ready() != nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.LastID
}

// SetLastID moves the chat onto another thread: the next turn chains onto id ("" starts afresh).
func (c *Chat) SetLastID(id string) error {
	return c.do(func(*config) error {
		c.st.LastID = strings.TrimSpace(id)
		return c.persist()
	})
}

func (c *Chat) reset() error {
	c.st.LastID = ""
	return c.persist()
}

func (c *Chat) request(cfg *config, msg string) *Request {
	req := &Request{Model: cfg.model, Instructions: cfg.instructionsFor(false), Input: []llm.Message{llm.UserMsg(msg)},
		PreviousResponseID: c.st.LastID, Store: cfg.store, Params: cfg.params}
	if c.st.Unstored && c.st.LastID != "" && c.st.ThreadEnd == c.st.LastID && len(c.st.Thread) > 0 {
		req.PreviousResponseID = ""
		req.Input = append(append([]llm.Message(nil), c.st.Thread...), llm.UserMsg(msg))
	}
	return req
}

// serverStored reports whether the Responses API's response object in raw says it was stored
// (its "store" field; true when raw does not say).
func serverStored(raw string) bool {
	var r struct {
		Store *bool `json:"store"`
	}
	if json.Unmarshal([]byte(raw), &r) != nil || r.Store == nil {
		return true
	}
	return *r.Store
}

// commit records a finished turn. It is the only place a turn changes the chat; a failed or
// cut-short turn changes nothing (the server did not finish a response to chain onto).
func (c *Chat) commit(_ context.Context, cfg *config, msg string, rep *Reply, partial string, err error) error {
	if err != nil {
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.Code == "previous_response_not_found" || apiErr.Param == "previous_response_id"):
			return wrap(cfg.lang, err, tr(cfg.lang, msgHintThreadGone))
		case partial != "":
			return wrap(cfg.lang, err, tr(cfg.lang, msgHintChatCut))
		}
		return wrap(cfg.lang, err, refusalHint(cfg, c.conn(), err))
	}
	if c.st.ThreadEnd != c.st.LastID {
		c.st.Thread = nil // the chat moved to a thread it has no copy of
	}
	c.st.Thread = append(c.st.Thread, llm.UserMsg(msg), llm.AssistantMsg(rep.Text))
	c.st.LastID, c.st.ThreadEnd = rep.ID, rep.ID
	c.st.LastStored = cfg.store == nil || *cfg.store
	c.st.Unstored = c.st.LastStored && !serverStored(rep.Raw)
	c.tally.add(rep, true)
	return c.persist()
}

// again sends the thread again from the chat's own copy when the server no longer has the
// response it would chain onto (it expired, was deleted, or this is another server). A thread
// whose last turn was sent with store=false was never stored: that error stands.
func (c *Chat) again(cfg *config, msg string, err error) (*Request, string) {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "previous_response_not_found" ||
		len(c.st.Thread) == 0 || c.st.ThreadEnd != c.st.LastID || !c.st.LastStored {
		return nil, ""
	}
	req := c.request(cfg, msg)
	req.PreviousResponseID = ""
	req.Input = append(append([]llm.Message(nil), c.st.Thread...), llm.UserMsg(msg))
	return req, tr(cfg.lang, msgReseeded, c.st.LastID, len(c.st.Thread)/2)
}

func (c *Chat) notices(*config) {}

// save writes the last response id to filename, so another chat (or another kernel, on a real
// server) can Load it.
func (c *Chat) save(filename string) error {
	if c.st.LastID == "" {
		return fmt.Errorf("%s", tr(c.cfg.lang, msgNothingToSave, fsutil.Name(filename)))
	}
	return fsutil.WriteFileAtomic(filename, []byte(c.st.LastID+"\n"), 0o644)
}

// maxIDFile bounds what Load reads: a file of response ids is one short line.
const maxIDFile = 4 << 10

func (c *Chat) load(filename string) error {
	data, err := fsutil.ReadFile(filename, maxIDFile)
	var le *fsutil.LimitError
	switch {
	case errors.Is(err, fsutil.ErrNotRegular), errors.As(err, &le):
		return fmt.Errorf("%w (%s)", err, tr(c.cfg.lang, msgIDFileHint))
	case err != nil:
		return err
	}
	id := strings.TrimSpace(string(data))
	switch {
	case id == "":
		return fmt.Errorf("%s", tr(c.cfg.lang, msgIDFileEmpty, fsutil.Name(filename)))
	case len(id) > 200 || strings.ContainsAny(id, " \t\r\n\x00"):
		return fmt.Errorf("%s", tr(c.cfg.lang, msgIDFileBad, fsutil.Name(filename)))
	}
	c.st.LastID = id
	return c.persist()
}

// refusalHint says what to check when a live server refused a request: the key it refused (or
// the class gateway's token), or, for a 404 from a server of one's own, whether it has the
// Responses API at all (many OpenAI-compatible servers have only Chat Completions).
func refusalHint(cfg *config, cn *conn, err error) string {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || cn.source != Live {
		return ""
	}
	switch apiErr.StatusCode {
	case 401:
		switch {
		case cn.gatewayToken != "":
			return tr(cfg.lang, msgHintGatewayToken, cn.gatewayToken)
		case cfg.apiKey != "":
			return tr(cfg.lang, msgHintKeyOption)
		case cfg.provider != nil:
			return tr(cfg.lang, msgHintKeyEnv, cfg.provider.KeyEnv)
		}
		return tr(cfg.lang, msgHintKeyEnv, "OPENAI_API_KEY")
	case 404:
		if cn.baseURL != OpenAIBaseURL && cn.provider == "" && isResponses(cfg.backend) &&
			apiErr.Code != "model_not_found" && !strings.Contains(strings.ToLower(apiErr.Message), "model") {
			return tr(cfg.lang, msgHintNoResponses)
		}
	}
	return ""
}
