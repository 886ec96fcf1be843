//go:build !gonbchat_kernel

package display

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU makes stats.renderTime count the CPU time of the calling OS thread, so that
// preemption by other processes does not inflate it. The caller must stay on its thread
// (runtime.LockOSThread) while the cell renders; the simulated streams run in one goroutine.
func threadCPU() (restore func()) {
	runtime.LockOSThread()
	old := cpuNow
	cpuNow = func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
			return 0
		}
		return time.Duration(ts.Nano())
	}
	return func() { cpuNow = old; runtime.UnlockOSThread() }
}
