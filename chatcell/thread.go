package chatcell

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/display"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

func (c *Chat) service() responses.ResponseService {
	return responses.NewResponseService(c.conn().opts...)
}

// Thread returns the whole conversation that ends at the last response: every input item
// (all pages, oldest first) and the last reply.
func (c *Chat) Thread(ctx context.Context) ([]llm.Message, error) {
	c.ready()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.thread(ctx, c.st.LastID)
}

func (c *Chat) thread(ctx context.Context, id string) ([]llm.Message, error) {
	if id == "" {
		return nil, nil
	}
	svc := c.service()
	var msgs []llm.Message
	pager := svc.InputItems.ListAutoPaging(ctx, id, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc})
	for pager.Next() {
		if m, ok := itemMessage(pager.Current().RawJSON()); ok {
			msgs = append(msgs, m)
		}
	}
	if err := pager.Err(); err != nil {
		return nil, err
	}
	resp, err := svc.Get(ctx, id, responses.ResponseGetParams{})
	if err != nil {
		return nil, err
	}
	return append(msgs, llm.AssistantMsg(resp.OutputText())), nil
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
	c.ready()
	return c.do(func() error {
		msgs, err := c.thread(context.Background(), c.st.LastID)
		switch {
		case err != nil:
		case len(msgs) == 0:
			display.Info("the chat has no thread yet")
		default:
			display.Markdown(threadMarkdown(msgs))
		}
		return err
	})
}

// threadMarkdown lays out a conversation: the user's lines after ">>>", replies as they are.
func threadMarkdown(msgs []llm.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		switch m.Role {
		case "user":
			b.WriteString("**>>>** " + m.Content)
		case "system", "developer":
			b.WriteString("*(" + string(m.Role) + ")* " + m.Content)
		default:
			b.WriteString(m.Content)
		}
	}
	return b.String()
}

// DeleteThread deletes every stored response of the thread from the server, walking
// previous_response_id backwards from the last one, and starts the chat afresh.
func (c *Chat) DeleteThread() error {
	c.ready()
	return c.do(func() error {
		n, err := c.deleteThread(context.Background())
		if err == nil && !c.cfg.quiet {
			display.Info(fmt.Sprintf("deleted %d responses; the chat starts a new thread", n))
		}
		return err
	})
}

func (c *Chat) deleteThread(ctx context.Context) (int, error) {
	svc := c.service()
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
			return n, fmt.Errorf("deleted %d responses, then %s: %w", n, id, err)
		}
		n++
		id = resp.PreviousResponseID
	}
	c.st.LastID = ""
	return n, c.persist()
}

// Rollback undoes the last n turns: the next turn chains onto the response before them. It shows
// what was removed. The removed responses stay on the server (DeleteThread removes a thread).
func (c *Chat) Rollback(n int) error {
	c.ready()
	return c.do(func() error {
		removed, err := c.rollback(context.Background(), n)
		if err == nil && !c.cfg.quiet {
			display.Markdown("rolled back:\n\n" + threadMarkdown(removed))
		}
		return err
	})
}

func (c *Chat) rollback(ctx context.Context, n int) ([]llm.Message, error) {
	if n < 1 {
		return nil, fmt.Errorf("rollback needs n >= 1, got %d", n)
	}
	svc := c.service()
	id := c.st.LastID
	var removed []llm.Message
	for i := 0; i < n; i++ {
		if id == "" {
			return nil, fmt.Errorf("cannot roll back %d turns: the thread has only %d", n, i)
		}
		resp, err := svc.Get(ctx, id, responses.ResponseGetParams{})
		if err != nil {
			return nil, err
		}
		turn := []llm.Message{llm.AssistantMsg(resp.OutputText())}
		page, err := svc.InputItems.List(ctx, id, responses.InputItemListParams{Limit: param.NewOpt[int64](1)})
		if err == nil && len(page.Data) > 0 {
			if m, ok := itemMessage(page.Data[0].RawJSON()); ok {
				turn = append([]llm.Message{m}, turn...)
			}
		}
		removed = append(turn, removed...)
		id = resp.PreviousResponseID
	}
	c.st.LastID = id
	if c.st.Turns >= n {
		c.st.Turns -= n
	}
	return removed, c.persist()
}
