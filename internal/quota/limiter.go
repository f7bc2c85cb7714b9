package quota

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterConfig tunes a Limiter. Zero values take the documented defaults,
// which are what the simulation tests (limiter_sim_test.go) were run with.
type LimiterConfig struct {
	// Ceiling is an upper bound in calls/s (CASEBRIDGE_RATE_LIMIT); 0 = none.
	Ceiling float64

	// InitialRate is where the slow start begins, in calls/s (default 10).
	// Until the first throttle the rate doubles every SlowStartDoubling of
	// busy time and is unlimited once above 100 000 calls/s, so a quota that
	// is never hit costs well under a second. It exists because 64 callers
	// that all start unlimited at once would meet a small quota with 60
	// throttles in one go. +Inf starts unlimited.
	InitialRate float64
	// SlowStartDoubling is the doubling time of the slow start (default 100ms).
	SlowStartDoubling time.Duration

	// Decrease is the multiplicative decrease β: after a throttle the rate
	// becomes β·W, W being the rate at which we were throttled (default 0.95).
	Decrease float64
	// ProbeCalls sets how long the rate takes to climb back to W: about
	// ProbeCalls calls, i.e. ProbeCalls/W seconds, kept within
	// [MinProbe, MaxProbe] (defaults 60, 1s, 10s). More calls between two
	// probes of the limit means fewer throttles per call.
	ProbeCalls float64
	MinProbe   time.Duration
	MaxProbe   time.Duration
	// MinRate is the floor in calls/s after throttles (default 0.2), so a
	// storm of throttles can never stop the process for good.
	MinRate float64

	// Clock is the time source (default: the real clock).
	Clock Clock
}

const (
	unlimitedAbove = 1e5 // calls/s treated as "no limit"
	estimateWindow = 2 * time.Second
	minHoldoff     = 250 * time.Millisecond
	successRing    = 64
	// minMeasured successes make a measurement worth using (±3 %).
	minMeasured = 32
	// minMeasuredSlowStart is the same for a throttle that ends the slow start.
	minMeasuredSlowStart = 4
	// maxDrop bounds one decrease: with a bucket of one, a client below 2R
	// still gets every second call through, so R is at least half our rate.
	maxDrop = 0.5
	// plateauMargin puts W just under the rate we were throttled at: with a
	// small bucket the edge is soft (the network's jitter decides), and a
	// plateau right on it is throttled every few seconds.
	plateauMargin = 0.01
)

func (c LimiterConfig) withDefaults() LimiterConfig {
	if c.Ceiling < 0 || math.IsNaN(c.Ceiling) {
		c.Ceiling = 0
	}
	if c.InitialRate <= 0 || math.IsNaN(c.InitialRate) {
		c.InitialRate = 10
	}
	if c.SlowStartDoubling <= 0 {
		c.SlowStartDoubling = 100 * time.Millisecond
	}
	if c.Decrease <= 0 || c.Decrease >= 1 {
		c.Decrease = 0.95
	}
	if c.ProbeCalls <= 0 {
		c.ProbeCalls = 60
	}
	if c.MinProbe <= 0 {
		c.MinProbe = time.Second
	}
	if c.MaxProbe < c.MinProbe {
		c.MaxProbe = max(10*time.Second, c.MinProbe)
	}
	if c.MinRate <= 0 {
		c.MinRate = 0.2
	}
	c.Clock = clockOrReal(c.Clock)
	return c
}

// Limiter paces every UpdateCase call of the process. It finds the
// account's quota by itself: a slow start until the first throttle, then a
// cubic curve in time (as TCP CUBIC does for windows) that drops to β·W on a
// throttle, climbs back quickly at first, stays near W for a while and then
// probes above it, faster the longer no throttle comes. The pacing itself
// is a golang.org/x/time/rate token bucket with burst 1, so calls are spaced
// rather than bunched; waiters queue in FIFO order and only the head holds a
// reservation, so a lower rate applies at once to everyone queued.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	cfg   LimiterConfig
	clock Clock

	mu      sync.Mutex
	tb      *rate.Limiter
	queue   []chan struct{} // FIFO of waiters; queue[0] may reserve
	changed chan struct{}   // closed (and replaced) when the rate drops

	started     time.Time // first Wait
	lastReserve time.Time
	slowStart   bool
	ssRate      float64 // slow-start rate, +Inf once past unlimitedAbove

	w            float64       // rate at the last throttle
	k            time.Duration // time to climb back to w
	drop         float64       // the curve starts at (1-drop)·w
	lastDecrease time.Time
	holdUntil    time.Time // throttles before this belong to the last decrease

	streak  int       // throttles in a row that came before the rate recovered
	episode time.Time // first throttle of the current run of recent ones

	succ  [successRing]time.Time
	nSucc int

	// For QuotaBound and Rate (status.go).
	lastThrottle time.Time
	lastWaited   time.Time // a caller last had to wait, past the slow start
	perS         [rateBuckets]secCount
}

