// The notebook tests execute every lesson notebook (notebooks/*.ipynb) and the harness smoke
// notebook (testdata/smoke.ipynb) top to bottom on a real GoNB kernel and check what the kernel
// published, message by message.
//
// How: testdata/run_notebook.py (run with Debian's /usr/bin/python3, which has jupyter_client)
// starts a fresh "gonb" kernel per notebook, in the notebook's directory, runs the code cells in
// order and records every iopub message: display_data, update_display_data (with
// transient.display_id), stream, error, execute_result. OPENAI_API_KEY and OPENAI_BASE_URL are
// removed from the kernel's environment: the notebooks must work, or fail politely, without a key.
// The lesson notebooks run as if Jupyter had been started in notebooks/; the smoke notebook runs
// as if it had been started at the repository root (see TestSetupCells).
//
// Every code cell of every notebook must
//
//   - finish with status "ok" within the cell timeout (GONBCHAT_CELL_TIMEOUT seconds, default 180:
//     the first cell of a kernel may build cold);
//   - publish no "error" message (GoNB reports compile errors that way);
//   - write nothing to stderr that looks like a failure: "panic", "goroutine ", "error:",
//     "exit status " (a cell program that panicked or exited non-zero, which GoNB still reports as
//     "ok"), or a klog error line such as gonbui's "E1121 07:36:59.077951 ... failed to write to
//     GoNB pipe".
//
// Per-cell expectations live in the notebook, in the cell's metadata:
//
//	"metadata": {"gonbchat": {"expect": {"streams": true, "final_plain": true, "contains": ["流冰"]}}}
//
// A cell that asks for input (gonbui.RequestInput, e.g. chatcell.Loop) gets the lines of
// "gonbchat": {"inputs": ["first line", "second", ""]}, one per request (then "" to any further
// request); it must ask exactly len(inputs) times. Prompts and answers count as visible output,
// as a front end shows them.
//
// Expectation keys (unknown keys fail the test, so a typo cannot silently disable a check):
//
//   - "streams": true — the reply streamed into one updating display: the cell sent >= 3
//     update_display_data messages, and exactly one of its updated display_ids ends with non-empty
//     text/html (companion displays that end empty are allowed, like the script display of
//     display's append mode), which is no longer the "thinking…" indicator.
//   - "final_plain": true — the final update of that reply display_id (of the cell's only
//     display_id when "streams" is not set) carries a non-empty text/plain too (the Markdown source).
//   - "contains": ["…", …] — the cell's final visible output contains each string. The final visible
//     output is: for each display_id its final text/html (its text/plain if it has no HTML), the
//     text/html and text/plain of each display_data without a display_id and of each
//     execute_result, the stdout stream, and input prompts with their answers.
//   - "not_contains": ["…", …] — nothing the cell ever showed contains any of the strings: every
//     display_data and update_display_data (text/html and text/plain, intermediate updates
//     included), stdout, stderr and error messages. Use it for API keys and stack traces.
//   - "error_line": true — the cell shows a friendly error line, an HTML element with class
//     "gonbchat-error" (display.Error), and, like every cell, no error message and no panic.
//
// The same convention is described in testdata/README.md.
package notebooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// python is Debian's interpreter, which has jupyter_client (the one first on PATH may not).
const python = "/usr/bin/python3"

const kernelName = "gonb"

// expect is the "gonbchat"."expect" object of a cell's metadata.
type expect struct {
	Streams     bool     `json:"streams"`
	FinalPlain  bool     `json:"final_plain"`
	Contains    []string `json:"contains"`
	NotContains []string `json:"not_contains"`
	ErrorLine   bool     `json:"error_line"`
}

// run is the JSON document printed by run_notebook.py.
type run struct {
	Notebook      string    `json:"notebook"`
	Cwd           string    `json:"cwd"`
	JupyterRoot   string    `json:"jupyter_root"`
	NBFormatError string    `json:"nbformat_error"`
	Aborted       string    `json:"aborted"`
	Cells         []cellRun `json:"cells"`
}

type cellRun struct {
	Index    int             `json:"index"`
	Source   string          `json:"source"`
	Metadata json.RawMessage `json:"metadata"`
	Status   string          `json:"status"`
	Seconds  float64         `json:"seconds"`
	IdleT    float64         `json:"idle_t"` // when the kernel reported idle, seconds since the request
	Messages []message       `json:"messages"`
}

type message struct {
	MsgType string  `json:"msg_type"`
	Content content `json:"content"`
	T       float64 `json:"t"` // when it arrived, seconds since the execute request was sent
}

