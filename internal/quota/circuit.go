package quota

import (
	"github.com/casebridge/casebridge/internal/retry"

	"context"
	"sync"
	"time"
)

// Circuit pauses work after repeated access denials. AccessDeniedException
// is the deployment's fault (a missing IAM grant), so hammering the service
// with every queued message only burns their receive counts: after
// threshold consecutive denials the circuit opens, stays open for cooldown,
// then lets one probe through (half-open). The probe's result closes it or
// opens it again.
//
// A Circuit is safe for concurrent use.
type Circuit struct {
	threshold int
	cooldown  time.Duration
	clock     Clock

	mu        sync.Mutex
	denials   int
	open      bool
	openUntil time.Time
	probing   bool      // half-open and a probe was let through
	probeAt   time.Time // when the probe was let through
	changed   chan struct{}
}

// CircuitOption configures a Circuit.
type CircuitOption func(*Circuit)

// WithCircuitClock sets the circuit's time source (default: the real clock).
func WithCircuitClock(c Clock) CircuitOption {
	return func(cb *Circuit) { cb.clock = clockOrReal(c) }
}

// NewCircuit returns a closed circuit. threshold < 1 is taken as 1 and a
// cooldown ≤ 0 as 30s.
func NewCircuit(threshold int, cooldown time.Duration, opts ...CircuitOption) *Circuit {
	if threshold < 1 {
		threshold = 1
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	c := &Circuit{threshold: threshold, cooldown: cooldown, clock: realClock{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Record reports the class of a finished call; success is Record("").
// Denials count up; any answer that shows the call was authorised (success,
// throttle, validation, not-found) resets the count and closes the circuit.
// Transient errors and cancellations say nothing about permissions and
// change nothing.
func (c *Circuit) Record(class retry.Class) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch class {
	case retry.ClassForbidden:
		c.denials++
		if c.open && c.probing || !c.open && c.denials >= c.threshold {
			c.trip()
		}
	case "", retry.ClassThrottle, retry.ClassValidation, retry.ClassNotFound:
		c.denials = 0
		if c.open {
			c.open, c.probing = false, false
			c.notify()
		}
	}
}

func (c *Circuit) trip() {
	c.open, c.probing = true, false
	c.openUntil = c.clock.Now().Add(c.cooldown)
	c.notify()
}

func (c *Circuit) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Open reports whether the circuit is open and its cooldown still running
// (the worker reports not-ready meanwhile). Half-open counts as not open.
func (c *Circuit) Open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open && c.clock.Now().Before(c.openUntil)
}

// Wait returns nil when work may go on: at once while the circuit is
// closed; when it is open, after the cooldown, and then to one caller only
// (the probe) until the probe's result is recorded — or, if none is within
// another cooldown (the probe found no message), to the next caller. It
// returns ctx's error if ctx ends first.
func (c *Circuit) Wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		if !c.open {
			c.mu.Unlock()
			return nil
		}
		now := c.clock.Now()
		var wake time.Time
		switch {
		case now.Before(c.openUntil):
			wake = c.openUntil
		case !c.probing || !now.Before(c.probeAt.Add(c.cooldown)):
			c.probing, c.probeAt = true, now
			c.mu.Unlock()
			return nil
		default:
			wake = c.probeAt.Add(c.cooldown)
		}
		changed := c.changed
		c.mu.Unlock()

		select {
		case <-c.clock.After(wake.Sub(now)):
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
