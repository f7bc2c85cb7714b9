package quota

import (
	"github.com/casebridge/casebridge/internal/retry"

	"context"
	"testing"
	"time"
)

func TestCircuitOpensAfterConsecutiveDenials(t *testing.T) {
	tests := []struct {
		name     string
		records  []retry.Class
		wantOpen bool
	}{
		{"below threshold", []retry.Class{retry.ClassForbidden, retry.ClassForbidden}, false},
		{"at threshold", []retry.Class{retry.ClassForbidden, retry.ClassForbidden, retry.ClassForbidden}, true},
		{"success resets", []retry.Class{retry.ClassForbidden, retry.ClassForbidden, "", retry.ClassForbidden, retry.ClassForbidden}, false},
		{"throttle shows authorisation", []retry.Class{retry.ClassForbidden, retry.ClassForbidden, retry.ClassThrottle, retry.ClassForbidden}, false},
		{"transient says nothing", []retry.Class{retry.ClassForbidden, retry.ClassTransient, retry.ClassForbidden, retry.ClassCanceled, retry.ClassForbidden}, true},
		{"success closes an open circuit", []retry.Class{retry.ClassForbidden, retry.ClassForbidden, retry.ClassForbidden, ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCircuit(3, time.Minute, WithCircuitClock(newFakeClock()))
			for _, r := range tt.records {
				c.Record(r)
			}
			if got := c.Open(); got != tt.wantOpen {
				t.Errorf("Open() = %v, want %v", got, tt.wantOpen)
			}
		})
	}
}

// waitResult starts c.Wait in a goroutine and returns its result channel,
// after the waiter has armed its timer (a signal, not a sleep).
func waitResult(t *testing.T, ctx context.Context, c *Circuit, clk *fakeClock) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait(ctx) }()
	select {
	case <-clk.armed:
	case err := <-done:
		done <- err // returned without waiting; hand the result back
	}
	return done
}

func TestCircuitCooldownAndHalfOpen(t *testing.T) {
	clk := newFakeClock()
	c := NewCircuit(2, 30*time.Second, WithCircuitClock(clk))
	ctx := context.Background()
	if err := c.Wait(ctx); err != nil {
		t.Fatalf("closed circuit: Wait = %v", err)
	}
	c.Record(retry.ClassForbidden)
	c.Record(retry.ClassForbidden)
	if !c.Open() {
		t.Fatal("circuit did not open")
	}

	first := waitResult(t, ctx, c, clk)
	select {
	case err := <-first:
		t.Fatalf("Wait returned %v while open", err)
	default:
	}
	clk.Advance(30 * time.Second)
	if err := <-first; err != nil {
		t.Fatalf("Wait after cooldown = %v", err)
	}
	if c.Open() {
		t.Error("Open() is true in half-open state")
	}

	// Half-open: the first waiter was the probe; a second one waits for it.
	second := waitResult(t, ctx, c, clk)
	select {
	case err := <-second:
		t.Fatalf("second Wait returned %v during the probe", err)
	default:
	}
	// The probe is denied again: open for another cooldown.
	c.Record(retry.ClassForbidden)
	if !c.Open() {
		t.Fatal("a denied probe did not reopen the circuit")
	}
	<-clk.armed // the second waiter re-armed for the new cooldown
	clk.Advance(30 * time.Second)
	if err := <-second; err != nil {
		t.Fatalf("second Wait = %v", err)
	}
	c.Record("")
	if err := c.Wait(ctx); err != nil || c.Open() {
		t.Fatalf("after a good probe: Wait = %v, Open = %v", err, c.Open())
	}
}

func TestCircuitWaitHonoursContext(t *testing.T) {
	clk := newFakeClock()
	c := NewCircuit(1, time.Hour, WithCircuitClock(clk))
	c.Record(retry.ClassForbidden)
	ctx, cancel := context.WithCancel(context.Background())
	done := waitResult(t, ctx, c, clk)
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}
