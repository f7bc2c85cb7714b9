// Package poll waits, in tests, for conditions that offer no signal to wait
// on: state held by another process (goaws, a worker binary) or counters
// without change notification. Every wait has an overall deadline, so a
// condition that never comes fails the test with a message instead of hanging
// it until go test's global timeout.
//
// Prefer a signal (a channel, a hook, a log line) where the code under test
// offers one; poll only what can only be asked.
package poll

import (
	"testing"
	"time"
)

// Interval is the pause between two checks of a condition.
const Interval = 20 * time.Millisecond

// Until checks cond until it returns true or timeout has passed, and reports
// whether it held. cond is checked once more at the deadline, so a slow
// machine that overshoots the last pause still gets its answer. Use it where
// the caller builds its own failure message or must not call t.Fatal (outside
// the test's goroutine).
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(Interval, time.Until(deadline)))
	}
}

// WaitFor fails the test unless cond holds within timeout; what names the
// awaited condition in the failure message ("timed out after 30s waiting for
// <what>"). It must be called from the test's goroutine.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
