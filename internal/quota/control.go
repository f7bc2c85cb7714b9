package quota

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// This file is the Limiter's rate control: how the rate moves with calls
// admitted, successes and throttles.
//
// Every increase is driven by events (calls admitted, successes), never by
// the wall clock alone: a Lambda environment is frozen between invocations,
// and a curve in wall time would leap between two batches. The curve after
// the climb runs on tau, seconds of successful calls (one slot at the rate
// of the moment per success), so it climbs as fast as a curve in time while
// calls flow, and not at all while none do.
//
// The phases:
//   - slow start: every call admitted raises the rate by ssGrowth, until the
//     first throttle;
//   - climb: from what the last second granted, ×(1+climbGrowth) per
//     success, until the next throttle (the slow start's first throttle
//     tells little: the account's bucket of two lets a slow start at 10/s
//     through twice even at 2/s);
//   - the curve: from (1-drop)·W back to W in K, flat near it, (2-β)·W at
//     2K, then doubling every 2K.

const (
	unlimitedAbove = 1e5 // calls/s treated as "no limit"
	estimateWindow = 2 * time.Second
	minHoldoff     = 250 * time.Millisecond
	successRing    = 64
	// minMeasured successes make a measurement worth using (±3 %).
	minMeasured = 32
	// maxDrop bounds one decrease: with a bucket of one, a client below 2R
	// still gets every second call through, so R is at least half our rate.
	maxDrop = 0.5
	// plateauMargin puts W under the rate we were throttled at: with a
	// small bucket the edge is soft (the network's jitter decides), and a
	// plateau right on it is throttled every few seconds.
	plateauMargin = 0.015
	// blindAfter: see blindLocked.
	blindAfter = time.Second

	// ssGrowth per call admitted in slow start (see InitialRate).
	ssGrowth = 0.1
	// ssExitFloor: the climb starts from what the last second granted, but
	// not below r/ssExitFloor (the rate that was throttled): a bucket that
	// others keep empty says nothing.
	ssExitFloor = 4
	// climbGrowth per success, at most climbGrowth·climbCalls/r at r calls/s:
	// at hundreds of calls a second a growth per success would outrun the
	// calls in flight and overshoot many times before a throttle came back.
	climbGrowth = 0.2
	climbCalls  = 40
	// climbFloor: the climb's throttle puts W at what the last second
	// granted, but not below climbFloor times the rate throttled (the last
	// second may hold the climb's slower start).
	climbFloor = 0.6
	// findRatio: a climb whose last second granted more than findRatio
	// times where it began was still finding the quota: the curve after it
	// probes again after MinProbe rather than K.
	findRatio = 1.1
	// firstProbe bounds how long the first plateau after the climb is held.
	firstProbe = 5 * time.Second

	// shortCycle and shortCalls: a throttle that comes sooner than K (in
	// tau) and sooner than shortCalls·ProbeCalls successes after a regular
	// decrease puts W lower, by up to shortCycle·(1-β) the sooner it came.
	shortCycle = 2
	shortCalls = 0.35
)

// onReserveLocked is a call admitted: the slow start grows with it.
func (l *Limiter) onReserveLocked() {
	if !l.slowStart || l.climb || math.IsInf(l.ssRate, 1) {
		return
	}
	l.ssRate *= 1 + ssGrowth
	if l.cfg.Ceiling > 0 {
		// Growing past a hard cap would only make the first throttle's
		// decrease start from a rate never used.
		l.ssRate = min(l.ssRate, l.cfg.Ceiling)
	}
	if l.ssRate > unlimitedAbove {
		l.ssRate = math.Inf(1)
	}
}

// rateLocked is the rate at now, ceiling included.
func (l *Limiter) rateLocked(now time.Time) float64 {
	r := l.ssRate
	if !l.slowStart {
		r = l.curve(l.tauDur())
	}
	if l.blind && (!l.slowStart || l.climb) {
		r = l.blindLocked(now, r)
	}
	if l.cfg.Ceiling > 0 {
		r = min(r, l.cfg.Ceiling)
	}
	return r
}

func (l *Limiter) tauDur() time.Duration { return time.Duration(l.tau * float64(time.Second)) }

// blindLocked is r grown for the time since the last decrease when no call
// has gone through since: after a grace it doubles every second, as a slow
// start would, so that a limiter nobody calls (or whose quota was taken
// away and came back) does not stay low for good. The first success puts
// the rate back under the successes' control.
func (l *Limiter) blindLocked(now time.Time, r float64) float64 {
	grace := max(blindAfter, time.Duration(4/r*float64(time.Second)))
	if t := now.Sub(l.lastDecrease) - grace; t > 0 {
		r *= math.Exp2(t.Seconds())
	}
	if r > unlimitedAbove {
		return math.Inf(1)
	}
	return r
}

