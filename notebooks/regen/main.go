// Command regen runs the lesson notebooks offline and saves their outputs in them, so that a
// teacher who opens a notebook in the repository sees what every cell does. Run it at the
// repository root:
//
//	go run ./notebooks/regen                               # every lesson
//	go run ./notebooks/regen notebooks/ch3-responses.ipynb # one
//
// Each notebook runs top to bottom on a fresh GoNB kernel through notebooks/testdata/run_notebook.py,
// as `go test ./notebooks` runs it: input boxes are answered with the lines of each cell's
// metadata.gonbchat.inputs. The environment is cleared of every key, base URL, gateway and
// replay variable first, so every reply comes from the offline mirror model; a reply that did
// not (its display metadata says its source) stops the command. A notebook is written only
// when all its cells ran without error.
//
// The outputs are what a Jupyter front end saves (the final state of every display), with the
// typed input lines shown after their prompts. What changes from run to run is made stable:
// response, message and completion ids are renumbered consistently within a notebook, Unix
// timestamps are fixed, and the display metadata loses its update count; so running regen
// twice gives the same files.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gonbchat/gonbchat/internal/fsutil"
)

func main() {
	kernel := flag.String("kernel", "gonb", "Jupyter kernel name")
	timeout := flag.Int("timeout", 180, "seconds per cell")
	python := flag.String("python", "/usr/bin/python3", "Python with jupyter_client (Debian's)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./notebooks/regen [flags] [notebook.ipynb ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	paths := flag.Args()
	if len(paths) == 0 {
		all, _ := filepath.Glob(filepath.Join("notebooks", "*.ipynb"))
		for _, p := range all {
			if !strings.HasSuffix(p, ".nbconvert.ipynb") {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 {
			fmt.Fprintln(os.Stderr, "regen: no notebooks/*.ipynb here: run it at the repository root")
			os.Exit(2)
		}
	}
	failed := false
	for _, p := range paths {
		if err := regen(p, *python, *kernel, *timeout); err != nil {
			fmt.Fprintf(os.Stderr, "regen: %s: %v\n", p, err)
			failed = true
			continue
		}
		fmt.Printf("regen: %s: outputs saved\n", p)
	}
	if failed {
		os.Exit(1)
	}
}

// offlineEnv is the environment without anything that would reach a live model or a recording.
func offlineEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasSuffix(k, "_API_KEY"), k == "OPENAI_BASE_URL", strings.HasPrefix(k, "GONBCHAT_"),
			k == "JUPYTERHUB_API_TOKEN":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func regen(path, python, kernel string, timeout int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	orig, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	dir := filepath.Dir(abs)
	driver := filepath.Join(dir, "testdata", "run_notebook.py")
	if _, err := os.Stat(driver); err != nil {
		return fmt.Errorf("%s not found: the lessons live in notebooks/ next to testdata/", driver)
	}
	cmd := exec.Command(python, driver, "--kernel", kernel, "--timeout", strconv.Itoa(timeout),
		"--cwd", dir, "--jupyter-root", dir, abs)
	cmd.Env = offlineEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && stdout.Len() == 0 {
		return fmt.Errorf("run_notebook.py: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	var run runDoc
	if err := decodeJSON(stdout.Bytes(), &run); err != nil {
		return fmt.Errorf("run_notebook.py printed no document: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	if err := check(&run); err != nil {
		return err
	}
	var nb map[string]any
	if err := decodeJSON(orig, &nb); err != nil {
		return err
	}
	if err := fill(nb, &run); err != nil {
		return err
	}
	out, err := encodeNotebook(nb)
	if err != nil {
		return err
	}
	if cur, err := os.ReadFile(abs); err != nil || !bytes.Equal(cur, orig) {
		return errors.New("the notebook changed while it ran: not written")
	}
	return fsutil.WriteFileAtomic(abs, out, 0o644)
}

// check refuses a run that did not go well: a cell that failed, or a reply that did not come
// from the offline model.
func check(run *runDoc) error {
	if run.Aborted != "" {
		return fmt.Errorf("the run was aborted: %s", run.Aborted)
	}
	var problems []string
	for _, c := range run.Cells {
		first, _, _ := strings.Cut(strings.TrimSpace(c.Source), "\n")
		if c.Status != "ok" {
			problems = append(problems, fmt.Sprintf("cell %d (%s): %s", c.Index, first, c.Status))
		}
		for _, m := range c.Messages {
			switch m.MsgType {
			case "error":
				problems = append(problems, fmt.Sprintf("cell %d (%s): %v: %v", c.Index, first, m.Content["ename"], m.Content["evalue"]))
			case "stream":
				if t, _ := m.Content["text"].(string); m.Content["name"] == "stderr" && strings.Contains(t, "panic") {
					problems = append(problems, fmt.Sprintf("cell %d (%s): %s", c.Index, first, lastLines(t, 5)))
				}
			case "display_data", "update_display_data":
				md, _ := m.Content["metadata"].(map[string]any)
				g, _ := md["gonbchat"].(map[string]any)
				if src, ok := g["source"].(string); ok && src != "offline" {
					problems = append(problems, fmt.Sprintf("cell %d (%s): a reply from %q, not the offline model", c.Index, first, src))
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("not written:\n  %s", strings.Join(slices.Compact(problems), "\n  "))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
