package quota

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// simConfig is one simulated deployment: callers in flight against a server
// token bucket, with the timing noise of a real process (see instanceConfig).
type simConfig struct {
	rate    float64 // server quota, calls/s
	burst   int     // server bucket size
	callers int     // messages in flight (CASEBRIDGE_MAX_IN_FLIGHT)
	latency time.Duration
	jitter  time.Duration
	refill  time.Duration
	runFor  time.Duration
	seed    uint64
}

// simResult is what one simulated instance measured in its windows.
type simResult struct {
	windows []simWindow
	trace   []string  // the limiter's rate over time
	rates   []float64 // the same, sampled every fleetConfig.sampleEvery
}

type simWindow struct {
	from, to             time.Duration
	successes, throttles int
}

func (w simWindow) goodput() float64 { return float64(w.successes) / (w.to - w.from).Seconds() }
func (w simWindow) throttled() float64 {
	return float64(w.throttles) / float64(max(1, w.successes+w.throttles))
}

// simulate runs one instance alone against the server (see simulateFleet).
func simulate(lim *Limiter, clk *fakeClock, cfg simConfig, windows ...[2]time.Duration) simResult {
	r := simulateFleet([]*Limiter{lim}, clk, fleetConfig{rate: cfg.rate, burst: cfg.burst, runFor: cfg.runFor,
		fleet: []instanceConfig{{callers: cfg.callers, latency: cfg.latency, jitter: cfg.jitter,
			refill: cfg.refill, seed: cfg.seed}}}, windows...)
	return r.instances[0]
}

// TestLimiterFindsServerRate runs the benchmark's throttled scenario (and a
// few more) in simulation: 64 messages in flight, no ceiling, a 5 s warm-up
// and then the benchmark's 30 s window, plus the rest of 90 s for the steady
// state. Every case runs over several seeds, because one lucky seed hid the
// R=5 miss that the real benchmark found.
func TestLimiterFindsServerRate(t *testing.T) {
	tests := []struct {
		rate    float64
		burst   int
		latency time.Duration
		jitter  time.Duration
	}{
		{rate: 50, burst: 5, latency: 2 * time.Millisecond, jitter: 5 * time.Millisecond},
		{rate: 5, burst: 1, latency: 2 * time.Millisecond, jitter: 3 * time.Millisecond},
		{rate: 5, burst: 1, latency: 20 * time.Millisecond, jitter: 2 * time.Millisecond},
		{rate: 50, burst: 5, latency: 150 * time.Millisecond, jitter: 5 * time.Millisecond},
		{rate: 500, burst: 10, latency: 20 * time.Millisecond, jitter: 2 * time.Millisecond},
	}
	windows := [][2]time.Duration{{5 * time.Second, 35 * time.Second}, {35 * time.Second, 90 * time.Second}}
	for _, tt := range tests {
		name := fmt.Sprintf("R=%v,B=%d,L=%v,J=%v", tt.rate, tt.burst, tt.latency, tt.jitter)
		t.Run(name, func(t *testing.T) {
			for _, seed := range []uint64{1, 2, 3} {
				clk := newFakeClock()
				lim := NewLimiter(LimiterConfig{Clock: clk})
				r := simulate(lim, clk, simConfig{
					rate: tt.rate, burst: tt.burst, callers: 64,
					latency: tt.latency, jitter: tt.jitter, refill: 5 * time.Millisecond,
					runFor: 90 * time.Second, seed: seed,
				}, windows...)
				for _, w := range r.windows {
					g, th := w.goodput(), w.throttled()
					t.Logf("seed %d, %v–%v: goodput %.2f/s (%.1f%% of %v), %d throttled of %d (%.2f%%)",
						seed, w.from, w.to, g, 100*g/tt.rate, tt.rate, w.throttles, w.successes+w.throttles, 100*th)
					if math.IsNaN(g) || g < 0.95*tt.rate || th > 0.05 {
						t.Errorf("seed %d, %v–%v: goodput %.2f/s (want ≥ 95%% of %v), throttled %.2f%% (want ≤ 5%%); rate over time:\n%s",
							seed, w.from, w.to, g, tt.rate, 100*th, strings.Join(r.trace, "\n"))
					}
				}
			}
		})
	}
}

// TestLimiterWarmUpIsPolite: 64 callers with a backlog meet a quota the slow
// start overshoots; the first 5 s must not be a throttle storm. (A version
// that trusted only ≥ 32 successes took 40 throttles here at R = 5 and 20.)
func TestLimiterWarmUpIsPolite(t *testing.T) {
	for _, rate := range []float64{5, 20, 50} {
		for _, seed := range []uint64{1, 2, 3} {
			clk := newFakeClock()
			lim := NewLimiter(LimiterConfig{Clock: clk})
			r := simulate(lim, clk, simConfig{rate: rate, burst: 2, callers: 64, latency: 2 * time.Millisecond,
				jitter: 3 * time.Millisecond, refill: 5 * time.Millisecond, runFor: 6 * time.Second, seed: seed},
				[2]time.Duration{0, 5 * time.Second})
			w := r.windows[0]
			t.Logf("R=%v seed %d: first 5 s: %d ok, %d throttled", rate, seed, w.successes, w.throttles)
			if w.throttles > 20 {
				t.Errorf("R=%v seed %d: %d throttled calls in the first 5 s, want ≤ 20", rate, seed, w.throttles)
			}
			if g := float64(w.successes) / 5; g < 0.8*rate {
				t.Errorf("R=%v seed %d: %.1f calls/s in the first 5 s, want ≥ 80%% of R", rate, seed, g)
			}
		}
	}
}
