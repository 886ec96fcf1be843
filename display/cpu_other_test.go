//go:build !linux

package display

// threadCPU keeps wall time outside Linux.
func threadCPU() (restore func()) { return func() {} }
