//go:build !gonbchat_kernel

package chatcell_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/internal/proxytest"
	"github.com/gonbchat/gonbchat/openaitest"
)

// Where a user's configuration sends requests, and with which key. Each case runs in a child
// process configured as a user would be (keys in the environment, GONB_TMP_DIR as in a kernel,
// no base URL unless the case sets one), whose traffic goes through a recording HTTPS proxy
// that terminates TLS for any host and serves it with the offline server. So the requests to
// https://api.openai.com/v1 or https://api.groq.com/openai/v1 are seen as they are sent.

const (
	userOpenAIKey = "sk-proj-user0penaiKEY0123456789abcdefghijkl"
	userOwnKey    = "opaque-WithAPIKey-value-0123456789"
)

func providerKey(p chatcell.Provider) string { return "k3y-" + p.Name + "-0123456789abcdefghij" }

type routeCase struct {
	name string
	env  []string
	kind string // what the child does: chat, hist, hist-completions, create, create-ctx, events, chat-withkey
	opts string // provider name for the child, "" for none
	// want: the request's host, path and Authorization; host "" means no request at all.
	host, path, auth string
	// out must appear in the child's output (a notice or an error line).
	out string
}

func routeCases() []routeCase {
	openaiOnly := []string{"OPENAI_API_KEY=" + userOpenAIKey}
	var cases []routeCase
	for _, kind := range []string{"chat", "hist", "create", "create-ctx", "events"} {
		cases = append(cases, routeCase{name: "openai-key-only/" + kind, env: openaiOnly, kind: kind,
			host: "api.openai.com:443", path: "/v1/responses", auth: "Bearer " + userOpenAIKey})
	}
	cases = append(cases,
		routeCase{name: "openai-key-only/hist-completions", env: openaiOnly, kind: "hist-completions",
			host: "api.openai.com:443", path: "/v1/chat/completions", auth: "Bearer " + userOpenAIKey},
		routeCase{name: "WithAPIKey-only/chat", kind: "chat-withkey",
			host: "api.openai.com:443", path: "/v1/responses", auth: "Bearer " + userOwnKey},
		routeCase{name: "OPENAI_BASE_URL/chat", env: append(openaiOnly, "OPENAI_BASE_URL=https://llm.school.example/v1"), kind: "chat",
			host: "llm.school.example:443", path: "/v1/responses", auth: "Bearer " + userOpenAIKey},
		routeCase{name: "OPENAI_BASE_URL-http/hist", env: append(openaiOnly, "OPENAI_BASE_URL=http://llm.lab.example:8080/v1"), kind: "hist",
			host: "llm.lab.example:8080", path: "/v1/responses", auth: "Bearer " + userOpenAIKey},
		routeCase{name: "no-key/chat", kind: "chat", out: "OPENAI_API_KEY"},
		// A class on JupyterHub: the gateway holds the teacher's keys; the student's Hub token
		// names the student. It wins over a key of the student's own, not over an explicit option.
		routeCase{name: "gateway-on-hub/chat", kind: "chat",
			env:  append([]string{"GONBCHAT_GATEWAY_URL=https://hub.school.example/services/gonbchat/v1", "JUPYTERHUB_API_TOKEN=hubtoken0123456789abcdef"}, openaiOnly...),
			host: "hub.school.example:443", path: "/services/gonbchat/v1/responses", auth: "Bearer hubtoken0123456789abcdef"},
		routeCase{name: "gateway-token/hist", kind: "hist",
			env:  []string{"GONBCHAT_GATEWAY_URL=https://gw.school.example/v1", "GONBCHAT_GATEWAY_TOKEN=gnbt_issued0123456789abcdef", "JUPYTERHUB_API_TOKEN=hubtoken0123456789abcdef"},
			host: "gw.school.example:443", path: "/v1/responses", auth: "Bearer gnbt_issued0123456789abcdef"},
		routeCase{name: "gateway-but-WithAPIKey/chat", kind: "chat-withkey",
			env:  []string{"GONBCHAT_GATEWAY_URL=https://gw.school.example/v1", "JUPYTERHUB_API_TOKEN=hubtoken0123456789abcdef"},
			host: "api.openai.com:443", path: "/v1/responses", auth: "Bearer " + userOwnKey},
	)
	for _, name := range []string{"groq", "gemini", "mistral", "together", "fireworks", "openai"} {
		p := chatcell.Providers[name]
		u, _ := url.Parse(p.BaseURL)
		base := strings.TrimSuffix(u.Path, "/")
		withKey := append([]string{p.KeyEnv + "=" + providerKey(p)}, openaiOnly...)
		if name == "openai" {
			withKey = openaiOnly
		}
		auth := "Bearer " + providerKey(p)
		if name == "openai" {
			auth = "Bearer " + userOpenAIKey
		}
		path := base + "/chat/completions"
		if !p.ChatOnly {
			path = base + "/responses"
		}
		for _, kind := range []string{"hist", "create"} {
			cases = append(cases, routeCase{name: name + "-with-its-key/" + kind, env: withKey, kind: kind, opts: name,
				host: u.Host + ":443", path: path, auth: auth})
		}
		if p.ChatOnly {
			cases = append(cases,
				// A preset whose key is missing never borrows OPENAI_API_KEY: offline, and it says which variable to set.
				routeCase{name: name + "-without-its-key/hist", env: openaiOnly, kind: "hist", opts: name, out: p.KeyEnv},
				// A Chat needs stored responses: refused before any request, with the fix.
				routeCase{name: name + "/chat", env: withKey, kind: "chat", opts: name, out: "NewHistList"})
		} else {
			cases = append(cases, routeCase{name: name + "-with-its-key/chat", env: withKey, kind: "chat", opts: name,
				host: u.Host + ":443", path: path, auth: auth})
		}
	}
	return cases
}

func TestRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per case")
	}
	srv := openaitest.NewHandler(openaitest.WithPace(0))
	proxy, err := proxytest.New(srv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Rewrite = proxytest.APIPath
	var clean []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_API_KEY") || strings.HasPrefix(k, "OPENAI_") || strings.HasPrefix(strings.ToUpper(k), "HTTP") ||
			strings.HasPrefix(k, "GONB") || strings.EqualFold(k, "NO_PROXY") || strings.HasPrefix(k, "SSL_CERT") {
			continue
		}
		clean = append(clean, kv)
	}
	for _, tc := range routeCases() {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Reset()
			cmd := exec.Command(os.Args[0], "-test.run", "^TestRoutingChild$", "-test.v")
			cmd.Dir = t.TempDir() // no .env here
			cmd.Env = append(append(append([]string(nil), clean...), proxy.Env()...), tc.env...)
			cmd.Env = append(cmd.Env, "GONB_TMP_DIR="+t.TempDir(), "GONBCHAT_ROUTE_KIND="+tc.kind, "GONBCHAT_ROUTE_PROVIDER="+tc.opts)
			out, _ := cmd.CombinedOutput()
			reqs := proxy.Requests()
			if tc.host == "" {
				if len(reqs) != 0 {
					t.Errorf("want no request, got %+v", reqs)
				}
			} else {
				if len(reqs) == 0 {
					t.Fatalf("no request reached the network; child output:\n%s", out)
				}
				for _, r := range reqs {
					if r.Host != tc.host || r.Authorization != tc.auth {
						t.Errorf("request to %s %s with %q; want %s with %q", r.Host, r.Path, redactForLog(r.Authorization), tc.host, redactForLog(tc.auth))
					}
				}
				if reqs[0].Path != tc.path {
					t.Errorf("path %s, want %s", reqs[0].Path, tc.path)
				}
				if !strings.Contains(string(out), `"source":"live"`) || strings.Contains(string(out), `"err":"`) && !strings.Contains(string(out), `"err":""`) {
					t.Errorf("the chat did not complete through the proxy:\n%s", out)
				}
			}
			if tc.out != "" && !strings.Contains(string(out), tc.out) {
				t.Errorf("output lacks %q:\n%s", tc.out, out)
			}
			for _, key := range []string{userOpenAIKey, userOwnKey, "hubtoken0123456789abcdef", "gnbt_issued0123456789abcdef"} {
				if strings.Contains(string(out), key) || strings.Contains(string(out), key[4:16]) {
					t.Errorf("the child's output shows a key:\n%s", out)
				}
			}
		})
	}
}

