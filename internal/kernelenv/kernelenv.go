// Package kernelenv tells a GoNB cell program what kind of Jupyter client runs its kernel.
//
// A cell cannot see the client's settings (whether it answers input requests, whether it runs
// JavaScript), but it can see which program started the kernel: the cell program's parent is the
// GoNB kernel, whose parent is the launcher (a Jupyter server, nbconvert, papermill, a script
// using jupyter_client, VS Code…). The command lines come from /proc on Linux and from sysctl on
// macOS; elsewhere the launcher is unknown.
package kernelenv

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Launcher returns the command line of the program that started this cell's kernel ("" when it
// cannot be read).
func Launcher() string {
	return Cmdline(ParentOf(Kernel()))
}

var kernel atomic.Int64

// Kernel returns the pid of the GoNB kernel: the parent of a cell program, or what SetKernel
// said (the kernel helper, whose parent is gone, serves the cells of one kernel).
func Kernel() int {
	if k := kernel.Load(); k > 0 {
		return int(k)
	}
	return os.Getppid()
}

// SetKernel tells a process that is not a cell program which pid its kernel has.
func SetKernel(pid int) { kernel.Store(int64(pid)) }

// Kind is what kind of frontend started the kernel.
type Kind int

const (
	// KindUnknown: a program that is not known to answer input requests (a jupyter_client
	// script, a test harness, an unreadable launcher).
	KindUnknown Kind = iota
	// KindBatch: a runner that executes a notebook with nobody in front of it (nbconvert,
	// nbclient, papermill).
	KindBatch
	// KindInteractive: a frontend where a person answers input boxes (Jupyter Notebook or Lab,
	// Jupyter Server, JupyterHub's single-user server, VS Code's Jupyter extension).
	KindInteractive
)

var (
	batchMarks = []string{"nbconvert", "nbclient", "papermill"}
	// Jupyter's servers, as their console scripts or as python -m; JupyterHub's single-user
	// server; VS Code (desktop, remote and code-server) starts kernels from its extension host
	// (a node process, or Electron's utility process that says which kind it is), older versions
	// through the Python extension's launcher daemon. Not a bare "vscode": a jupyter_client
	// script kept under ~/vscode-projects/ would wait for an answer nobody gives.
	interactiveMarks = []string{
		"jupyter-notebook", "jupyter-lab", "jupyter-server", "jupyter_server", "jupyterlab",
		"notebook.app", "jupyter notebook", "jupyter lab", "jupyter server",
		"-m notebook", "-m jupyterlab", "-m jupyter_server", "-m nbclassic", "jupyter-nbclassic",
		"jupyterhub-singleuser", "jupyter-labhub", "jupyterhub.singleuser",
		"--type=extensionHost", "--vscode-utility-kind=extension-host", ".vscode-server", "code-server",
		"vscode_datascience_helpers", "/.vscode/extensions/",
	}
)

// FrontendOf classifies a launcher's command line.
func FrontendOf(launcher string) Kind {
	switch {
	case containsAny(launcher, batchMarks...):
		return KindBatch
	case containsAny(launcher, interactiveMarks...):
		return KindInteractive
	}
	return KindUnknown
}

// Frontend classifies the program that started this cell's kernel.
func Frontend() Kind { return FrontendOf(Launcher()) }

// Batch reports whether the kernel was started by a runner that executes a notebook without a
// person in front of it: nbconvert, nbclient or papermill. They never answer input requests.
func Batch() bool { return Frontend() == KindBatch }

// LiveServer reports whether the kernel was started by a Jupyter server that serves a browser
// frontend (Notebook, Lab, Jupyter Server, JupyterHub, Voilà), where outputs may run JavaScript.
func LiveServer() bool {
	l := Launcher()
	if containsAny(l, batchMarks...) {
		return false
	}
	return containsAny(l, "jupyter-notebook", "jupyter-lab", "jupyter-server", "jupyter_server",
		"jupyterlab", "notebook.app", "jupyter notebook", "jupyter lab", "jupyter server",
		"-m notebook", "-m jupyterlab", "-m jupyter_server", "jupyterhub-singleuser", "jupyter-labhub", "voila")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// StateDir is where gonbchat keeps a GoNB kernel's state ($GONB_TMP_DIR/.gonbchat: chats, key
// pools, pages, the kernel-mode helper's socket), "" outside a kernel.
func StateDir() string { return StateDirFrom(os.Getenv) }

// StateDirFrom is StateDir with the environment read through getenv.
func StateDirFrom(getenv func(string) string) string {
	if d := getenv("GONB_TMP_DIR"); d != "" {
		return filepath.Join(d, ".gonbchat")
	}
	return ""
}