// content has the fields of the iopub message types the tests look at.
type content struct {
	Name      string         `json:"name"` // stream
	Text      string         `json:"text"` // stream
	Data      map[string]any `json:"data"`
	Metadata  map[string]any `json:"metadata"`
	Transient struct {
		DisplayID string `json:"display_id"`
	} `json:"transient"`
	Ename     string   `json:"ename"`
	Evalue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
	Prompt    string   `json:"prompt"` // input_request
	Value     string   `json:"value"`  // input_reply (recorded by run_notebook.py)
}

// notebook is the part of an .ipynb file the tests read directly.
type notebook struct {
	Cells []struct {
		CellType string          `json:"cell_type"`
		Source   json.RawMessage `json:"source"`
		Metadata json.RawMessage `json:"metadata"`
	} `json:"cells"`
}

// TestNotebooks runs each notebook on a fresh kernel, one after the other.
func TestNotebooks(t *testing.T) {
	requireKernel(t)
	lessons, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	lessons = slices.DeleteFunc(lessons, func(p string) bool { return strings.HasSuffix(p, ".nbconvert.ipynb") })
	sort.Strings(lessons)
	if len(lessons) == 0 {
		t.Log("no lesson notebooks (notebooks/*.ipynb) yet: only the smoke notebook runs")
	}
	here := mustAbs(t, ".")
	for _, nb := range lessons {
		t.Run(strings.TrimSuffix(nb, ".ipynb"), func(t *testing.T) {
			checkRun(t, nb, runNotebook(t, nb, here))
		})
	}
	// The smoke notebook's setup cell uses ${GONB_DIR}: run it as if Jupyter had been started at
	// the repository root, where ${GONB_JUPYTER_ROOT} is not the notebook's directory.
	smoke := filepath.Join("testdata", "smoke.ipynb")
	t.Run("testdata/smoke", func(t *testing.T) {
		checkRun(t, smoke, runNotebook(t, smoke, filepath.Dir(here)))
	})
}

// TestNotebooksWithoutStdin runs every lesson as a plain jupyter_client script does: with
// allow_stdin=False and nobody to answer. GoNB asks for input anyway, so a chat loop that asked
// would hang the kernel for good; every cell must end by itself, and a loop must say why it
// ended at once.
func TestNotebooksWithoutStdin(t *testing.T) {
	requireKernel(t)
	lessons, _ := filepath.Glob("*.ipynb")
	lessons = slices.DeleteFunc(lessons, func(p string) bool { return strings.HasSuffix(p, ".nbconvert.ipynb") })
	here := mustAbs(t, ".")
	for _, nb := range lessons {
		// Only a cell that may ask for input can hang on it: run the lessons that have one.
		data, _ := os.ReadFile(nb)
		if !regexp.MustCompile(`Loop\(|Launch\(|RequestInput|Serve\(`).Match(data) {
			continue
		}
		t.Run(strings.TrimSuffix(nb, ".ipynb"), func(t *testing.T) {
			r := runNotebookArgs(t, nb, here, []string{"--no-stdin"})
			if r.Aborted != "" {
				t.Errorf("the run was aborted: %s", r.Aborted)
			}
			for _, c := range r.Cells {
				if c.Status != "ok" {
					t.Errorf("cell %d (%s): %s", c.Index, firstLine(c.Source), c.Status)
				}
				loop := false
				for _, m := range c.Messages {
					switch m.MsgType {
					case "input_request", "input_request_unanswered":
						t.Errorf("cell %d (%s) asked for input nobody can give", c.Index, firstLine(c.Source))
					case "stream":
						// "Loop:" in English, "Loop：" in Chinese (GONBCHAT_LANG).
						loop = loop || strings.Contains(m.Content.Text, "Loop:") || strings.Contains(m.Content.Text, "Loop：")
					}
				}
				if strings.Contains(c.Source, "Loop()") && !loop {
					t.Errorf("cell %d (%s) ended its loop without saying why", c.Index, firstLine(c.Source))
				}
			}
		})
	}
}

