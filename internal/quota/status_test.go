package quota

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestLimiterQuotaBound(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 20})
	if lim.QuotaBound() {
		t.Fatal("fresh limiter is quota-bound")
	}
	// Waiting in slow start is the limiter ramping up, not the quota.
	lim.mu.Lock()
	lim.reserveLocked(clk.Now(), 5)
	lim.mu.Unlock()
	if lim.QuotaBound() {
		t.Error("callers waiting in slow start made the limiter quota-bound")
	}
	lim.OnThrottle()
	if !lim.QuotaBound() {
		t.Error("not quota-bound right after a throttle")
	}
	clk.Advance(11 * time.Second)
	if lim.QuotaBound() {
		t.Error("still quota-bound 11 s after the throttle, with nobody waiting")
	}
	// Past the slow start, callers made to wait mean the quota limits us.
	_ = lim.Wait(context.Background())
	lim.mu.Lock()
	lim.reserveLocked(clk.Now(), 3)
	lim.mu.Unlock()
	if !lim.QuotaBound() {
		t.Error("callers waiting after the slow start, yet not quota-bound")
	}
}

func TestLimiterRate(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk})
	if got := lim.Rate(); got != 0 {
		t.Fatalf("Rate() with no calls = %v", got)
	}
	_ = lim.Wait(context.Background()) // starts the clock of the process
	for range 30 {                     // 2 successes a second for 15 s
		clk.Advance(500 * time.Millisecond)
		lim.OnSuccess()
	}
	if got := lim.Rate(); math.Abs(got-2) > 0.11 {
		t.Errorf("Rate() at 2 successes/s = %v, want 2 (over the last 10 s)", got)
	}
	clk.Advance(20 * time.Second)
	if got := lim.Rate(); got != 0 {
		t.Errorf("Rate() 20 s after the last success = %v, want 0", got)
	}
	// A young process is measured over its age, not over 10 s.
	young := NewLimiter(LimiterConfig{Clock: clk})
	_ = young.Wait(context.Background())
	for range 4 {
		clk.Advance(500 * time.Millisecond)
		young.OnSuccess()
	}
	if got := young.Rate(); math.Abs(got-2) > 0.11 {
		t.Errorf("Rate() of a 2 s old process at 2/s = %v, want 2", got)
	}
}
