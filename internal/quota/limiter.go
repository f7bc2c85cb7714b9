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
// which are what the simulation tests (limiter_sim_test.go,
// limiter_fleet_test.go) were run with.
type LimiterConfig struct {
	// Ceiling is a hard upper bound in calls/s (CASEBRIDGE_RATE_LIMIT);
	// 0 = none. With one, an occasional throttle shifts the calls' phase
	// instead of lowering the rate (ceiling.go).
	Ceiling float64

	// InitialRate is where the slow start begins, in calls/s (default 10).
	// Every call admitted in slow start raises the rate by 10 %, so it is
	// past 1000/s after about a second of calls and unlimited above
	// 100 000/s; yet the first calls are spaced (100, 91, 83 ms…), so that
	// a fresh Lambda environment's ten records meet a quota of 2/s burst 2
	// with one throttle rather than eight. +Inf starts unlimited.
	InitialRate float64

	// Decrease is the multiplicative decrease β: after a throttle the rate
	// becomes β·W, W being the rate we were throttled at (default 0.95).
	Decrease float64
	// ProbeCalls sets K, how long the rate takes to climb back to W: about
	// ProbeCalls calls, i.e. ProbeCalls/W seconds, kept within
	// [MinProbe, MaxProbe] (defaults 60, 1s, 10s). More calls between two
	// probes of the limit means fewer throttles per call. This time is
	// counted in successful calls, not on the clock (see control.go).
	ProbeCalls float64
	MinProbe   time.Duration
	MaxProbe   time.Duration
	// MinRate is the floor in calls/s after throttles (default 0.2), so a
	// storm of throttles can never stop the process for good.
	MinRate float64

	// Clock is the time source (default: the real clock).
	Clock Clock
}

func (c LimiterConfig) withDefaults() LimiterConfig {
	if c.Ceiling < 0 || math.IsNaN(c.Ceiling) {
		c.Ceiling = 0
	}
	if c.InitialRate <= 0 || math.IsNaN(c.InitialRate) {
		c.InitialRate = 10
	}
	if c.Decrease <= 0 || c.Decrease >= 1 || math.IsNaN(c.Decrease) {
		c.Decrease = 0.95
	}
	if c.ProbeCalls <= 0 || math.IsNaN(c.ProbeCalls) {
		c.ProbeCalls = 60
	}
	if c.MinProbe <= 0 {
		c.MinProbe = time.Second
	}
	if c.MaxProbe < c.MinProbe {
		c.MaxProbe = max(10*time.Second, c.MinProbe)
	}
	if c.MinRate <= 0 || math.IsNaN(c.MinRate) {
		c.MinRate = 0.2
	}
	c.Clock = clockOrReal(c.Clock)
	return c
}

// Limiter paces every UpdateCase call of the process. It finds this
// process's share of the account's quota by itself, without talking to the
// other instances that spend the same quota (see control.go): a slow start
// until the first throttle, a climb per success from what the last second
// granted until the next one, then a cubic curve (as TCP CUBIC's, with
// successful calls for a clock) that drops to β·W on a throttle, climbs back
// quickly at first, stays near W for a while and then probes above it.
// The pacing itself is a golang.org/x/time/rate token bucket with burst 1,
// so calls are spaced rather than bunched (the account's bucket holds two);
// waiters queue in FIFO order and only the head holds a reservation, so a
// lower rate applies at once to everyone queued.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	cfg   LimiterConfig
	clock Clock

	mu      sync.Mutex
	tb      *rate.Limiter
	queue   []chan struct{} // FIFO of waiters; queue[0] may reserve
	changed chan struct{}   // closed (and replaced) when the rate drops

	started time.Time // first Wait

	// Slow start and climb (control.go).
	slowStart bool    // no throttle yet, or climbing after the first one
	climb     bool    // climbing: the slow start's first throttle has come
	climbFrom float64 // where the climb began
	ssRate    float64 // rate of both, +Inf once past unlimitedAbove

	// The curve after the climb.
	w    float64       // W: just under the rate at the last throttle
	k    time.Duration // K: time to climb back to w
	drop float64       // the curve starts at (1-drop)·w
	// tau is the curve's clock: seconds of successful calls since the last
	// decrease, each success counting one slot at the rate of the moment.
	tau float64

	lastDecrease    time.Time
	holdUntil       time.Time // throttles before this belong to the last decrease
	nSuccAtDecrease int
	blind           bool      // no success since the last decrease
	streak          int       // throttles in a row that came before the rate recovered
	episode         time.Time // first throttle of the current run of recent ones

	succ  [successRing]time.Time
	nSucc int

	// For QuotaBound and Rate (status.go).
	lastThrottle time.Time
	lastWaited   time.Time // a caller last had to wait, past the slow start
	perS         [rateBuckets]secCount

	// notBefore: no reservation is made for an earlier time (ceiling.go).
	notBefore time.Time

	// The last calls' results (true: went through), in a ring.
	results  [sustainedOf]bool
	nResults int
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
		// Only a call admitted here grows the slow start: a look that finds
		// no token free is not a call. The call that queues instead grows it
		// once, when it reserves as the head waiter (reserveLocked).
		res, d := l.bucketLocked(l.clock.Now(), 1)
		if d == 0 {
			l.onReserveLocked()
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

// reserveLocked is the head waiter taking its slot, which grows the slow
// start: it brings the bucket to the current rate and reserves one call for
// the first of waiters callers that want one.
func (l *Limiter) reserveLocked(now time.Time, waiters int) (*rate.Reservation, time.Duration) {
	l.onReserveLocked()
	return l.bucketLocked(now, waiters)
}

// bucketLocked is reserveLocked without the slow start's growth.
func (l *Limiter) bucketLocked(now time.Time, waiters int) (*rate.Reservation, time.Duration) {
	if l.started.IsZero() {
		l.started = now
	}
	// After a phase shift the bucket's schedule starts in the future; x/time/rate
	// takes a reservation earlier than its last one as if made at its last,
	// so reserve from there.
	at := now
	if l.notBefore.After(at) {
		at = l.notBefore
	}
	l.tb.SetLimitAt(at, toLimit(l.rateLocked(now)))
	res := l.tb.ReserveN(at, 1)
	d := res.DelayFrom(now)
	// Waiting in the slow start proper is the limiter ramping up; after the
	// first throttle it is the quota holding us back.
	if (!l.slowStart || l.climb) && (d > 0 || waiters > 1) {
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
