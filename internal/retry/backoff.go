package retry

import (
	"time"

	goretry "github.com/sethvargo/go-retry"
)

// defaultBackoffBase is NewBackoff's base when it is given nonsense.
const defaultBackoffBase = 100 * time.Millisecond

// NewBackoff returns a backoff whose n-th delay (n from 0) is uniform in
// [0, min(max, base·2ⁿ)). It never stops by itself: the caller bounds it by
// the message's time budget (for example with goretry.WithMaxDuration or a
// context deadline). A base ≤ 0 becomes defaultBackoffBase; a max below base
// becomes base. Full jitter (go-retry's decorator) spreads the retries of many
// callers that failed together better than ± jitter does. Each message should
// get its own backoff, since the attempt counter lives inside it.
func NewBackoff(base, max time.Duration) goretry.Backoff {
	if base <= 0 {
		base = defaultBackoffBase
	}
	if max < base {
		max = base
	}
	return goretry.WithFullJitter(goretry.WithCappedDuration(max, goretry.NewExponential(base)))
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