// NewLimiter returns a limiter in slow start.
func NewLimiter(cfg LimiterConfig) *Limiter {
	cfg = cfg.withDefaults()
	l := &Limiter{
		cfg:       cfg,
		clock:     cfg.Clock,
		tb:        rate.NewLimiter(rate.Inf, 1),
		changed:   make(chan struct{}),
		slowStart: true,
		ssRate:    cfg.InitialRate,
	}
	if l.ssRate > unlimitedAbove {
		l.ssRate = math.Inf(1)
	}
	return l
}

// Wait blocks until a call may be made, or until ctx ends (then it returns
// ctx's error and takes no slot).
func (l *Limiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	if len(l.queue) == 0 {
		// Fast path: nobody queued and a token free (always when unlimited).
		res, d := l.reserveLocked(l.clock.Now(), 1)
		if d == 0 {
			l.mu.Unlock()
			return nil
		}
		res.CancelAt(l.clock.Now())
	}
	turn := make(chan struct{})
	l.queue = append(l.queue, turn)
	if len(l.queue) == 1 {
		close(turn)
	}
	l.mu.Unlock()
	defer l.leave(turn)

	select {
	case <-turn:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		res, d := l.reserveLocked(l.clock.Now(), len(l.queue))
		changed := l.changed
		l.mu.Unlock()
		if d == 0 {
			return nil
		}
		select {
		case <-l.clock.After(d):
			return nil
		case <-changed:
			// Reserved at a rate that is no longer true: take a new slot.
			l.cancel(res)
		case <-ctx.Done():
			l.cancel(res)
			return ctx.Err()
		}
	}
}

func (l *Limiter) cancel(res *rate.Reservation) {
	l.mu.Lock()
	res.CancelAt(l.clock.Now())
	l.mu.Unlock()
}

// leave removes a waiter and hands the turn to the next one.
func (l *Limiter) leave(turn chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.queue, turn)
	if i < 0 {
		return
	}
	l.queue = slices.Delete(l.queue, i, i+1)
	if i == 0 && len(l.queue) > 0 {
		close(l.queue[0])
	}
}

// reserveLocked brings the bucket to the current rate and reserves one call
// for the first of waiters callers that want one.
func (l *Limiter) reserveLocked(now time.Time, waiters int) (*rate.Reservation, time.Duration) {
	if l.started.IsZero() {
		l.started = now
	}
	if l.slowStart && !l.lastReserve.IsZero() && !math.IsInf(l.ssRate, 1) {
		// Grow only with demand: an idle pause counts as one doubling at most.
		dt := min(now.Sub(l.lastReserve), l.cfg.SlowStartDoubling)
		l.ssRate *= math.Exp2(float64(dt) / float64(l.cfg.SlowStartDoubling))
		if l.ssRate > unlimitedAbove {
			l.ssRate = math.Inf(1)
		}
	}
	l.lastReserve = now
	l.tb.SetLimitAt(now, toLimit(l.rateLocked(now)))
	res := l.tb.ReserveN(now, 1)
	d := res.DelayFrom(now)
	if !l.slowStart && (d > 0 || waiters > 1) {
		l.lastWaited = now
	}
	return res, d
}

func toLimit(r float64) rate.Limit {
	if math.IsInf(r, 1) || r > unlimitedAbove {
		return rate.Inf
	}
	return rate.Limit(r)
}

// rateLocked is the rate at now, ceiling included.
func (l *Limiter) rateLocked(now time.Time) float64 {
	r := l.ssRate
	if !l.slowStart {
		r = l.curve(now.Sub(l.lastDecrease))
	}
	if l.cfg.Ceiling > 0 {
		r = min(r, l.cfg.Ceiling)
	}
	return r
}

// curve is the rate t after the last decrease: (1-drop)·w at t=0, w at t=k
// (with a flat approach), (2-β)·w at 2k, then doubling every second (every 2k when
// that is shorter) — so an estimate of w that was far too low is left behind
// within seconds.
func (l *Limiter) curve(t time.Duration) float64 {
	beta := l.cfg.Decrease
	x := float64(t) / float64(l.k)
	var r float64
	if x <= 1 {
		y := 1 - x
		r = l.w * (1 - l.drop*y*y*y)
	} else if x <= 2 {
		y := x - 1
		r = l.w * (1 + (1-beta)*y*y*y)
	} else {
		// Past 2k no throttle has come for a long while: the quota has grown
		// (a storm ended, a limit was raised), so double every second at most.
		past := t - 2*l.k
		r = l.w * (2 - beta) * math.Exp2(float64(past)/float64(min(2*l.k, time.Second)))
	}
	if r > unlimitedAbove {
		return math.Inf(1)
	}
	return max(r, l.cfg.MinRate)
}

