package quota

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestFleetFixedRates is a diagnostic for target 2, not a target: three
// workers pace at FIXED rates (no adaptation: InitialRate = Ceiling =
// MinRate) on one bucket of R = 2 burst 2, and the log shows what each
// split costs in throttles. It asserts only the two facts any fleet design
// rests on:
//
//   - exactly equal rates lock into a collision-free pattern (every stream
//     has the same period, and a throttle shifts the throttled one's phase
//     until no three calls meet): no throttles even at 97.5 % of R;
//   - near-equal but unequal rates are the worst case, not a good one: their
//     phases drift slowly, so they stay aligned for seconds at a time
//     (0.58/0.60/0.62 at 90 % of R: about 13 % of calls throttled). Rates
//     with a short common period (0.8/0.6/0.4, multiples of 0.2) lock too.
//
// So "close to fair" does not make a fleet quiet; only equal (or
// commensurate and held constant) pacing does.
func TestFleetFixedRates(t *testing.T) {
	splits := [][3]float64{
		{0.65, 0.65, 0.65}, {0.6, 0.6, 0.6}, // equal
		{0.58, 0.6, 0.62}, {0.62, 0.65, 0.68}, {0.55, 0.6, 0.65}, // near-equal
		{0.8, 0.6, 0.4}, {0.9, 0.7, 0.4}, {0.95, 0.5, 0.4}, {0.75, 0.46, 0.5}, // unequal
	}
	throttled := map[[3]float64]float64{}
	for _, rs := range splits {
		clk := newFakeClock()
		lims := make([]*Limiter, 3)
		for i := range lims {
			lims[i] = NewLimiter(LimiterConfig{Clock: clk, InitialRate: rs[i], Ceiling: rs[i], MinRate: rs[i]})
		}
		fleet := []instanceConfig{worker(1, 0, 0), worker(1, 1, 300*time.Millisecond), worker(1, 2, 700*time.Millisecond)}
		r := simulateFleet(lims, clk, fleetConfig{rate: 2, burst: 2, runFor: 70 * time.Second, fleet: fleet},
			[2]time.Duration{10 * time.Second, 70 * time.Second})
		var per []string
		for _, in := range r.instances {
			w := in.windows[0]
			per = append(per, fmt.Sprintf("%.2f/s %.0f%%", w.goodput(), 100*w.throttled()))
		}
		w := r.total[0]
		throttled[rs] = w.throttled()
		t.Logf("rates %v (%.1f%% of R): goodput %.2f/s, %.1f%% throttled; per instance %s",
			rs, 50*(rs[0]+rs[1]+rs[2]), w.goodput(), 100*w.throttled(), strings.Join(per, ", "))
	}
	if th := throttled[[3]float64{0.65, 0.65, 0.65}]; th > 0.01 {
		t.Errorf("equal rates at 97.5%% of R: %.1f%% throttled, want ≤ 1%% (phase lock)", 100*th)
	}
	if th := throttled[[3]float64{0.58, 0.6, 0.62}]; th < 0.05 {
		t.Errorf("near-equal rates at 90%% of R: %.1f%% throttled; the simulation no longer shows the slow-beat collisions this test documents", 100*th)
	}
}
