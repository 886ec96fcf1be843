//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/llm"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

func service(cn *conn) *responses.ResponseService {
	s := responses.NewResponseService(cn.opts...)
	return &s
}

// Thread returns the whole conversation that ends at the last response: every input item
// (all pages, oldest first) and the last reply.
func (c *Chat) Thread(ctx context.Context) ([]llm.Message, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.cfg.err(); err != nil {
		return nil, err
	}
	msgs, err := threadOf(ctx, c.conn(), c.st.LastID)
	return msgs, wrap(c.cfg.lang, err)
}

// threadOf returns the input items of response id, oldest first, and its reply.
func threadOf(ctx context.Context, cn *conn, id string) ([]llm.Message, error) {
	if id == "" {
		return nil, nil
	}
	msgs, err := inputItems(ctx, cn, id)
	if err != nil {
		return nil, err
	}
	resp, err := service(cn).Get(ctx, id, responses.ResponseGetParams{})
	if err != nil {
		return nil, err
	}
	return append(msgs, llm.AssistantMsg(resp.OutputText())), nil
}

// inputItems lists every input item of response id, oldest first. It asks for the API's default
// order (newest first), which every compatible server gives, and reverses it, so that a server
// that ignores "order" cannot scramble the thread.
func inputItems(ctx context.Context, cn *conn, id string) ([]llm.Message, error) {
	var msgs []llm.Message
	pager := service(cn).InputItems.ListAutoPaging(ctx, id, responses.InputItemListParams{Order: responses.InputItemListParamsOrderDesc})
	for pager.Next() {
		if m, ok := itemMessage(pager.Current().RawJSON()); ok {
			msgs = append(msgs, m)
		}
	}
	if err := pager.Err(); err != nil {
		return nil, err
	}
	slices.Reverse(msgs)
	return msgs, nil
}

// itemMessage reads a message item of the Responses API (content as a string or as parts).
func itemMessage(raw string) (llm.Message, bool) {
	var item struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal([]byte(raw), &item) != nil || (item.Type != "message" && item.Type != "") || item.Role == "" {
		return llm.Message{}, false
	}
	var s string
	if json.Unmarshal(item.Content, &s) == nil {
		return llm.Message{Role: llm.Role(item.Role), Content: s}, true
	}
	var parts []struct {
		Text    string `json:"text"`
		Refusal string `json:"refusal"`
	}
	json.Unmarshal(item.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text + p.Refusal)
	}
	return llm.Message{Role: llm.Role(item.Role), Content: b.String()}, true
}

// ShowThread shows the whole thread in the cell, as the textbook's show_thread prints it.
func (c *Chat) ShowThread() error {
	return c.do(func(cfg *config) error {
		msgs, err := threadOf(context.Background(), c.conn(), c.st.LastID)
		switch {
		case err != nil:
		case len(msgs) == 0:
			display.Info(tr(cfg.lang, msgNoThread))
		default:
			showConversation(cfg.lang, "", msgs, false)
		}
		return err
	})
}

// DeleteThread deletes every stored response of the thread from the server, walking
// previous_response_id backwards from the last one, and starts the chat afresh.
func (c *Chat) DeleteThread() error {
	return c.do(func(cfg *config) error {
		n, err := c.deleteThread(context.Background())
		if err == nil && !cfg.quiet {
			display.Info(tr(cfg.lang, msgDeleted, n))
		}
		return err
	})
}

func (c *Chat) deleteThread(ctx context.Context) (int, error) {
	svc := service(c.conn())
	n := 0
	for id := c.st.LastID; id != ""; {
		resp, err := svc.Get(ctx, id, responses.ResponseGetParams{})
		if err == nil {
			err = svc.Delete(ctx, id)
		}
		if err != nil {
			// Keep what is left reachable: the chat now ends where deletion stopped.
			c.st.LastID = id
			c.persist()
			return n, wrap(c.cfg.lang, err, tr(c.cfg.lang, msgDeletedThen, n, id))
		}
		n++
		id = resp.PreviousResponseID
	}
	c.st.LastID = ""
	return n, c.persist()
}

