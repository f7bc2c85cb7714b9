package quota

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestLimiterSlowStartBecomesUnlimited(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk})
	ctx := context.Background()
	// With no throttle the slow start doubles every 100ms of demand: within
	// two simulated seconds the limiter no longer limits (past 10 000/s after
	// one second already).
	calls := 0
	for clk.Now().Before(time.Unix(1_700_000_002, 0)) {
		lim.mu.Lock()
		_, d := lim.reserveLocked(clk.Now(), 1)
		lim.mu.Unlock()
		clk.Set(clk.Now().Add(d))
		calls++
		if d == 0 {
			clk.Set(clk.Now().Add(time.Millisecond))
		}
	}
	if got := lim.Limit(); !math.IsInf(got, 1) {
		t.Fatalf("Limit() after 2s without throttles = %v, want +Inf", got)
	}
	start := time.Now()
	for range 10000 {
		if err := lim.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("10000 unlimited Waits took %v", el)
	}
	t.Logf("%d calls admitted in the first two simulated seconds", calls)
}

func TestLimiterConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  LimiterConfig
		want float64
	}{
		{"unlimited from the start", LimiterConfig{InitialRate: math.Inf(1)}, math.Inf(1)},
		{"slow start begins at InitialRate", LimiterConfig{InitialRate: 20}, 20},
		{"ceiling caps the slow start", LimiterConfig{InitialRate: math.Inf(1), Ceiling: 7}, 7},
		{"defaults", LimiterConfig{}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Clock = newFakeClock()
			if got := NewLimiter(tt.cfg).Limit(); got != tt.want {
				t.Errorf("Limit() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLimiterThrottleDecreasesAndRecovers(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 40})
	lim.OnThrottle()
	r0 := lim.Limit()
	if r0 >= 40 {
		t.Fatalf("rate after a throttle = %v, want below 40", r0)
	}
	// A second throttle right away belongs to the same event.
	lim.OnThrottle()
	if got := lim.Limit(); got != r0 {
		t.Errorf("throttle within the holdoff changed the rate: %v → %v", r0, got)
	}
	// Without throttles the rate climbs back and beyond within seconds.
	clk.Advance(5 * time.Second)
	if got := lim.Limit(); got <= 40 {
		t.Errorf("rate 5s after the throttle = %v, want above 40", got)
	}
}

func TestLimiterWaitSpacesCallsAndHonoursContext(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: math.Inf(1), Ceiling: 10})
	ctx := context.Background()
	if err := lim.Wait(ctx); err != nil { // the one token of the bucket
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- lim.Wait(ctx) }()
	<-clk.armed // the head waiter armed its timer: 100ms at 10 calls/s

	third := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	go func() { third <- lim.Wait(cctx) }()

	clk.Advance(99 * time.Millisecond)
	select {
	case err := <-second:
		t.Fatalf("second Wait returned %v before its slot", err)
	default:
	}
	clk.Advance(time.Millisecond)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	// The third waiter is now the head; cancel it instead of serving it.
	<-clk.armed
	cancel()
	if err := <-third; err != context.Canceled {
		t.Fatalf("canceled Wait = %v", err)
	}
	// Its slot was given back: the next caller gets it 100ms after the second.
	clk.Advance(100 * time.Millisecond)
	if err := lim.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLimiterRateDropReschedulesHead(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 100, MinRate: 0.1})
	ctx := context.Background()
	_ = lim.Wait(ctx)
	for range 3 { // measured successes: about 1 call/s granted
		lim.OnSuccess()
		clk.Advance(time.Second)
	}
	_ = lim.Wait(ctx) // takes the token saved up meanwhile
	next := make(chan error, 1)
	go func() { next <- lim.Wait(ctx) }()
	<-clk.armed      // queued for a slot a few ms away
	lim.OnThrottle() // the rate drops far below 100/s
	<-clk.armed      // the head re-reserved at the new rate
	clk.Advance(10 * time.Millisecond)
	select {
	case <-next:
		t.Fatal("head kept its slot from before the rate drop")
	default:
	}
	clk.Advance(10 * time.Second)
	if err := <-next; err != nil {
		t.Fatal(err)
	}
}

