package retry

import (
	"time"

	goretry "github.com/sethvargo/go-retry"
)

// Defaults used by NewBackoff when it is given nonsense.
const (
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffMax  = 20 * time.Second
)

// WithFullJitter replaces each delay d of next by one drawn uniformly from
// [0, d) ("full jitter"), which spreads retries of many callers that failed
// together better than ± jitter does. go-retry v0.5.0 ships exactly this
// decorator, so we delegate to it (it draws from math/rand/v2's
// goroutine-safe global source) rather than keeping a copy.
func WithFullJitter(next goretry.Backoff) goretry.Backoff {
	return goretry.WithFullJitter(next)
}

// NewBackoff returns a backoff whose n-th delay (n from 0) is uniform in
// [0, min(max, base·2ⁿ)). It never stops by itself: the caller bounds it by
// the message's time budget (for example with goretry.WithMaxDuration or a
// context deadline). A base ≤ 0 becomes DefaultBackoffBase; a max below base
// becomes base. Each message should get its own backoff, since the attempt
// counter lives inside it.
func NewBackoff(base, max time.Duration) goretry.Backoff {
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if max < base {
		max = base
	}
	return WithFullJitter(goretry.WithCappedDuration(max, goretry.NewExponential(base)))
}

// NextDelay asks b for the next delay and raises it to the server's own
// Retry-After hint when the classified error carries one. stop is true when
// b has stopped.
func NextDelay(b goretry.Backoff, c Classified) (d time.Duration, stop bool) {
	d, stop = b.Next()
	if stop {
		return 0, true
	}
	return max(d, c.RetryAfter), false
}
