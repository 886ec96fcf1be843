// Package kernelenv tells a GoNB cell program what kind of Jupyter client runs its kernel.
//
// A cell cannot see the client's settings (whether it answers input requests, whether it runs
// JavaScript), but it can see which program started the kernel: the cell program's parent is the
// GoNB kernel, whose parent is the launcher (a Jupyter server, nbconvert, papermill, a script
// using jupyter_client…).
package kernelenv

import (
	"fmt"
	"os"
	"strings"
)

// Launcher returns the command line of the program that started this cell's kernel ("" when it
// cannot be read, e.g. without /proc).
func Launcher() string {
	return Cmdline(ParentOf(os.Getppid()))
}

// Batch reports whether the kernel was started by a runner that executes a notebook without a
// person in front of it: nbconvert, nbclient or papermill. They never answer input requests.
func Batch() bool {
	return containsAny(Launcher(), "nbconvert", "nbclient", "papermill")
}

// LiveServer reports whether the kernel was started by a Jupyter server that serves a browser
// frontend (Notebook, Lab, Jupyter Server, Voilà), where outputs may run JavaScript.
func LiveServer() bool {
	l := Launcher()
	if containsAny(l, "nbconvert", "nbclient", "papermill") {
		return false
	}
	return containsAny(l, "jupyter-notebook", "jupyter-lab", "jupyter-server", "jupyter_server",
		"jupyterlab", "notebook.app", "jupyter notebook", "jupyter lab", "jupyter server", "voila")
}

// ParentOf returns the parent of process pid, from /proc (0 where there is no /proc).
func ParentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: the fields after it are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	var state string
	var ppid int
	fmt.Sscan(s[i+1:], &state, &ppid)
	return ppid
}

// Cmdline returns the command line of process pid, its arguments joined by spaces.
func Cmdline(pid int) string {
	if pid <= 0 {
		return ""
	}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