// TestSetupCells checks, without a kernel, that the lessons' setup cells do not depend on the
// directory Jupyter was started in. GoNB sets $GONB_JUPYTER_ROOT to the Jupyter server's working
// directory: a student who runs `jupyter notebook notebooks/ch3-responses.ipynb` at the repository root gets
// the repository root there, and ${GONB_JUPYTER_ROOT}/.. is then the wrong module. $GONB_DIR is the
// kernel's directory, which Jupyter sets to the notebook's directory. It also checks that every
// expectation in the metadata is well formed.
func TestSetupCells(t *testing.T) {
	paths, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join("testdata", "smoke.ipynb"), filepath.Join("testdata", "bench.ipynb"))
	for _, p := range paths {
		nb := readNotebook(t, p)
		replaces := 0
		for i, c := range nb.Cells {
			if c.CellType != "code" {
				continue
			}
			src := sourceText(t, c.Source)
			if _, _, err := parseMeta(c.Metadata); err != nil {
				t.Errorf("%s: cell %d: %v", p, i, err)
			}
			if !strings.Contains(src, "-replace=github.com/gonbchat/gonbchat=") {
				continue
			}
			replaces++
			if strings.Contains(src, "GONB_JUPYTER_ROOT") {
				t.Errorf("%s: cell %d: the setup cell uses $GONB_JUPYTER_ROOT, which is the directory Jupyter "+
					"was started in, not the notebook's: it breaks when a student starts Jupyter elsewhere. Use\n"+
					"  !*go mod edit -require=github.com/gonbchat/gonbchat@v0.0.0 -replace=github.com/gonbchat/gonbchat=${GONB_DIR}/..",
					p, i)
			}
			if strings.Contains(src, "go mod tidy") {
				t.Errorf("%s: cell %d: `go mod tidy` in the setup cell drops the requirement (no Go files yet)", p, i)
			}
		}
		if replaces == 0 && codeCells(nb) > 0 {
			t.Errorf("%s: no setup cell (`!*go mod edit ... -replace=github.com/gonbchat/gonbchat=${GONB_DIR}/..`)", p)
		}
	}
}

// TestSavedOutputs checks, without a kernel, the outputs saved in the lessons (written by
// `go run ./notebooks/regen` from an offline run) against the cells' own expectations, so that
// a teacher browsing the repository sees what the tests see: every "contains" string and error
// line of a cell is in its saved outputs, no "not_contains" string is, every reply shown came
// from the offline mirror model, and the cells were run in order. A failure means the
// notebook changed since its outputs were saved: run `go run ./notebooks/regen`.
func TestSavedOutputs(t *testing.T) {
	paths, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasSuffix(p, ".nbconvert.ipynb") })
	for _, p := range paths {
		t.Run(strings.TrimSuffix(p, ".ipynb"), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var nb struct {
				Cells []struct {
					CellType       string          `json:"cell_type"`
					Source         json.RawMessage `json:"source"`
					Metadata       json.RawMessage `json:"metadata"`
					ExecutionCount *int            `json:"execution_count"`
					Outputs        []struct {
						OutputType string         `json:"output_type"`
						Text       any            `json:"text"`
						Data       map[string]any `json:"data"`
						Metadata   map[string]any `json:"metadata"`
					} `json:"outputs"`
				} `json:"cells"`
			}
			if err := json.Unmarshal(b, &nb); err != nil {
				t.Fatal(err)
			}
			count, withOutputs := 0, 0
			for i, c := range nb.Cells {
				if c.CellType != "code" {
					continue
				}
				count++
				first := firstLine(sourceText(t, c.Source))
				if c.ExecutionCount == nil || *c.ExecutionCount != count {
					t.Errorf("cell %d (%s): execution_count %v, want %d: run `go run ./notebooks/regen`", i, first, c.ExecutionCount, count)
				}
				if len(c.Outputs) > 0 {
					withOutputs++
				}
				var shown, html strings.Builder
				for _, o := range c.Outputs {
					shown.WriteString(mimeText(o.Text))
					shown.WriteString(mimeText(o.Data["text/plain"]) + "\n" + mimeText(o.Data["text/html"]) + "\n")
					html.WriteString(mimeText(o.Data["text/html"]))
					if g, ok := o.Metadata["gonbchat"].(map[string]any); ok && g["source"] != nil && g["source"] != "offline" {
						t.Errorf("cell %d (%s): a saved reply from %v, not the offline model", i, first, g["source"])
					}
				}
				ex, _, err := parseMeta(c.Metadata)
				if err != nil {
					t.Errorf("cell %d: %v", i, err)
					continue
				}
				for _, s := range ex.Contains {
					if !strings.Contains(shown.String(), s) {
						t.Errorf("cell %d (%s): the saved outputs lack %q: run `go run ./notebooks/regen`", i, first, s)
					}
				}
				for _, s := range ex.NotContains {
					if strings.Contains(shown.String(), s) {
						t.Errorf("cell %d (%s): the saved outputs show %q", i, first, s)
					}
				}
				if ex.ErrorLine && !errorLine.MatchString(html.String()) {
					t.Errorf("cell %d (%s): the saved outputs have no error line", i, first)
				}
			}
			if withOutputs < count/2 {
				t.Errorf("%d of %d code cells have saved outputs: run `go run ./notebooks/regen`", withOutputs, count)
			}
		})
	}
}

