package poll

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilHolds(t *testing.T) {
	var n atomic.Int32
	if !Until(time.Minute, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("Until gave up on a condition that held at the third check")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("cond checked %d times, want 3 (stop at the first true)", got)
	}
}

func TestUntilGivesUp(t *testing.T) {
	var n atomic.Int32
	start := time.Now()
	if Until(100*time.Millisecond, func() bool { n.Add(1); return false }) {
		t.Fatal("Until reported a condition that never held")
	}
	// Lower bound only: a loaded machine may overshoot, never undershoot.
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("gave up after %v, before the 100ms timeout", d)
	}
	if n.Load() < 2 {
		t.Errorf("cond checked %d times, want it checked again at the deadline", n.Load())
	}
}
