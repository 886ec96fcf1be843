package notebooks_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gonbchat/gonbchat/openaitest"
)

// TestNotebookOnAnotherServer runs the chapter 3 lesson with OPENAI_BASE_URL and OPENAI_API_KEY
// pointing at an OpenAI-compatible server on a real port, as a student with a key (or another
// provider) would: the same cells must talk to that server, send what the lesson says they send
// (instructions, store, previous_response_id), and never show the key.
func TestNotebookOnAnotherServer(t *testing.T) {
	requireKernel(t)
	const key = "sk-e2e-abcdefghijklmnopqrstuvwxyz0123"
	srv := openaitest.NewServer(openaitest.WithAPIKey(key), openaitest.WithPace(20*time.Millisecond))
	defer srv.Close()
	const nb = "ch3-responses.ipynb"
	r := runNotebook(t, nb, mustAbs(t, "."), "OPENAI_BASE_URL="+srv.URL, "OPENAI_API_KEY="+key)
	checkRun(t, nb, r)

	raw, err := os.ReadFile(nb) // the lesson itself must not hold the key either
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range r.Cells {
		for _, m := range c.Messages {
			b, _ := json.Marshal(m.Content)
			s := string(b)
			if strings.Contains(s, key) || strings.Contains(s, "abcdefghijklmnopqrstuvwxyz") {
				t.Errorf("cell %d shows the API key: %.200s", i, s)
			}
			if strings.Contains(s, "Offline: no OPENAI_API_KEY") {
				t.Errorf("cell %d says it is offline although a key and a server were given", i)
			}
		}
	}
	if strings.Contains(string(raw), key) {
		t.Error("the notebook file contains the key")
	}

	var creates, instructed, unstored, chained, itemLists, deletes int
	ids := map[string]bool{}
	for _, req := range srv.Handler().Requests() {
		switch {
		case req.Method == "POST" && req.Path == "/v1/responses":
			creates++
			body := req.JSON()
			if body["instructions"] == "使用繁體中文" {
				instructed++
			}
			if body["store"] == false {
				unstored++
			}
			if prev, _ := body["previous_response_id"].(string); strings.HasPrefix(prev, "resp_") {
				chained++
				ids[prev] = true
			}
		case req.Method == "GET" && strings.HasSuffix(req.Path, "/input_items"):
			itemLists++
		case req.Method == "DELETE":
			deletes++
		}
	}
	t.Logf("server saw %d creates: %d with the lesson's instructions, %d store=false, %d chained onto %d ids; %d input_items lists, %d deletes",
		creates, instructed, unstored, chained, len(ids), itemLists, deletes)
	if creates < 15 || instructed < creates/2 || unstored < 4 || chained < 6 || itemLists < 2 || deletes != 5 {
		t.Errorf("the lesson's requests did not all reach the server as sent")
	}
}
