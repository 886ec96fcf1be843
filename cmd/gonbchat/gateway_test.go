package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/openaitest"
)

func runGateway(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = gatewayCmd(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

// The teacher's commands: tokens, policy, serve, report, as a teacher runs them.
func TestGatewayCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	t.Setenv("GONBCHAT_GATEWAY_DB", db)
	ctx := context.Background()

	code, out, _ := runGateway(t, ctx, "policy", "example")
	if code != 0 || !strings.Contains(out, "max_output_tokens") {
		t.Fatalf("policy example: %d", code)
	}
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(out), 0o644)
	if code, out, errOut := runGateway(t, ctx, "policy", "check", pol); code != 0 || !strings.Contains(out, "is valid") {
		t.Fatalf("policy check: %d %s %s", code, out, errOut)
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("max_output_tokns: 3\n"), 0o644)
	if code, _, errOut := runGateway(t, ctx, "policy", "check", filepath.Join(dir, "bad.yaml")); code != 1 || !strings.Contains(errOut, "line 1: field max_output_tokns not found") {
		t.Errorf("bad policy: %d %s", code, errOut)
	}

	code, out, _ = runGateway(t, ctx, "token", "add", "alice", "bob")
	if code != 0 {
		t.Fatalf("token add: %d", code)
	}
	toks := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		toks[f[0]] = f[1]
	}
	if !strings.HasPrefix(toks["alice"], "gnbt_") || !strings.HasPrefix(toks["bob"], "gnbt_") {
		t.Fatalf("tokens: %q", out)
	}
	if code, out, _ := runGateway(t, ctx, "token", "list"); code != 0 || !strings.Contains(out, "alice") || strings.Contains(out, "gnbt_") {
		t.Errorf("token list: %s", out)
	}
	if code, _, _ := runGateway(t, ctx, "token", "revoke", "bob"); code != 0 {
		t.Error("revoke")
	}
	if code, _, _ := runGateway(t, ctx, "token", "revoke", "bob"); code != 1 {
		t.Error("second revoke succeeded")
	}

	// serve in front of a local upstream, with the key from the environment
	up := openaitest.NewServer(openaitest.WithPace(0), openaitest.WithAPIKey("sk-class-key-0123456789abcdefXYZ"))
	defer up.Close()
	t.Setenv("GONBCHAT_UPSTREAM_KEYS", "sk-class-key-0123456789abcdefXYZ")
	t.Setenv("JUPYTERHUB_API_URL", "")
	t.Setenv("JUPYTERHUB_SERVICE_PREFIX", "")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan string)
	go func() {
		code, _, errOut := runGateway(t, sctx, "serve", "-listen", addr, "-policy", pol, "-upstream", up.URL)
		if code != 0 {
			errOut = "exit " + errOut
		}
		done <- errOut
	}()
	c := openai.NewClient(option.WithBaseURL("http://"+addr+"/v1"), option.WithAPIKey(toks["alice"]), option.WithMaxRetries(0))
	var err error
	for range 100 {
		_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "class", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the server is starting
	}
	if err != nil {
		t.Fatal(err)
	}
	bob := openai.NewClient(option.WithBaseURL("http://"+addr+"/v1"), option.WithAPIKey(toks["bob"]), option.WithMaxRetries(0))
	if _, err := bob.Responses.New(ctx, responses.ResponseNewParams{Model: "class", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}); err == nil {
		t.Error("a revoked token works")
	}
	stop()
	log := <-done
	if strings.HasPrefix(log, "exit") || !strings.Contains(log, "every request is in the ledger") {
		t.Errorf("serve: %s", log)
	}
	if strings.Contains(log, "0123456789abcdef") {
		t.Error("the key is in the log")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	code, out, _ = runGateway(t, ctx, "report", "-policy", pol)
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "Per day:") {
		t.Errorf("report:\n%s", out)
	}
	t.Logf("report:\n%s", out)

	if code, _, errOut := runGateway(t, ctx, "nonsense"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Error("unknown command")
	}
	if code, _, errOut := runGateway(t, ctx, "serve", "-policy", filepath.Join(dir, "none.yaml")); code != 1 || !strings.Contains(errOut, "policy example >") {
		t.Errorf("missing policy: %s", errOut)
	}
}
