//go:build unix

package kernel

import (
	"os"
	"testing"
)

// A program that winds down by itself on the stop button (webchat.Launch) declares it: the
// interrupt still stops the helper's calls in flight, but the end of the last one must not end
// the cell (before the fix it re-raised SIGINT here, killing the test binary).
func TestHandledInterruptDoesNotEndTheCell(t *testing.T) {
	release := HandleInterrupts()
	defer release()
	begin() // a call in flight, as when the stop comes during a model call
	ch := make(chan os.Signal, 1)
	ch <- os.Interrupt
	close(ch)
	onInterrupt(ch) // the stop button
	sigMu.Lock()
	marked := interrupted
	sigMu.Unlock()
	if !marked {
		t.Fatal("the interrupt was not noted: calls in flight would not be stopped")
	}
	end() // the call returns
	sigMu.Lock()
	defer sigMu.Unlock()
	if interrupted {
		t.Error("the interrupt is still pending: the program's next call would end the cell")
	}
	if sigCh != nil {
		t.Error("SIGINT is still caught with no call in flight")
	}
}

func TestHandleInterruptsReleases(t *testing.T) {
	release := HandleInterrupts()
	if endsCell() {
		t.Fatal("endsCell while handled")
	}
	release()
	release() // a second release is harmless
	if !endsCell() {
		t.Error("interrupts still handled after release")
	}
}
