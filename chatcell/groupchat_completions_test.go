//go:build !gonbchat_kernel

package chatcell_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/openaitest"
)

// On Chat Completions the group chat asks in response_format: a strict json_schema, then JSON
// mode when a provider refuses it (as Groq or an older model does), with the roles in a leading
// system message.
func TestGroupChatOnChatCompletions(t *testing.T) {
	srv := openaitest.NewServer(openaitest.WithPace(0))
	t.Cleanup(srv.Close)
	var refuse atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if refuse.Load() && strings.Contains(string(body), `"type":"json_schema"`) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"message":"response_format`+"`"+`json_schema`+"`"+` is not supported by this model","type":"invalid_request_error","param":"response_format","code":null}}`)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	g := chatcell.NewGroupChat(chatcell.WithBaseURL(front.URL+"/v1"), chatcell.WithAPIKey("sk-test-1234567890"),
		chatcell.WithStateDir(t.TempDir()), chatcell.WithQuiet(), chatcell.WithBackend(completions.Backend{}),
		chatcell.WithSystem("场景：中秋夜，三人在西湖边赏月。"))
	g.SetRole("苏轼", "宋朝诗人")
	g.SetRole("李清照", "宋代词人")
	remarks, err := g.Reply(context.Background(), chatcell.Says("李清照", "苏轼"), chatcell.Says("苏轼"))
	if err != nil {
		t.Fatal(err)
	}
	if len(remarks) != 2 || remarks[0].Speaker != "李清照" || remarks[1].Speaker != "苏轼" || remarks[1].Audiences[0] != "李清照" {
		t.Fatalf("remarks %+v", remarks)
	}
	reqs := srv.Handler().Requests()
	var req map[string]any
	json.Unmarshal(reqs[len(reqs)-1].Body, &req)
	rf, _ := req["response_format"].(map[string]any)
	js, _ := rf["json_schema"].(map[string]any)
	if rf["type"] != "json_schema" || js["strict"] != true || js["name"] != "group_remarks" {
		t.Fatalf("response_format %v", rf)
	}
	speaker := js["schema"].(map[string]any)["properties"].(map[string]any)["remark_1"].(map[string]any)["properties"].(map[string]any)["speaker"]
	if !reflect.DeepEqual(speaker, map[string]any{"type": "string", "enum": []any{"李清照"}}) {
		t.Errorf("remark_1 speaker %v", speaker)
	}
	msgs, _ := req["messages"].([]any)
	system, _ := msgs[0].(map[string]any)["content"].(string)
	if !strings.Contains(system, "苏轼: 宋朝诗人") || !strings.Contains(system, "场景：中秋夜") {
		t.Errorf("system message %q", system)
	}

	refuse.Store(true)
	srv.Handler().ResetRequests()
	srv.Handler().Script(`{"remark_1":{"speaker":"苏轼","audiences":["李清照"],"remark":"明月几时有"}}`)
	remarks, err = g.Reply(context.Background(), chatcell.Says("苏轼", "李清照"))
	if err != nil || len(remarks) != 1 || remarks[0].Remark != "明月几时有" {
		t.Fatalf("after the refusal: %+v %v", remarks, err)
	}
	reqs = srv.Handler().Requests()
	req = nil
	json.Unmarshal(reqs[0].Body, &req)
	if len(reqs) != 1 || !reflect.DeepEqual(req["response_format"], map[string]any{"type": "json_object"}) {
		t.Errorf("%d requests reached the server, response_format %v", len(reqs), req["response_format"])
	}
}