// requireKernel skips under -short and fails when Jupyter or the GoNB kernel is missing.
func requireKernel(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the notebooks are not run")
	}
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found (Debian's python3 with jupyter_client): run ./install.sh first", python)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "run_notebook.py"), "--check", "--kernel", kernelName).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			out = append(out, ee.Stderr...)
		}
		t.Fatalf("Jupyter or the GoNB kernel is missing: run ./install.sh first\n%s", out)
	}
	var spec struct {
		ResourceDir string   `json:"resource_dir"`
		Argv        []string `json:"argv"`
	}
	if err := json.Unmarshal(out, &spec); err != nil || len(spec.Argv) == 0 {
		t.Fatalf("run_notebook.py --check: %v\n%s", err, out)
	}
	declareInputs(t, spec.Argv[0], filepath.Join(spec.ResourceDir, "kernel.json"))
}

// declareInputs opens every file the notebook runs depend on, so that `go test` caches a result
// only as long as none of them changes: it hashes the files a test opens, and the packages the
// notebooks exercise (display, chatcell, ...) are built by the kernel, not linked into this test.
// These are the module's sources (Go files, go.mod, go.sum, notebooks, testdata) and the kernel
// (its binary and kernel.json).
func declareInputs(t testing.TB, files ...string) {
	t.Helper()
	root := filepath.Dir(mustAbs(t, "."))
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "tools") {
				return filepath.SkipDir // .git, .ipynb_checkpoints, the separate tools module
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".mod", ".sum", ".ipynb", ".py", ".md", ".json", ".txt", ".html", ".gob":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if fh, err := os.Open(f); err == nil {
			fh.Close()
		}
	}
}

// runNotebook executes the notebook at path with the kernel in the notebook's directory and the
// "Jupyter server" in jupyterRoot, and returns the recorded messages.
func runNotebook(t testing.TB, path, jupyterRoot string, env ...string) *run {
	t.Helper()
	return runNotebookArgs(t, path, jupyterRoot, nil, env...)
}

// runNotebookArgs is runNotebook with more arguments for run_notebook.py (e.g. --no-stdin).
func runNotebookArgs(t testing.TB, path, jupyterRoot string, args []string, env ...string) *run {
	t.Helper()
	cellTimeout := 180
	if s := os.Getenv("GONBCHAT_CELL_TIMEOUT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("GONBCHAT_CELL_TIMEOUT=%q: want a number of seconds", s)
		}
		cellTimeout = n
	}
	ctx := context.Background()
	if d, ok := deadline(t); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-20*time.Second))
		defer cancel()
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "run.json")
	logPath := filepath.Join(dir, "kernel.log")
	cmd := exec.CommandContext(ctx, python, mustAbs(t, filepath.Join("testdata", "run_notebook.py")),
		"--kernel", kernelName, "--timeout", strconv.Itoa(cellTimeout),
		"--cwd", mustAbs(t, filepath.Dir(path)), "--jupyter-root", jupyterRoot,
		"--kernel-log", logPath)
	cmd.Args = append(cmd.Args, args...)
	for _, kv := range env {
		cmd.Args = append(cmd.Args, "--env", kv)
	}
	cmd.Args = append(cmd.Args, mustAbs(t, path))
	// On the deadline, SIGTERM lets the driver shut its kernel down and print what it has.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s: ran in %.1fs", path, time.Since(start).Seconds())
	if werr := os.WriteFile(jsonPath, stdout.Bytes(), 0o644); werr != nil {
		t.Fatal(werr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			keepForDebugging(t, jsonPath, logPath)
		}
	})
	if err != nil && stdout.Len() == 0 {
		t.Fatalf("run_notebook.py %s: %v\n%s", path, err, stderr.Bytes())
	}
	var r run
	if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
		t.Fatalf("run_notebook.py %s: %v (exit: %v)\nstderr:\n%s", path, jerr, err, stderr.Bytes())
	}
	if err != nil {
		t.Errorf("run_notebook.py %s: %v\n%s", path, err, stderr.Bytes())
	}
	return &r
}