// OnSuccess reports a call that went through. Successes feed the estimate
// of the rate the service actually grants; the increase itself follows the
// curve in time, so it is the same at 5 and at 500 calls/s.
func (l *Limiter) OnSuccess() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.succ[l.nSucc%successRing] = now
	l.nSucc++
	l.countSuccessLocked(now)
}

// OnThrottle reports a throttled call. The rate we were throttled at, less
// plateauMargin, becomes W, the level the curve climbs back to; the rate
// drops below it by 1-β. When the throttles go on (in slow start, or again
// before the rate got clearly above where the last decrease put it) that
// decrease was not enough, and each further one drops twice as far (10 %,
// 20 %, 40 %, at most maxDrop) but never below the success rate measured
// over at least minMeasured calls, which the service did grant.
//
// Why not take W from the measured success rate, as an earlier version did:
// at a small quota a couple of seconds hold ten calls, and with a bucket of
// one a client just above R sees only about every second call succeed, so
// the measurement said 3.8 calls/s against a quota of 5 and the curve then
// sat on that plateau for 2k (20 s). The measurement now only bounds a drop.
//
// Throttles of calls made before the last decrease took effect are ignored.
func (l *Limiter) OnThrottle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.lastThrottle = now
	if now.Before(l.holdUntil) {
		return
	}
	if l.started.IsZero() {
		l.started = now
	}
	r := l.rateLocked(now)
	beta := l.cfg.Decrease
	// Sustained: throttled again before the rate got clearly above where the
	// last decrease put it. A throttle further up the climb is a new probe
	// that found the limit, and starts over with the small drop.
	sustained := l.slowStart ||
		(now.Sub(l.lastDecrease) < estimateWindow && r <= (1-l.drop)*l.w*(2-beta))
	if sustained && !l.slowStart {
		l.streak++
	} else {
		l.streak = 0
	}
	w := r * (1 - plateauMargin)
	drop := min(maxDrop, (1-beta)*float64(int(1)<<min(l.streak, 8)))
	k := min(max(time.Duration(l.cfg.ProbeCalls/w*float64(time.Second)), l.cfg.MinProbe), l.cfg.MaxProbe)
	// Throttles that keep coming within estimateWindow of each other make
	// one episode, over the limit all along: measure over all of it.
	recent := l.slowStart || now.Sub(l.lastDecrease) < estimateWindow
	if !recent {
		l.episode = now
	}
	since := l.episode
	if l.slowStart {
		since = l.started
		k = l.cfg.MinProbe
	}
	// Before the first throttle every call went through, so in slow start the
	// successes are the granted rate itself (the burst-1 bias above needs
	// throttled calls mixed in): a few of them are enough to trust.
	need := minMeasured
	if l.slowStart {
		need = minMeasuredSlowStart
	}
	if m, n := l.measuredLocked(now, since); l.slowStart && n >= need && m < w {
		// Every call so far went through: their rate (one more, for the noise)
		// is where the quota was found, a fair W to settle under and probe past.
		w = min(w, m*float64(n+1)/float64(n))
		k = l.cfg.MinProbe
	} else if l.slowStart && n < need {
		// Throttled almost at once (a quota below the slow start's first
		// rate): too few calls to measure, so halve, as TCP leaves slow start.
		w = w / 2
		k = l.cfg.MinProbe
	} else if n >= need && recent && m < (1-drop)*w {
		// Over the limit for a while and far above what was granted (a
		// slow start that overshot while feedback was under way, a quota
		// that shrank): start from the granted rate, a lower bound of R, and
		// climb towards at most twice it (R is at least half our rate, see
		// maxDrop), so the climb finds R within a second or two.
		w = min(w, 2*m)
		drop = 1 - m/w
		k = l.cfg.MinProbe
	}
	if math.IsInf(w, 1) {
		w, k = l.cfg.InitialRate, l.cfg.MinProbe
	}
	w = max(w, l.cfg.MinRate/beta)
	l.slowStart = false
	l.w, l.k, l.drop = w, k, drop
	l.lastDecrease = now
	l.holdUntil = now.Add(max(minHoldoff, time.Duration(2/(beta*w)*float64(time.Second))))
	close(l.changed)
	l.changed = make(chan struct{})
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