// rollback moves the chat's end back n responses along previous_response_id.
func (c *Chat) rollback(ctx context.Context, n int) ([]llm.Message, error) {
	svc := service(c.conn())
	id := c.st.LastID
	var removed []llm.Message
	for i := 0; i < n; i++ {
		if id == "" {
			return nil, fmt.Errorf("%s", tr(c.cfg.lang, msgRollbackTooFar, n, i))
		}
		resp, err := svc.Get(ctx, id, responses.ResponseGetParams{})
		if err != nil {
			return nil, err
		}
		turn := []llm.Message{llm.AssistantMsg(resp.OutputText())}
		page, err := svc.InputItems.List(ctx, id, responses.InputItemListParams{Limit: param.NewOpt[int64](1), Order: responses.InputItemListParamsOrderDesc})
		if err == nil && len(page.Data) > 0 {
			if m, ok := itemMessage(page.Data[0].RawJSON()); ok {
				turn = append([]llm.Message{m}, turn...)
			}
		}
		removed = append(turn, removed...)
		id = resp.PreviousResponseID
	}
	c.st.LastID = id
	if k := len(c.st.Thread) - 2*n; k >= 0 && c.st.ThreadEnd != "" {
		c.st.Thread, c.st.ThreadEnd = c.st.Thread[:k], id
	} else {
		c.st.Thread, c.st.ThreadEnd = nil, ""
	}
	c.tally.Turns = max(c.tally.Turns-n, 0)
	return removed, c.persist()
}

// Retrieve fetches a stored response by id and shows its reply, as the textbook's
// client.responses.retrieve(id) prints it; it returns the Reply (zero on error, shown as one
// line). RetrieveContext is the Go API.
func Retrieve(id string, opts ...CreateOption) Reply {
	cfg, cn := createConfig(opts)
	rep, err := RetrieveContext(context.Background(), id, opts...)
	if err != nil {
		showErr(cfg, err)
		return Reply{}
	}
	display.Markdown(rep.Text)
	if !cfg.quiet {
		display.Info(usageLine(cfg, cn, &rep, tally{}))
	}
	return rep
}

// RetrieveContext fetches a stored response by id.
func RetrieveContext(ctx context.Context, id string, opts ...CreateOption) (Reply, error) {
	cfg, cn := createConfig(opts)
	if err := cfg.err(); err != nil {
		return Reply{}, wrap(cfg.lang, err)
	}
	if strings.TrimSpace(id) == "" {
		return Reply{}, wrap(cfg.lang, emptyID(cfg.lang, "Retrieve"))
	}
	r, err := service(cn).Get(ctx, strings.TrimSpace(id), responses.ResponseGetParams{})
	if err != nil {
		return Reply{}, wrap(cfg.lang, err)
	}
	return Reply{ID: r.ID, PreviousResponseID: r.PreviousResponseID, Model: r.Model, Text: r.OutputText(),
		Usage: llm.Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens, TotalTokens: r.Usage.TotalTokens},
		Raw:   r.RawJSON()}, nil
}

// InputItems lists the input items of a stored response (oldest first) and shows them, as the
// textbook's client.responses.input_items.list(id) does; InputItemsContext is the Go API.
func InputItems(id string, opts ...CreateOption) []llm.Message {
	cfg, _ := createConfig(opts)
	msgs, err := InputItemsContext(context.Background(), id, opts...)
	if err != nil {
		showErr(cfg, err)
		return nil
	}
	showConversation(cfg.lang, "", msgs, false)
	return msgs
}

// InputItemsContext lists the input items of a stored response, oldest first.
func InputItemsContext(ctx context.Context, id string, opts ...CreateOption) ([]llm.Message, error) {
	cfg, cn := createConfig(opts)
	if err := cfg.err(); err != nil {
		return nil, wrap(cfg.lang, err)
	}
	if strings.TrimSpace(id) == "" {
		return nil, wrap(cfg.lang, emptyID(cfg.lang, "InputItems"))
	}
	msgs, err := inputItems(ctx, cn, strings.TrimSpace(id))
	return msgs, wrap(cfg.lang, err)
}

// emptyID is the error of a call given no response id (the SDK's own is "missing required
// response_id parameter").
func emptyID(lang, call string) error {
	return fmt.Errorf("%s", tr(lang, msgEmptyID, call))
}
