package kernelenv

import (
	"bytes"
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"
)

// ParentOf returns the parent of process pid, from sysctl (0 if it cannot be read).
func ParentOf(pid int) int {
	if pid <= 0 {
		return 0
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0
	}
	return int(kp.Eproc.Ppid)
}

// Cmdline returns the command line of process pid, its arguments joined by spaces.
func Cmdline(pid int) string {
	if pid <= 0 {
		return ""
	}
	// kern.procargs2: argc (int32), the executable's path, NULs, then argc arguments.
	raw, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil || len(raw) < 4 {
		return ""
	}
	argc := int(binary.LittleEndian.Uint32(raw[:4]))
	rest := raw[4:]
	if i := bytes.IndexByte(rest, 0); i >= 0 {
		rest = bytes.TrimLeft(rest[i:], "\x00")
	}
	var args []string
	for len(args) < argc && len(rest) > 0 {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			i = len(rest)
		}
		args = append(args, string(rest[:i]))
		rest = rest[min(i+1, len(rest)):]
	}
	return strings.TrimSpace(strings.Join(args, " "))
}
