package kernelenv

import (
	"fmt"
	"os"
	"strings"
)

// ParentOf returns the parent of process pid, from /proc (0 where there is none).
func ParentOf(pid int) int {
	if pid <= 0 {
		return 0
	}
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
