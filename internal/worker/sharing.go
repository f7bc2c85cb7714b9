package worker

import (
	"math"
	"sync"
	"time"

	"go.uber.org/zap"
)

// sharingWatch estimates how many consumers take messages from the queue,
// and warns when several share the account's UpdateCase quota by throttling.
// Instances without a ceiling each find their share by backing off on
// throttles, which at a small quota throttles a fifth of the calls and
// shares it unevenly (docs/benchmarks.md, scenario 9); equal ceilings that
// add up to less than the quota share it without throttles.
type sharingWatch struct {
	mu        sync.Mutex
	consumers float64   // last estimate; NaN before the first
	warned    time.Time // last warning
}

const (
	// sharingThrottled is the share of throttled calls that is worth a
	// warning: target 2's bar (one instance alone at R = 2 sees about 3 %).
	sharingThrottled = 0.10
	// sharingMinCalls: fewer calls in the last minute say too little.
	sharingMinCalls = 20
	// warnEvery spaces out a warning whose cause persists.
	warnEvery = 5 * time.Minute
)

// estimateConsumers is the queue's in-flight messages ÷ the messages this
// instance holds, rounded, at least 1; 0 when it holds fewer than full (its
// CASEBRIDGE_MAX_IN_FLIGHT): then what it holds follows the messages there
// are, not the consumers. Every consumer of a queue that waits for the quota
// holds as many as it may.
func estimateConsumers(notVisible, held, full int) int {
	if held <= 0 || held < full {
		return 0
	}
	return max(1, int(math.Round(float64(notVisible)/float64(held))))
}

func (s *sharingWatch) estimate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.consumers
}

// due reports whether a warning last given at last may be given again at now.
func due(last, now time.Time) bool { return last.IsZero() || now.Sub(last) >= warnEvery }

// checkSharing updates the estimate from the queue's in-flight count and
// warns when several consumers share it and this one's calls are throttled.
func (w *Worker) checkSharing(notVisible int, now time.Time) {
	held := int(w.held.Load())
	n := estimateConsumers(notVisible, held, w.o.MaxInFlight)
	if n == 0 {
		return
	}
	share, calls := w.o.Metrics.throttledShare()
	w.sharing.mu.Lock()
	w.sharing.consumers = float64(n)
	warn := n >= 2 && calls >= sharingMinCalls && share > sharingThrottled && due(w.sharing.warned, now)
	if warn {
		w.sharing.warned = now
	}
	w.sharing.mu.Unlock()
	if warn {
		w.o.Logger.Warn("several consumers share this queue and many UpdateCase calls are throttled: instances share the account's quota by throttling unless each has a ceiling and the ceilings add up to less than the quota; give each CASEBRIDGE_RATE_LIMIT = 0.95 × casebridge's share of the quota ÷ instances",
			zap.Int("consumersEstimate", n), zap.Int("queueInFlight", notVisible), zap.Int("heldHere", held),
			zap.Float64("throttledShare", math.Round(1000*share)/1000), zap.Int("callsLastMinute", calls))
	}
}