// deadline is the test's deadline; a benchmark (testing.B) has none.
func deadline(t testing.TB) (time.Time, bool) {
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return dt.Deadline()
	}
	return time.Time{}, false
}

// keepForDebugging copies the recorded run out of t.TempDir (removed after the test) and logs where.
func keepForDebugging(t testing.TB, paths ...string) {
	dir, err := os.MkdirTemp("", "gonbchat-notebook-")
	if err != nil {
		t.Logf("cannot keep the recorded run: %v", err)
		return
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644)
		}
	}
	t.Logf("recorded messages and kernel log kept in %s (run.json, kernel.log)", dir)
}

// checkRun applies the generic checks and the per-cell expectations.
func checkRun(t testing.TB, path string, r *run) {
	t.Helper()
	if r.NBFormatError != "" {
		t.Errorf("%s is not valid nbformat 4: %s", path, r.NBFormatError)
	}
	if r.Aborted != "" {
		t.Errorf("the run was aborted: %s", r.Aborted)
	}
	nb := readNotebook(t, path)
	if got, want := len(r.Cells), codeCells(nb); got != want {
		t.Errorf("%d code cells were run, the notebook has %d", got, want)
	}
	for i := range r.Cells {
		c := &r.Cells[i]
		t.Logf("cell %2d: %-8s %6.2fs  %s", c.Index, c.Status, c.Seconds, firstLine(c.Source))
		for _, f := range checkCell(c) {
			t.Errorf("cell %d (%s): %s", c.Index, firstLine(c.Source), f)
		}
	}
}

// display is what one display_id went through in a cell.
type display struct {
	id      string
	shows   int // display_data
	updates int // update_display_data
	final   map[string]any
}

func (d *display) html() string { return mimeText(d.final["text/html"]) }

// view is a cell's output, as a student would see it and as it was sent.
type view struct {
	displays []*display
	byID     map[string]*display
	visible  strings.Builder // final visible output
	everShow strings.Builder // everything ever shown
	stderr   strings.Builder
	errors   []string

	inputRequests int
	stopPressed   bool // run_notebook.py pressed stop (metadata.gonbchat.stop_when)
}

func newView(msgs []message) *view {
	v := &view{byID: map[string]*display{}}
	var anon strings.Builder
	for _, m := range msgs {
		c := m.Content
		switch m.MsgType {
		case "display_data", "update_display_data":
			for _, k := range []string{"text/html", "text/plain"} {
				v.everShow.WriteString(mimeText(c.Data[k]) + "\n")
			}
			id := c.Transient.DisplayID
			if id == "" {
				anon.WriteString(mimeText(c.Data["text/html"]) + "\n" + mimeText(c.Data["text/plain"]) + "\n")
				continue
			}
			d := v.byID[id]
			if d == nil {
				d = &display{id: id}
				v.byID[id] = d
				v.displays = append(v.displays, d)
			}
			if m.MsgType == "display_data" {
				d.shows++
			} else {
				d.updates++
			}
			d.final = c.Data
		case "execute_result":
			s := mimeText(c.Data["text/html"]) + "\n" + mimeText(c.Data["text/plain"]) + "\n"
			anon.WriteString(s)
			v.everShow.WriteString(s)
		case "stream":
			v.everShow.WriteString(c.Text)
			if c.Name == "stderr" {
				v.stderr.WriteString(c.Text)
			} else {
				anon.WriteString(c.Text)
			}
		case "input_request":
			v.inputRequests++
			anon.WriteString(c.Prompt)
			v.everShow.WriteString(c.Prompt)
		case "stop_pressed":
			v.stopPressed = true
		case "input_reply":
			// The front end shows the prompt and the answer in the output area.
			anon.WriteString(c.Value + "\n")
			v.everShow.WriteString(c.Value + "\n")
		case "error":
			e := c.Ename + ": " + c.Evalue
			v.errors = append(v.errors, e)
			v.everShow.WriteString(e + "\n" + strings.Join(c.Traceback, "\n") + "\n")
		}
	}
	for _, d := range v.displays {
		if h := d.html(); h != "" {
			v.visible.WriteString(h + "\n")
		} else {
			v.visible.WriteString(mimeText(d.final["text/plain"]) + "\n")
		}
	}
	v.visible.WriteString(anon.String())
	return v
}

// badStderr matches stderr text that means a cell failed even though GoNB said "ok".
var badStderr = regexp.MustCompile(`(?m)panic|goroutine |error:|exit status |^[EF]\d{4} \d\d:\d\d:\d\d`)

