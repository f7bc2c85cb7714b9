package quota

import (
	"time"

	"golang.org/x/time/rate"
)

// This file is how the Limiter answers throttles when the operator set a
// ceiling (CASEBRIDGE_RATE_LIMIT), which is how a fleet gets exact shares:
// every instance at R ÷ N.
//
// Instances at exactly equal rates, each calling at a steady period, settle
// into a pattern where no three calls meet on the account's bucket of two:
// each collision shifts the phase of the instance it threw off, until none
// collide (TestFleetFixedRates: three at 97.5 % of R, never throttled).
// Lowering the rate after such a collision would break the equality that
// makes them quiet, and the instance that lowered it would then collide
// more, not less, and sink (a fifth of R in the fleet simulation). So with
// a ceiling, a throttle only shifts the phase: the next call waits between
// one and two periods from now. Only throttles that keep coming
// (sustainedThrottles, and 10 %, of the last sustainedOf calls) lower the
// rate as they would without a ceiling: then another caller spends the
// quota, or the shares add up to more than it; the rate climbs back to the
// ceiling within MinProbe. (The price: a ceiling set above the quota is held
// with somewhat more throttles than no ceiling, 5–8 % of calls against 3–5 %
// at R = 2 in the simulation.)

const (
	sustainedThrottles = 2
	sustainedOf        = 20 // the results the Limiter remembers
)

// collisionUnderCeilingLocked reports whether a throttle is one to answer
// with a phase shift only, and if so shifts it.
func (l *Limiter) collisionUnderCeilingLocked(now time.Time) bool {
	if l.cfg.Ceiling <= 0 || l.sustainedLocked() {
		return false
	}
	l.holdUntil = now.Add(minHoldoff)
	l.shiftPhaseLocked(now)
	close(l.changed)
	l.changed = make(chan struct{})
	return true
}

// shiftPhaseLocked makes the next call wait a whole period and a random part
// of another from now. The whole period alone would move the phase only by
// the throttled call's latency, a few milliseconds when Cases is near, and
// the next call would meet the same others again. Under a ceiling the rate
// is finite and positive.
func (l *Limiter) shiftPhaseLocked(now time.Time) {
	r := l.rateLocked(now)
	// A hash of the clock for the random part: no state, and the fleet
	// simulation (on a fake clock) stays deterministic.
	u := float64(uint64(now.UnixNano())*0x9E3779B97F4A7C15>>11) / (1 << 53)
	l.notBefore = now.Add(time.Duration(u / r * float64(time.Second)))
	l.tb = rate.NewLimiter(rate.Limit(r), 1)
	l.tb.ReserveN(l.notBefore, 1)
}

// sustainedLocked: at least sustainedThrottles throttles, and at least 10 %,
// of the last sustainedOf calls, once there have been 10.
func (l *Limiter) sustainedLocked() bool {
	n, k := min(l.nResults, sustainedOf), 0
	for _, ok := range l.results[:n] {
		if !ok {
			k++
		}
	}
	return n >= 10 && k >= sustainedThrottles && k*sustainedOf >= sustainedThrottles*n
}

// recordResultLocked remembers one call's result, in place of the oldest.
func (l *Limiter) recordResultLocked(ok bool) {
	l.results[l.nResults%sustainedOf] = ok
	l.nResults++
}