func redactForLog(auth string) string {
	if len(auth) > 16 {
		return auth[:16] + "…"
	}
	return auth
}

// TestRoutingChild is the user's program of one routing case.
func TestRoutingChild(t *testing.T) {
	kind := os.Getenv("GONBCHAT_ROUTE_KIND")
	if kind == "" {
		t.Skip("child of TestRouting")
	}
	_ = completions.Backend{} // linked, as a notebook that imports it would
	var conn []chatcell.ConnOption
	if p := os.Getenv("GONBCHAT_ROUTE_PROVIDER"); p != "" {
		conn = append(conn, chatcell.WithProvider(p))
	}
	ctx := context.Background()
	var err error
	var source chatcell.Source
	switch kind {
	case "chat", "chat-withkey":
		opts := []chatcell.ChatOption{}
		for _, o := range conn {
			opts = append(opts, o)
		}
		if kind == "chat-withkey" {
			opts = append(opts, chatcell.WithAPIKey(userOwnKey))
		}
		c := chatcell.New(opts...)
		_, err = c.Reply(ctx, "你好")
		source = c.Source()
	case "hist", "hist-completions":
		opts := []chatcell.HistOption{}
		for _, o := range conn {
			opts = append(opts, o)
		}
		if kind == "hist-completions" {
			opts = append(opts, chatcell.WithBackend(completions.Backend{}))
		}
		c := chatcell.NewHistList(opts...)
		_, err = c.Reply(ctx, "你好")
		source = c.Source()
	case "create", "create-ctx", "events":
		opts := []chatcell.CreateOption{}
		for _, o := range conn {
			opts = append(opts, o)
		}
		switch kind {
		case "create":
			if r := chatcell.Create("你好", opts...); r.ID == "" {
				err = fmt.Errorf("no reply")
			}
		case "create-ctx":
			_, err = chatcell.CreateContext(ctx, "你好", opts...)
		case "events":
			err = chatcell.ShowEvents("你好", opts...)
		}
		source = "live"
		if err != nil {
			source = ""
		}
	}
	line := ""
	if err != nil {
		line = err.Error()
	}
	res, _ := json.Marshal(map[string]string{"source": string(source), "err": line})
	fmt.Printf("RESULT %s\n", res)
}

// The lines a user behind a proxy sees when the network is in the way: a proxy that refuses the
// CONNECT (as a school's filter, or the recording proxy of a checker, does) and a proxy that is
// down. Each is named as the proxy's doing, not Go's `Post "https://…": Forbidden` or "the
// connection was lost".
func TestProxyLines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per case")
	}
	refusing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer refusing.Close()
	go func() {
		for {
			c, err := refusing.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil && req.Method == http.MethodConnect {
					fmt.Fprint(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downAddr := down.Addr().String()
	down.Close()
	var clean []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_API_KEY") || strings.HasPrefix(k, "OPENAI_") || strings.HasPrefix(strings.ToUpper(k), "HTTP") ||
			strings.HasPrefix(k, "GONB") || strings.EqualFold(k, "NO_PROXY") {
			continue
		}
		clean = append(clean, kv)
	}
	for _, tc := range []struct{ name, proxy, want string }{
		{"refused", refusing.Addr().String(), "the proxy " + refusing.Addr().String() + " refused to connect to api.openai.com: «Forbidden» (check HTTPS_PROXY"},
		{"down", downAddr, "cannot reach the proxy " + downAddr + " (set by HTTPS_PROXY or HTTP_PROXY): connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestRoutingChild$", "-test.v")
			cmd.Dir = t.TempDir()
			cmd.Env = append(clean, "HTTPS_PROXY=http://"+tc.proxy, "OPENAI_API_KEY="+userOpenAIKey, "GONBCHAT_LANG=en",
				"GONB_TMP_DIR="+t.TempDir(), "GONBCHAT_ROUTE_KIND=hist")
			out, _ := cmd.CombinedOutput()
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the line lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(string(out), `Post \"https://`) {
				t.Errorf("the line shows Go's request:\n%s", out)
			}
		})
	}
}