// errorLine matches display.Error's element.
var errorLine = regexp.MustCompile(`class="[^"]*\bgonbchat-error\b`)

// checkCell returns the cell's failures.
func checkCell(c *cellRun) []string {
	var fails []string
	fail := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	ex, input, err := parseMeta(c.Metadata)
	if err != nil {
		fail("%v", err)
		ex = &expect{}
	}
	switch c.Status {
	case "ok":
	case "not_run":
		fail("not run: an earlier cell timed out or the run was aborted")
		return fails
	case "timeout":
		fail("status \"timeout\", want ok: the cell did not finish (see GONBCHAT_CELL_TIMEOUT); later cells are not run")
	default:
		fail("status %q, want ok", c.Status)
	}
	v := newView(c.Messages)
	switch {
	case v.inputRequests > len(input):
		fail("the cell asked for input %d times, metadata.gonbchat.inputs has %d lines (the rest were answered with \"\")",
			v.inputRequests, len(input))
	case v.inputRequests < len(input) && c.Status != "timeout":
		fail("the cell asked for input %d times, metadata.gonbchat.inputs has %d lines", v.inputRequests, len(input))
	}
	if stop := stopWhen(c.Metadata); stop != "" && !v.stopPressed && c.Status != "timeout" {
		fail("stop_when: the cell never showed %q, so nobody pressed stop (it ended by itself)", stop)
	}
	for _, e := range v.errors {
		fail("error message: %s", clip(e, 2000))
	}
	if loc := badStderr.FindStringIndex(v.stderr.String()); loc != nil {
		fail("stderr shows a failure (%q):\n%s", v.stderr.String()[loc[0]:loc[1]], clip(v.stderr.String(), 3000))
	}

	var target *display // the reply's display, for final_plain
	if ex.Streams {
		updates := 0
		var shown []*display // updated displays that end with visible HTML
		for _, d := range v.displays {
			updates += d.updates
			if d.updates > 0 && strings.TrimSpace(d.html()) != "" {
				shown = append(shown, d)
			}
		}
		switch {
		case updates < 3:
			fail("streams: want >= 3 update_display_data, got %d (%s)", updates, v.displaySummary())
		case len(shown) != 1:
			fail("streams: want exactly one updated display_id that ends with non-empty text/html, got %d (%s)",
				len(shown), v.displaySummary())
		default:
			target = shown[0]
			if h := target.html(); strings.Contains(h, "gonbchat-thinking") {
				fail("streams: %s still shows the thinking indicator: %s", target.id, clip(h, 500))
			}
		}
	} else if len(v.displays) == 1 {
		target = v.displays[0]
	}
	if ex.FinalPlain {
		switch {
		case target == nil:
			fail("final_plain: no streamed display_id (%s)", v.displaySummary())
		case mimeText(target.final["text/plain"]) == "":
			fail("final_plain: the final update of %s has no text/plain (mime types: %v)", target.id, keys(target.final))
		}
	}
	visible := v.visible.String()
	for _, s := range ex.Contains {
		if !strings.Contains(visible, s) {
			fail("contains: %q is not in the final visible output:\n%s", s, clip(visible, 3000))
		}
	}
	every := v.everShow.String()
	for _, s := range ex.NotContains {
		if strings.Contains(every, s) {
			fail("not_contains: %q was shown:\n%s", s, clip(every, 3000))
		}
	}
	if ex.ErrorLine && !errorLine.MatchString(visible) {
		fail("error_line: no element with class gonbchat-error in the final visible output:\n%s", clip(visible, 3000))
	}
	return fails
}

func (v *view) displaySummary() string {
	if len(v.displays) == 0 {
		return "no display_id"
	}
	var parts []string
	for _, d := range v.displays {
		parts = append(parts, fmt.Sprintf("%s: %d display_data, %d update_display_data", d.id, d.shows, d.updates))
	}
	return strings.Join(parts, "; ")
}

// cellMeta is a cell's metadata.gonbchat.
type cellMeta struct {
	Expect   json.RawMessage `json:"expect"`
	Inputs   []string        `json:"inputs"`
	StopWhen string          `json:"stop_when"` // run_notebook.py presses stop once the cell shows it
}

