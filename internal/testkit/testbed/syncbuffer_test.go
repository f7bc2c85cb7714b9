package testbed

import (
	"testing"
	"time"
)

// TestSyncBufferWaitFor: a wait ends on the write that completes the
// output, and a wait for what never comes ends at its timeout.
func TestSyncBufferWaitFor(t *testing.T) {
	var b SyncBuffer
	done := make(chan bool)
	go func() { done <- b.WaitFor(10*time.Second, "rule 1", "at 1:5") }()
	b.Write([]byte("init failed: rule 1 "))
	b.Write([]byte("when at 1:5: bad\n"))
	if !<-done {
		t.Fatalf("WaitFor did not see %q", b.String())
	}
	if b.WaitFor(10*time.Millisecond, "never written") {
		t.Error("WaitFor reported output that was never written")
	}
}
