//go:build !linux && !gonbchat_kernel

package display

// threadCPU keeps wall time outside Linux.
func threadCPU() (restore func()) { return func() {} }