// curve is the rate t (of tau) after the last decrease: (1-drop)·w at t=0,
// w at t=k (with a flat approach), (2-β)·w at 2k, then doubling every 2k,
// so that an estimate of w far too low (a quota raised, an instance of the
// fleet gone) is left behind, but not so fast that a plateau which merely
// went without a throttle for a while (the account's bucket of two absorbs
// a rate a little above R for seconds) ends in a storm.
func (l *Limiter) curve(t time.Duration) float64 {
	beta := l.cfg.Decrease
	x := float64(t) / float64(l.k)
	var r float64
	switch {
	case x <= 1:
		y := 1 - x
		r = l.w * (1 - l.drop*y*y*y)
	case x <= 2:
		y := x - 1
		r = l.w * (1 + (1-beta)*y*y*y)
	default:
		r = l.w * (2 - beta) * math.Exp2((x-2)/2)
	}
	if r > unlimitedAbove {
		return math.Inf(1)
	}
	return max(r, l.cfg.MinRate)
}

// probeTime is K for a plateau at w.
func (l *Limiter) probeTime(w float64) time.Duration {
	return min(max(time.Duration(l.cfg.ProbeCalls/w*float64(time.Second)), l.cfg.MinProbe), l.cfg.MaxProbe)
}

// OnSuccess reports a call that went through: the climb grows with it, the
// curve's clock advances.
func (l *Limiter) OnSuccess() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.succ[l.nSucc%successRing] = now
	l.nSucc++
	l.countSuccessLocked(now)
	l.recordResultLocked(true)
	switch {
	case l.climb:
		if l.blind {
			l.ssRate, l.blind = l.rateLocked(now), false
		}
		l.ssRate *= 1 + climbGrowth*min(1, climbCalls/l.ssRate)
		if l.ssRate > unlimitedAbove {
			l.ssRate = math.Inf(1)
		}
	case !l.slowStart:
		if l.blind {
			// Resume the curve where the blind growth got to.
			if r := l.rateLocked(now); r > l.curve(l.tauDur()) && !math.IsInf(r, 1) {
				l.w, l.drop, l.tau = r, 0, 0
			}
			l.blind = false
		}
		if r := l.curve(l.tauDur()); !math.IsInf(r, 1) {
			l.tau += 1 / r
		}
	}
}

// OnThrottle reports a throttled call. Throttles of calls made before the
// last decrease took effect are ignored.
func (l *Limiter) OnThrottle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.lastThrottle = now
	l.recordResultLocked(false)
	if now.Before(l.holdUntil) {
		return
	}
	if l.started.IsZero() {
		l.started = now
	}
	r := l.rateLocked(now)
	if l.collisionUnderCeilingLocked(now) {
		return
	}
	atCeiling := l.cfg.Ceiling > 0 && r >= l.cfg.Ceiling
	// What the last second granted: a count, not a rate over the span of
	// the calls (two calls 100 ms apart that the account's bucket let
	// through are 2/s, not 10/s).
	got := float64(l.successesSinceLocked(now.Add(-time.Second)))
	if math.IsInf(r, 1) {
		// Unlimited until now: the quota is near what the last second
		// granted, certainly not far above twice that.
		r = max(2*got, l.cfg.InitialRate)
	}
	hold := minHoldoff
	switch {
	case atCeiling:
		// Throttles go on at the ceiling: someone else spends the quota.
		// Come down from the ceiling as from any plateau; the slow start's
		// estimates (one second's count) mean nothing at a rate the
		// operator chose.
		l.slowStart, l.climb = false, false
		l.decreaseLocked(now, r)
		// The ceiling is the operator's share: climb back to it within
		// MinProbe, not a whole K, so that a run of collisions (a loaded
		// machine bunching the calls) costs seconds, not minutes.
		l.k = l.cfg.MinProbe
		hold = max(hold, time.Duration(2/(l.cfg.Decrease*l.w)*float64(time.Second)))
	case l.slowStart && !l.climb:
		l.climb = true
		l.ssRate = min(l.cfg.Decrease*r, max(got, r/ssExitFloor, l.cfg.MinRate))
		l.climbFrom = l.ssRate
	case l.climb:
		l.leaveClimbLocked(r, got)
	default:
		l.decreaseLocked(now, r)
		hold = max(hold, time.Duration(2/(l.cfg.Decrease*l.w)*float64(time.Second)))
	}
	l.lastDecrease, l.tau, l.blind = now, 0, true
	l.nSuccAtDecrease = l.nSucc
	l.holdUntil = now.Add(hold)
	l.spendTokenLocked(now)
	close(l.changed)
	l.changed = make(chan struct{})
}

// leaveClimbLocked starts the curve after the climb's throttle at rate r:
// W just under what the last second granted (a climb outruns a bucket of
// two before the throttle says so), or under climbFloor·r if more.
func (l *Limiter) leaveClimbLocked(r, got float64) {
	beta := l.cfg.Decrease
	w := min(r, max(got, climbFloor*r)) * (1 - plateauMargin)
	// If the last second granted clearly more than where the climb began,
	// or the climb rose by more than one step (climbGrowth) before its
	// throttle, the quota may be higher still: probe again soon (a climb that
	// began low keeps the last second's count low, 3 calls at R = 5 burst 1).
	// Otherwise the climb only found again what the slow start had, and W is
	// the quota. Even then W is a guess from one second's count: probe it
	// again within firstProbe, not after a whole K (K is 16 s at R = 5).
	k := min(l.probeTime(w), firstProbe)
	if got > findRatio*l.climbFrom || r > (1+climbGrowth)*l.climbFrom {
		k = l.cfg.MinProbe
	}
	l.climb, l.slowStart = false, false
	l.w, l.k, l.drop = max(w, l.cfg.MinRate/beta), k, 1-beta
	l.streak = 0
}

