package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/openaitest"
)

// TestJupyterHubClass runs a class for real: JupyterHub (Debian's jupyterhub package, with its
// configurable-http-proxy) with two students; the gonbchat command built and run by the Hub as
// a managed service, configured as gateway/README.md says, in front of a local
// OpenAI-compatible upstream; each student's own single-user server and GoNB kernel; Go cells
// that ask the gateway with the Hub's token over plain HTTP, and lesson cells (chatcell.New,
// chat.Ask) that find the gateway by themselves from the Hub's environment. It checks that both
// get replies, each sees only their own thread, a budget cut-off and the exam switch reach the
// cell as one line, the ledger has every request, and the key is nowhere a student can read.
func TestJupyterHubClass(t *testing.T) {
	if testing.Short() {
		t.Skip("starts JupyterHub, two notebook servers and two GoNB kernels")
	}
	for _, bin := range []string{"jupyterhub", "configurable-http-proxy", "jupyterhub-singleuser"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (apt-get install jupyterhub)", bin)
		}
	}
	kernels := gonbKernelDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// the upstream, with the teacher's key, which only the gateway holds
	up := openaitest.NewServer(openaitest.WithPace(time.Millisecond), openaitest.WithAPIKey(teacherKey))
	defer up.Close()

	hubPort, hubAPIPort, proxyAPIPort, gwPort := freePort(t), freePort(t), freePort(t), freePort(t)
	public := fmt.Sprintf("http://127.0.0.1:%d", hubPort)

	// the gateway is the command a teacher installs, run by the Hub as a managed service, with
	// the keys in a file only it reads
	bin := filepath.Join(dir, "gonbchat")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/gonbchat").CombinedOutput(); err != nil {
		t.Fatalf("building gonbchat: %v\n%s", err, out)
	}
	polPath, dbPath := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "gateway.db")
	keysPath, adminPath := filepath.Join(dir, "keys"), filepath.Join(dir, "admin-token")
	writeFile(polPath, hubPolicy)
	os.WriteFile(keysPath, []byte("# the class's key\n"+teacherKey+"\n"), 0o600)
	gwAdmin := randToken()
	os.WriteFile(adminPath, []byte(gwAdmin), 0o600)
	gwPage := public + "/services/gonbchat/admin/usage.json"
	// setPolicy edits the policy file and waits until the gateway has it in force
	setPolicy := func(yaml, want string) {
		t.Helper()
		writeFile(polPath, yaml)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, "GET", gwPage, nil)
			req.SetBasicAuth("teacher", gwAdmin)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), want) {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the gateway did not take the policy with %q", want)
	}

	adminToken := randToken()
	cfg := fmt.Sprintf(`
import os
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = %[1]d
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = %[2]d
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:%[3]d'
c.ConfigurableHTTPProxy.pid_file = %[4]q
c.JupyterHub.db_url = 'sqlite:///' + %[5]q
c.JupyterHub.cookie_secret_file = %[6]q
c.JupyterHub.authenticator_class = 'jupyterhub.auth.DummyAuthenticator'
c.DummyAuthenticator.password = 'class-password'
c.JupyterHub.spawner_class = 'jupyterhub.spawner.SimpleLocalProcessSpawner'
c.SimpleLocalProcessSpawner.home_dir_template = %[7]q + '/{username}'
c.Spawner.cmd = ['jupyterhub-singleuser']
c.Spawner.args = ['--allow-root']
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# what every student's server (and so every kernel and cell) gets: the gateway's address;
# JupyterHub itself adds JUPYTERHUB_API_TOKEN, the student's bearer token for the gateway
c.Spawner.environment = {
    'GONBCHAT_GATEWAY_URL': %[8]q,
    'JUPYTERHUB_SINGLEUSER_APP': 'notebook.notebookapp.NotebookApp',
    'JUPYTER_PATH': %[9]q,
    'PATH': os.environ['PATH'],
    'GOCACHE': %[10]q,
    'GOPATH': %[11]q,
    'GOMODCACHE': %[12]q,
    'GOTOOLCHAIN': 'local',
    'GOFLAGS': '-mod=mod',
}
c.JupyterHub.services = [
    {'name': 'gonbchat', 'url': 'http://127.0.0.1:%[13]d',
     'command': [%[15]q, 'gateway', 'serve', '-policy', %[16]q, '-db', %[17]q, '-keys-file', %[18]q,
                 '-admin-token-file', %[19]q, '-upstream', %[20]q, '-reload-every', '200ms']},
    {'name': 'tester', 'api_token': %[14]q},
]
c.JupyterHub.load_roles = [
    {'name': 'tester', 'scopes': ['admin:users', 'admin:servers', 'access:servers', 'read:users'], 'services': ['tester']},
]
`, hubPort, hubAPIPort, proxyAPIPort, filepath.Join(dir, "proxy.pid"), filepath.Join(dir, "hub.sqlite"),
		filepath.Join(dir, "cookie_secret"), filepath.Join(dir, "home"), public+"/services/gonbchat/v1", kernels,
		goEnv(t, "GOCACHE"), goEnv(t, "GOPATH"), goEnv(t, "GOMODCACHE"), gwPort, adminToken,
		bin, polPath, dbPath, keysPath, adminPath, up.URL)
	cfgPath := filepath.Join(dir, "jupyterhub_config.py")
	writeFile(cfgPath, cfg)
	os.MkdirAll(filepath.Join(dir, "home"), 0o755)

	var hubLog bytes.Buffer
	hub := exec.Command("jupyterhub", "-f", cfgPath)
	hub.Dir = dir
	hub.Stdout, hub.Stderr = &hubLog, &hubLog
	// NODE_PATH: Debian's configurable-http-proxy finds its modules under /usr/share/nodejs
	// even when the node first on PATH is not Debian's
	hub.Env = append(withoutEnv(os.Environ(), "OPENAI_API_KEY", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "NODE_PATH"),
		"PYDEVD_DISABLE_FILE_VALIDATION=1", "NODE_PATH=/usr/share/nodejs:"+os.Getenv("NODE_PATH"))
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	hubDone := make(chan struct{})
	go func() { hub.Wait(); close(hubDone) }()
	go func() {
		select {
		case <-hubDone:
			cancel() // the Hub died: stop waiting for it
		case <-ctx.Done():
		}
	}()
	defer func() {
		hub.Process.Signal(os.Interrupt)
		select {
		case <-hubDone:
		case <-time.After(20 * time.Second):
			hub.Process.Kill()
			<-hubDone
		}
		if t.Failed() {
			t.Logf("JupyterHub's log:\n%s", tail(hubLog.String(), 6000))
		}
	}()
	h := &hubClient{t: t, api: public + "/hub/api", token: adminToken}
	h.waitUp(ctx)

	students := []string{"alice", "bob"}
	for _, s := range students {
		h.call(ctx, "POST", "/users/"+s, "", 201)
		h.call(ctx, "POST", "/users/"+s+"/server", "", 201, 202)
	}
	for _, s := range students {
		h.waitServer(ctx, s)
	}

	// the students' kernels, started through their own servers
	k := map[string]*kernel{}
	for _, s := range students {
		k[s] = startKernel(ctx, t, public, s, adminToken)
		defer k[s].close()
	}
	var outputs strings.Builder
	run := func(student, code string) string {
		t.Helper()
		out := k[student].execute(ctx, code)
		outputs.WriteString(out)
		return out
	}

	// a helper every cell can use: ask the gateway as the notebook would, with the Hub's token
	for _, s := range students {
		out := run(s, helperCell)
		if !strings.Contains(out, "gateway: "+public+"/services/gonbchat/v1") || !strings.Contains(out, "token: yes") {
			t.Fatalf("%s's environment: %s", s, out)
		}
		if strings.Contains(out, teacherKey[3:15]) {
			t.Errorf("the teacher's key is in %s's environment", s)
		}
	}

	// both get replies
	ids := map[string]string{}
	for _, s := range students {
		out := run(s, fmt.Sprintf(`%%%%
ask("POST", "/responses", `+"`"+`{"model":"class","input":"I am %s; what is a slice?"}`+"`"+`)`, s))
		id := field(out, "id")
		if !strings.HasPrefix(out, "200") || !strings.HasPrefix(id, "resp_") || !strings.Contains(out, "model: `gpt-4.1-mini`") { // the alias, resolved
			t.Fatalf("%s's reply: %q", s, out)
		}
		ids[s] = id
	}
	// each sees their own thread only
	if out := run("alice", `%%
ask("GET", "/responses/`+ids["alice"]+`/input_items", "")`); !strings.HasPrefix(out, "200") || !strings.Contains(out, "I am alice") {
		t.Errorf("alice's own thread: %s", out)
	}
	if out := run("alice", `%%
ask("GET", "/responses/`+ids["bob"]+`", "")`); !strings.HasPrefix(out, "404") || strings.Contains(out, "I am bob") {
		t.Errorf("alice read bob's response: %s", out)
	}
	if out := run("bob", `%%
ask("POST", "/responses", `+"`"+`{"model":"class","input":"go on","previous_response_id":"`+ids["alice"]+`"}`+"`"+`)`); !strings.HasPrefix(out, "400") || strings.Contains(out, "I am alice") {
		t.Errorf("bob continued alice's thread: %s", out)
	}

	// a lesson cell, as the lessons have it: no key and no address in the notebook; gonbchat
	// finds the gateway from what the Hub put in the environment (GONBCHAT_GATEWAY_URL, and
	// JUPYTERHUB_API_TOKEN as the student's token)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	lessonIDs := map[string]string{}
	for _, s := range students {
		run(s, "!*go mod edit -require=github.com/gonbchat/gonbchat@v0.0.0 -replace=github.com/gonbchat/gonbchat="+root+"\n%%")
		out := run(s, `import "github.com/gonbchat/gonbchat/chatcell"

var chat = chatcell.New(chatcell.WithName("lesson"), chatcell.WithModel("class"))

%%
chat.Ask("I am `+s+`: what is a map?")
fmt.Println("err:", chat.Err())
fmt.Println("last:", chat.LastID())`)
		id := field(out, "last")
		// the mirror upstream reflects what it received: the tutor's instruction, put first by
		// the gateway, and the model the alias names
		if field(out, "err") != "<nil>" || !strings.HasPrefix(id, "resp_") || !strings.Contains(out, "Give hints, not solutions.") ||
			!strings.Contains(out, `"source":"live"`) || !strings.Contains(out, `"model":"gpt-4.1-mini"`) || !strings.Contains(out, `"gonbchat_version":`) {
			t.Fatalf("%s's lesson cell: %s", s, out)
		}
		lessonIDs[s] = id
	}
	// the chain goes on in the next cell (a new process) through the gateway
	if out := run("alice", `%%
chat.Ask("and how do I delete from it?")
fmt.Println("err:", chat.Err())
fmt.Println("last:", chat.LastID())`); field(out, "err") != "<nil>" || field(out, "last") == lessonIDs["alice"] ||
		!strings.Contains(out, "I am alice: what is a map?") {
		t.Errorf("alice's second lesson cell: %s", out)
	}
	// bob's chat cannot go on from alice's response
	if out := run("bob", `%%
var stolen = chatcell.New(chatcell.WithName("stolen"), chatcell.WithLastID("`+lessonIDs["alice"]+`"))
stolen.Ask("go on")
fmt.Println("err:", stolen.Err())`); !strings.Contains(field(out, "err"), "previous_response_not_found") || strings.Contains(out, "I am alice") {
		t.Errorf("bob's chat went on from alice's response: %s", out)
	}

	// a budget cut-off reaches the cell as one line
	setPolicy(hubPolicy+"budgets: {timezone: UTC, student: {tokens: 10, per: day}}\n", "each student: 10 tokens per day")
	out := run("bob", `%%
ask("POST", "/responses", `+"`"+`{"model":"class","input":"one more"}`+"`"+`)`)
	if !strings.HasPrefix(out, "429") || !strings.Contains(out, "message: Your budget for today is used up (10 tokens per day); it resets at 00:00.\n") {
		t.Errorf("budget: %s", out)
	}
	// and in a lesson cell, it is the cell's one line as the gateway wrote it
	out = run("bob", `%%
chat.Ask("one more")
fmt.Println("err:", chat.Err())`)
	if field(out, "err") != "Your budget for today is used up (10 tokens per day); it resets at 00:00." {
		t.Errorf("budget in a lesson cell: %s", out)
	}
	// the exam switch
	setPolicy("ai_off: true\n", "AI: OFF")
	out = run("alice", `%%
ask("POST", "/responses", `+"`"+`{"model":"class","input":"the answer to question 3?"}`+"`"+`)`)
	if !strings.HasPrefix(out, "403") || !strings.Contains(out, "message: AI is switched off for the exam.\n") {
		t.Errorf("AI off: %s", out)
	}
	out = run("alice", `%%
chat.Ask("the answer to question 4?")
fmt.Println("err:", chat.Err())`)
	if field(out, "err") != "AI is switched off for the exam." {
		t.Errorf("AI off in a lesson cell: %s", out)
	}

	// the ledger has every request of the cells, by student
	l, err := ledger.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	count := map[string]int{}
	for range 100 { // the last row is written just after its reply
		rows, _ := l.Rows(ctx, time.Time{})
		count = map[string]int{}
		for _, r := range rows {
			count[r.Student+" "+r.Outcome]++
		}
		if len(rows) >= 13 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if count["alice ok"] != 4 || count["bob ok"] != 2 || count["alice refused"] != 3 || count["bob refused"] != 4 {
		t.Errorf("ledger: %v", count)
	}

	// no key anywhere a student can read: outputs, their home directories
	if strings.Contains(outputs.String(), teacherKey[3:15]) {
		t.Error("the teacher's key is in an output")
	}
	filepath.WalkDir(filepath.Join(dir, "home"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(teacherKey[3:15])) {
				t.Errorf("the teacher's key is in %s", p)
			}
		}
		return nil
	})
	t.Logf("cells' outputs:\n%s", outputs.String())
}