// TestLimiterRecoversQuicklyAfterAStorm: after a throttle storm pushed the rate
// down to ~1.6/s and the quota came back, the rate must not crawl: once past
// the plateau (2k) it doubles every second.
func TestLimiterRecoversQuicklyAfterAStorm(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 2})
	lim.OnThrottle()                     // ends slow start
	clk.Advance(1500 * time.Millisecond) // past the hold-off: a new throttle event
	lim.OnThrottle()                     // still throttled: w ≈ 2/s, k = MaxProbe (10 s)
	w := lim.Limit() / 0.95
	if w > 3 {
		t.Fatalf("w = %v after the storm, want about 2", w)
	}
	// 2k (20 s) of plateau, then 4 s in which the rate must double each second.
	clk.Advance(24 * time.Second)
	if got := lim.Limit(); got < 16*w {
		t.Errorf("rate 24 s after the storm = %v, want ≥ 16×%v: recovery crawls", got, w)
	}
}

// TestLimiterCeilingCollisions: with a ceiling, a throttle now and then only
// shifts the phase (the rate stays at the ceiling, the next call waits a
// whole period); throttles that keep coming lower the rate as without one.
func TestLimiterCeilingCollisions(t *testing.T) {
	tests := []struct {
		name    string
		ceiling float64
		results string // per call: '.' success, 'T' throttle
		atCap   bool   // the last result left Limit() where it was
	}{
		{"one throttle at the ceiling", 1, "..........T", true},
		{"throttles far apart", 1, "..........T....................T....................T", true},
		{"throttles that keep coming", 1, "..........T..T..T", false},
		{"no ceiling: one throttle lowers the rate", 0, "..........T", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			lim := NewLimiter(LimiterConfig{Clock: clk, Ceiling: tt.ceiling, InitialRate: 1})
			var before float64
			for i, c := range tt.results {
				if i == len(tt.results)-1 {
					before = lim.Limit()
				}
				lim.mu.Lock()
				_, d := lim.reserveLocked(clk.Now(), 1)
				lim.mu.Unlock()
				clk.Set(clk.Now().Add(d + 20*time.Millisecond))
				if c == 'T' {
					lim.OnThrottle()
				} else {
					lim.OnSuccess()
				}
			}
			after := lim.Limit()
			if got := after >= before; got != tt.atCap {
				t.Errorf("Limit() went from %v to %v; want it kept: %v", before, after, tt.atCap)
			}
			if tt.atCap {
				// The phase shift: the next call waits a whole period.
				lim.OnThrottle() // within the hold: ignored
				lim.mu.Lock()
				_, d := lim.reserveLocked(clk.Now(), 1)
				lim.mu.Unlock()
				if d < 900*time.Millisecond {
					t.Errorf("next call after a collision waits %v, want about a period (1s)", d)
				}
			}
		})
	}
}

// TestLimiterClimbThatGrewProbesSoon: a climb that began low and went through
// a few steps before its throttle leaves a plateau from one second's count,
// which the ramp kept low (3 successes at R = 5 burst 1 in the benchmark); the
// curve must probe again within MinProbe, not sit there for firstProbe.
func TestLimiterClimbThatGrewProbesSoon(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 14})
	lim.OnThrottle() // the slow start's throttle, nothing granted yet: the climb begins at 14/4
	for range 3 {    // three steps of the climb go through
		clk.Advance(time.Duration(float64(time.Second) / lim.Limit()))
		lim.OnSuccess()
	}
	throttledAt := lim.Limit()
	clk.Advance(time.Duration(float64(time.Second) / throttledAt))
	lim.OnThrottle()
	var tau float64
	for tau < 3 { // three seconds of successful calls at the limiter's pace
		r := lim.Limit()
		clk.Advance(time.Duration(float64(time.Second) / r))
		lim.OnSuccess()
		tau += 1 / r
	}
	if got := lim.Limit(); got < 0.7*throttledAt {
		t.Errorf("rate 3 s of calls after the climb's throttle at %.2f/s = %.2f/s, want ≥ %.2f: the plateau from a ramp's count is held too long",
			throttledAt, got, 0.7*throttledAt)
	}
}

// TestLimiterSlowStartGrowsPerCallAdmitted: a call that finds no token free
// and queues is one call, one step of the slow start's growth.
func TestLimiterSlowStartGrowsPerCallAdmitted(t *testing.T) {
	clk := newFakeClock()
	lim := NewLimiter(LimiterConfig{Clock: clk, InitialRate: 10})
	ctx := context.Background()
	if err := lim.Wait(ctx); err != nil { // the bucket's token
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lim.Wait(ctx) }() // no token free: it queues
	<-clk.armed
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := lim.Limit(), 10*1.1*1.1; math.Abs(got-want) > 1e-9 {
		t.Errorf("Limit() after two calls = %v, want %v (10/s grown by 10 %% per call)", got, want)
	}
}