// decreaseLocked is a throttle on the curve at rate r. The rate we were
// throttled at, less plateauMargin, becomes W, the level the curve climbs
// back to; the rate drops below it by 1-β. When the throttles go on (again
// before the rate got clearly above where the last decrease put it) that
// decrease was not enough, and each further one drops twice as far (10 %,
// 20 %, 40 %, at most maxDrop), but never far below the success rate
// measured over at least minMeasured calls, which the service did grant.
func (l *Limiter) decreaseLocked(now time.Time, r float64) {
	beta := l.cfg.Decrease
	sustained := now.Sub(l.lastDecrease) < estimateWindow && r <= (1-l.drop)*l.w*(2-beta)
	// The cycle now ending began with a plain decrease (not a storm's, nor
	// the climb's rough estimate).
	regular := l.streak == 0 && l.k >= l.probeTime(l.w)
	if sustained {
		l.streak++
	} else {
		l.streak = 0
	}
	w := r * (1 - plateauMargin)
	if !sustained && regular {
		// A throttle that comes soon after a regular decrease, in time and in
		// calls, says that W is too high: with the account's bucket of two
		// a rate a little above R goes on for seconds before a throttle, and
		// then only (r-R)/r of the calls are throttled, so the rate we were
		// throttled at overstates R. Put the next plateau lower, the sooner
		// the lower. An instance with a big share of a fleet's quota is
		// throttled more often than a small one, so this also pushes the
		// fleet towards fair shares.
		n := float64(l.nSucc - l.nSuccAtDecrease)
		if x := max(l.tau/l.k.Seconds(), n/(l.cfg.ProbeCalls*shortCalls)); x < 1 {
			w *= 1 - shortCycle*(1-beta)*(1-x)
		}
	}
	drop := min(maxDrop, (1-beta)*float64(int(1)<<min(l.streak, 8)))
	k := l.probeTime(w)
	// Throttles that keep coming within estimateWindow of each other make
	// one episode, over the limit all along: measure over all of it.
	recent := now.Sub(l.lastDecrease) < estimateWindow
	if !recent {
		l.episode = now
	}
	if m, n := l.measuredLocked(now, l.episode); n >= minMeasured && recent && m < (1-drop)*w {
		// Over the limit for a while and far above what was granted (a
		// quota that shrank, a fleet that grew): start from the granted
		// rate, a lower bound of R, and climb towards at most twice it (R is
		// at least half our rate, see maxDrop), so the climb finds R within
		// a second or two.
		w = min(w, 2*m)
		drop = 1 - m/w
		k = l.cfg.MinProbe
	}
	l.w, l.k, l.drop = max(w, l.cfg.MinRate/beta), k, drop
}

// spendTokenLocked applies the rate of now to our bucket and spends its
// token: the account's bucket is empty (that is what a throttle says), so
// the next call waits a whole slot at the new rate. A fresh bucket, so that
// a reservation cancelled after this (the head waiter's, made at the old
// rate) cannot hand back a token that lets a call out sooner.
func (l *Limiter) spendTokenLocked(now time.Time) {
	lim := toLimit(l.rateLocked(now))
	if lim == rate.Inf {
		l.tb.SetLimitAt(now, lim)
		return
	}
	l.tb = rate.NewLimiter(lim, 1)
	l.tb.ReserveN(now, 1)
}

// measuredLocked counts the successes n of the last estimateWindow, or since
// since if that is more recent, and their rate m: a lower bound of what the
// service grants (0 when n is 0).
func (l *Limiter) measuredLocked(now, since time.Time) (m float64, n int) {
	from := now.Add(-estimateWindow)
	if since.After(from) {
		from = since
	}
	for i := 1; i <= min(l.nSucc, successRing); i++ {
		if l.succ[(l.nSucc-i)%successRing].Before(from) {
			break
		}
		n++
	}
	if n == successRing {
		// The ring is full: measure over the span it covers instead.
		from = l.succ[l.nSucc%successRing]
	}
	span := now.Sub(from).Seconds()
	if n == 0 || span <= 0 {
		return 0, 0
	}
	return float64(n) / span, n
}

// successesSinceLocked counts the successes after t (as far as the ring
// remembers).
func (l *Limiter) successesSinceLocked(t time.Time) int {
	n := 0
	for i := 1; i <= min(l.nSucc, successRing); i++ {
		if !l.succ[(l.nSucc-i)%successRing].After(t) {
			break
		}
		n++
	}
	return n
}