// hubPolicy is the class's policy in the Hub test: the class model, a tutor, clamped replies.
const hubPolicy = `
models:
  allowed: [gpt-4.1-mini, gpt-4.1-nano]
  aliases: {class: gpt-4.1-mini}
max_output_tokens: 300
tutor: Give hints, not solutions.
`

const helperCell = `import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// ask calls the class gateway with the student's Hub token and prints the status, then the
// reply's id and text, or the error's one line.
func ask(method, path, body string) {
	req, _ := http.NewRequest(method, os.Getenv("GONBCHAT_GATEWAY_URL")+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+os.Getenv("JUPYTERHUB_API_TOKEN"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		ID     string ` + "`json:\"id\"`" + `
		Error  *struct{ Message string } ` + "`json:\"error\"`" + `
		Output []struct {
			Content []struct{ Text string }
		}
		Data []struct {
			Content []struct{ Text string }
		}
	}
	json.Unmarshal(b, &r)
	fmt.Println(resp.StatusCode)
	if r.Error != nil {
		fmt.Printf("message: %s\n", r.Error.Message)
		return
	}
	fmt.Printf("id: %s\n", r.ID)
	for _, o := range append(r.Output, r.Data...) {
		for _, c := range o.Content {
			fmt.Println(c.Text)
		}
	}
}

%%
fmt.Println("gateway:", os.Getenv("GONBCHAT_GATEWAY_URL"))
fmt.Println("token:", map[bool]string{true: "yes", false: "no"}[os.Getenv("JUPYTERHUB_API_TOKEN") != ""])
for _, kv := range os.Environ() {
	fmt.Println(kv)
}
`

