package quota

import (
	"math"
	"time"
)

// What operators need to see whether scaling follows the quota (issue 14):
// is this instance held back by the account's quota, and how much of it
// does it get.

const (
	// boundFor is how long a throttle, or a caller made to wait past the
	// slow start, keeps QuotaBound true.
	boundFor = 10 * time.Second
	// rateBuckets one-second buckets make Rate's window.
	rateBuckets = 10
)

type secCount struct {
	sec int64 // Unix second
	n   int
}

func (l *Limiter) countSuccessLocked(now time.Time) {
	sec := now.Unix()
	b := &l.perS[sec%rateBuckets]
	if b.sec != sec {
		*b = secCount{sec: sec}
	}
	b.n++
}

// QuotaBound reports whether the account's quota is what limits this
// instance now: a call was throttled, or callers had to wait for the limiter
// after its slow start, within the last 10 s. While it is true across a
// fleet, more instances (ECS tasks, Lambda concurrency) bring no more
// throughput, only more throttles, because every instance spends the same
// account-wide quota: scale on queue depth only while it is false, and
// raise the quota when the queue still grows.
func (l *Limiter) QuotaBound() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	recent := func(t time.Time) bool { return !t.IsZero() && now.Sub(t) < boundFor }
	return recent(l.lastThrottle) || recent(l.lastWaited)
}

// Rate is this instance's rate of successful calls over the last 10 s, in
// calls/s: the share of the quota it actually gets. Limit is the rate it
// allows itself; the two differ when the limiter is not what limits (too few
// messages) or when calls are throttled. A process younger than 10 s is
// measured over its age (a second at least).
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	sec := now.Unix()
	n := 0
	for _, b := range l.perS {
		if b.sec > sec-rateBuckets && b.sec <= sec {
			n += b.n
		}
	}
	span := float64(rateBuckets)
	if !l.started.IsZero() {
		span = min(span, max(1, now.Sub(l.started).Seconds()))
	}
	return float64(n) / span
}

// Limit is the current rate in calls/s; +Inf when unlimited.
func (l *Limiter) Limit() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rateLocked(l.clock.Now())
	if r > unlimitedAbove {
		return math.Inf(1)
	}
	return r
}