// parseMeta reads metadata.gonbchat, rejecting unknown keys.
func parseMeta(meta json.RawMessage) (*expect, []string, error) {
	var m struct {
		Gonbchat json.RawMessage `json:"gonbchat"`
	}
	ex := &expect{}
	if len(meta) == 0 {
		return ex, nil, nil
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	if len(m.Gonbchat) == 0 {
		return ex, nil, nil
	}
	var cm cellMeta
	if err := strictDecode(m.Gonbchat, &cm); err != nil {
		return nil, nil, fmt.Errorf("metadata.gonbchat: %w (keys: expect, inputs, stop_when)", err)
	}
	if len(cm.Expect) > 0 {
		if err := strictDecode(cm.Expect, ex); err != nil {
			return nil, nil, fmt.Errorf("metadata.gonbchat.expect: %w (keys: streams, final_plain, contains, not_contains, error_line)", err)
		}
	}
	return ex, cm.Inputs, nil
}

// stopWhen returns a cell's metadata.gonbchat.stop_when ("" if none or unreadable).
func stopWhen(meta json.RawMessage) string {
	var m struct {
		Gonbchat cellMeta `json:"gonbchat"`
	}
	json.Unmarshal(meta, &m)
	return m.Gonbchat.StopWhen
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func readNotebook(t testing.TB, path string) *notebook {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &nb
}

func codeCells(nb *notebook) int {
	n := 0
	for _, c := range nb.Cells {
		if c.CellType == "code" {
			n++
		}
	}
	return n
}

// sourceText joins a cell source, which nbformat allows as a string or a list of strings.
func sourceText(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		t.Fatalf("cell source: %v", err)
	}
	return strings.Join(lines, "")
}

// mimeText returns a MIME bundle value, a string or (as nbformat allows) a list of strings.
func mimeText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			s, _ := e.(string)
			b.WriteString(s)
		}
		return b.String()
	}
	return ""
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return clip(s, 60)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCheckCell feeds checkCell recorded message sequences, without a kernel, so that each check is
// seen to fail when it should.
func TestCheckCell(t *testing.T) {
	disp := func(typ, id, html, plain string) message {
		m := message{MsgType: typ}
		m.Content.Data = map[string]any{}
		if html != "" {
			m.Content.Data["text/html"] = html
		}
		if plain != "" {
			m.Content.Data["text/plain"] = plain
		}
		m.Content.Transient.DisplayID = id
		return m
	}
	stream := func(name, text string) message {
		return message{MsgType: "stream", Content: content{Name: name, Text: text}}
	}
	thinking := `<div class="gonbchat-thinking">thinking…</div>`
	// A reply in replace mode: thinking, three growing updates, final with text/plain.
	replace := []message{
		disp("display_data", "r", thinking, ""),
		disp("update_display_data", "r", "<p>流</p>", ""),
		disp("update_display_data", "r", "<p>流冰</p>", ""),
		disp("update_display_data", "r", "<p>流冰 drifts</p>", "流冰 drifts"),
	}
	// A reply in append mode: the main display gets thinking and the final render, a companion
	// script display gets the updates and ends empty.
	appendMode := []message{
		disp("display_data", "a", thinking, ""),
		disp("display_data", "a-js", "<script>1</script>", ""),
		disp("update_display_data", "a-js", "<script>2</script>", ""),
		disp("update_display_data", "a-js", "<script>3</script>", ""),
		disp("update_display_data", "a", "<p>流冰 drifts</p>", "流冰 drifts"),
		disp("update_display_data", "a-js", "", ""),
	}
	errLine := disp("display_data", "", `<div class="gonbchat-error" style="color:#c00">✖ no key</div>`, "✖ no key")
	for _, tc := range []struct {
		name   string
		expect string // the metadata.gonbchat.expect object
		inputs string // the metadata.gonbchat.inputs list
		extra  string // more of metadata.gonbchat
		status string // default "ok"
		msgs   []message
		fails  []string // substrings of the failures, in order; none: the cell passes
	}{
		{name: "replace streams", expect: `{"streams":true,"final_plain":true,"contains":["流冰 drifts"]}`, msgs: replace},
		{name: "append streams", expect: `{"streams":true,"final_plain":true,"contains":["流冰"],"not_contains":["sk-"]}`, msgs: appendMode},
		{name: "too few updates", expect: `{"streams":true}`, msgs: replace[:3], fails: []string{"want >= 3 update_display_data, got 2"}},
		{name: "no display", expect: `{"streams":true}`, msgs: []message{stream("stdout", "流冰")}, fails: []string{"got 0"}},
		{name: "two replies", expect: `{"streams":true}`,
			msgs:  append(append([]message{}, replace...), disp("update_display_data", "other", "<p>x</p>", "")),
			fails: []string{"exactly one updated display_id"}},
		{name: "still thinking", expect: `{"streams":true}`,
			msgs:  append(append([]message{}, replace...), disp("update_display_data", "r", thinking, "")),
			fails: []string{"thinking indicator"}},
		{name: "no final plain", expect: `{"streams":true,"final_plain":true}`,
			msgs:  append(append([]message{}, replace[:3]...), disp("update_display_data", "r", "<p>流冰!</p>", "")),
			fails: []string{"has no text/plain"}},
		{name: "contains final only", expect: `{"contains":["<p>流</p>"]}`, msgs: replace, fails: []string{`"<p>流</p>" is not in`}},
		{name: "contains stdout", expect: `{"contains":["hello"]}`, msgs: []message{stream("stdout", "hello\n")}},
		{name: "contains not stderr", expect: `{"contains":["hello"]}`, msgs: []message{stream("stderr", "hello\n")}, fails: []string{"is not in"}},
		{name: "not_contains intermediate", expect: `{"not_contains":["<p>流</p>"]}`, msgs: replace, fails: []string{"was shown"}},
		{name: "error line", expect: `{"error_line":true,"contains":["no key"]}`, msgs: []message{errLine}},
		{name: "no error line", expect: `{"error_line":true}`, msgs: []message{stream("stdout", "✖ no key\n")}, fails: []string{"error_line"}},
		{name: "error message", expect: `{"error_line":true}`,
			msgs:  []message{errLine, {MsgType: "error", Content: content{Ename: "ERROR", Evalue: "failed to run go build"}}},
			fails: []string{"error message: ERROR: failed to run go build"}},
		{name: "panic", status: "ok", msgs: []message{stream("stderr", "panic: boom\n\ngoroutine 1 [running]:\n")}, fails: []string{"stderr shows a failure"}},
		{name: "exit status", msgs: []message{stream("stderr", "exit status 1\n")}, fails: []string{"stderr shows a failure"}},
		{name: "klog error", msgs: []message{stream("stderr", "E1121 07:36:59.077951   14790 gonbui.go:211] gob: type not registered\n")},
			fails: []string{"stderr shows a failure"}},
		{name: "harmless stderr", msgs: []message{stream("stderr", "warning: slow network\n")}},
		{name: "status error", status: "error", fails: []string{`status "error"`}},
		{name: "timeout", status: "timeout", fails: []string{`status "timeout"`}},
		{name: "not run", status: "not_run", expect: `{"contains":["x"]}`, fails: []string{"not run"}},
		{name: "inputs", expect: `{"contains":[">>> 你好"]}`, inputs: `["你好",""]`,
			msgs: []message{
				{MsgType: "input_request", Content: content{Prompt: ">>> "}}, {MsgType: "input_reply", Content: content{Value: "你好"}},
				{MsgType: "input_request", Content: content{Prompt: ">>> "}}, {MsgType: "input_reply", Content: content{Value: ""}},
			}},
		{name: "more input requests", inputs: `[""]`,
			msgs: []message{
				{MsgType: "input_request", Content: content{Prompt: ">>> "}}, {MsgType: "input_reply", Content: content{Value: ""}},
				{MsgType: "input_request", Content: content{Prompt: ">>> "}}, {MsgType: "input_reply", Content: content{Value: ""}},
			},
			fails: []string{"asked for input 2 times, metadata.gonbchat.inputs has 1 lines"}},
		{name: "fewer input requests", inputs: `["a",""]`, fails: []string{"asked for input 0 times"}},
		{name: "unknown gonbchat key", inputs: `[]`, expect: `{}`, extra: `,"input":["x"]`, fails: []string{"unknown field \"input\""}},
		{name: "unknown key", expect: `{"stream":true}`, fails: []string{"unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g []string
			if tc.expect != "" {
				g = append(g, `"expect":`+tc.expect)
			}
			if tc.inputs != "" {
				g = append(g, `"inputs":`+tc.inputs)
			}
			meta := json.RawMessage(`{"gonbchat":{` + strings.Join(g, ",") + tc.extra + `}}`)
			status := tc.status
			if status == "" {
				status = "ok"
			}
			got := checkCell(&cellRun{Status: status, Metadata: meta, Messages: tc.msgs})
			if len(got) != len(tc.fails) {
				t.Fatalf("got %d failures, want %d:\n%s", len(got), len(tc.fails), strings.Join(got, "\n"))
			}
			for i, want := range tc.fails {
				if !strings.Contains(got[i], want) {
					t.Errorf("failure %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}