// field returns the value of a "name: value" line.
func field(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func randToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// gonbKernelDir is the Jupyter data directory that holds the gonb kernel spec (./install.sh
// puts it there).
func gonbKernelDir(t *testing.T) string {
	out, err := exec.Command("jupyter", "kernelspec", "list", "--json").Output()
	if err != nil {
		t.Skipf("no jupyter kernelspec: %v", err)
	}
	var ks struct {
		Kernelspecs map[string]struct {
			ResourceDir string `json:"resource_dir"`
		} `json:"kernelspecs"`
	}
	if json.Unmarshal(out, &ks) != nil || ks.Kernelspecs["gonb"].ResourceDir == "" {
		t.Skip("the gonb kernel is not installed (./install.sh)")
	}
	return filepath.Dir(filepath.Dir(ks.Kernelspecs["gonb"].ResourceDir))
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// hubClient calls the Hub's REST API with the tester service's token.
type hubClient struct {
	t     *testing.T
	api   string
	token string
}

func (h *hubClient) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, method, h.api+path, strings.NewReader(body))
	req.Header.Set("Authorization", "token "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

func (h *hubClient) call(ctx context.Context, method, path, body string, want ...int) []byte {
	h.t.Helper()
	code, b, err := h.do(ctx, method, path, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, w := range want {
		if code == w {
			return b
		}
	}
	h.t.Fatalf("%s %s: %d %s", method, path, code, b)
	return nil
}

func (h *hubClient) waitUp(ctx context.Context) {
	h.t.Helper()
	for ctx.Err() == nil {
		if code, _, err := h.do(ctx, "GET", "/", ""); err == nil && code == 200 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatal("JupyterHub did not start")
}

func (h *hubClient) waitServer(ctx context.Context, user string) {
	h.t.Helper()
	for ctx.Err() == nil {
		var u struct {
			Servers map[string]struct {
				Ready bool `json:"ready"`
			} `json:"servers"`
		}
		if code, b, err := h.do(ctx, "GET", "/users/"+user, ""); err == nil && code == 200 && json.Unmarshal(b, &u) == nil && u.Servers[""].Ready {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	h.t.Fatalf("%s's server did not start", user)
}

// kernel is a GoNB kernel started through a student's single-user server, driven over the
// Jupyter websocket protocol.
type kernel struct {
	t       *testing.T
	conn    *websocket.Conn
	session string
}

func startKernel(ctx context.Context, t *testing.T, public, user, token string) *kernel {
	t.Helper()
	base := public + "/user/" + user + "/api/kernels"
	req, _ := http.NewRequestWithContext(ctx, "POST", base, strings.NewReader(`{"name":"gonb"}`))
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var kern struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != 201 || json.Unmarshal(b, &kern) != nil {
		t.Fatalf("starting %s's kernel: %d %s", user, resp.StatusCode, b)
	}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/" + kern.ID + "/channels"
	conn, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"token " + token}}})
	if err != nil {
		t.Fatalf("%s's kernel websocket: %v", user, err)
	}
	conn.SetReadLimit(64 << 20)
	return &kernel{t: t, conn: conn, session: randToken()}
}

func (k *kernel) close() { k.conn.Close(websocket.StatusNormalClosure, "") }

// doneMark ends every cell's output: GoNB may still be sending a cell's output when it reports
// the kernel idle.
const doneMark = "<<cell done>>"

// execute runs a cell (whose last section is a %% one) and returns its stdout, stderr and
// error text.
func (k *kernel) execute(ctx context.Context, code string) string {
	k.t.Helper()
	code += "\nfmt.Println(\"" + doneMark + "\")\n"
	id := randToken()
	msg := map[string]any{
		"header": map[string]any{"msg_id": id, "msg_type": "execute_request", "session": k.session, "username": "test",
			"version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "channel": "shell", "buffers": []any{},
		"content": map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
			"allow_stdin": false, "stop_on_error": true},
	}
	b, _ := json.Marshal(msg)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := k.conn.Write(cctx, websocket.MessageText, b); err != nil {
		k.t.Fatal(err)
	}
	var out strings.Builder
	idle := false
	for {
		_, data, err := k.conn.Read(cctx)
		if err != nil {
			k.t.Fatalf("cell %q: %v (so far: %s)", code[:min(len(code), 60)], err, out.String())
		}
		var m struct {
			Channel      string `json:"channel"`
			ParentHeader struct {
				MsgID string `json:"msg_id"`
			} `json:"parent_header"`
			MsgType string `json:"msg_type"`
			Content struct {
				Text           string            `json:"text"`
				ExecutionState string            `json:"execution_state"`
				Data           map[string]any    `json:"data"`
				Metadata       map[string]any    `json:"metadata"`
				Ename          string            `json:"ename"`
				Evalue         string            `json:"evalue"`
				Traceback      []string          `json:"traceback"`
				Extra          map[string]string `json:"-"`
			} `json:"content"`
		}
		if json.Unmarshal(data, &m) != nil || m.ParentHeader.MsgID != id {
			continue
		}
		switch m.MsgType {
		case "stream":
			out.WriteString(m.Content.Text)
		case "error":
			out.WriteString("ERROR " + m.Content.Ename + ": " + m.Content.Evalue + "\n" + strings.Join(m.Content.Traceback, "\n"))
			return out.String()
		case "display_data", "execute_result", "update_display_data":
			if s, ok := m.Content.Data["text/plain"].(string); ok {
				out.WriteString(s + "\n")
				if g, ok := m.Content.Metadata["gonbchat"]; ok {
					b, _ := json.Marshal(g)
					out.WriteString("metadata: " + string(b) + "\n")
				}
			}
		case "status":
			idle = idle || m.Content.ExecutionState == "idle"
		}
		if o := out.String(); idle && strings.Contains(o, doneMark) {
			return strings.Replace(o, doneMark+"\n", "", 1)
		}
	}
}
