//go:build !linux && !darwin

package kernelenv

// ParentOf returns 0: this system gives no portable way to read another process's parent.
func ParentOf(pid int) int { return 0 }

// Cmdline returns "": this system gives no portable way to read another process's command line.
func Cmdline(pid int) string { return "" }
