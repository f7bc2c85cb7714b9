package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/casebridge/casebridge/internal/retry"
)

// ratePoint is one scrape of the worker's limiter; Limit is nil while no limit
// is in force (+Inf, which JSON cannot carry).
type ratePoint struct {
	T     float64  `json:"t"` // seconds since the worker started
	Limit *float64 `json:"limit"`
}

type throttleResult struct {
	goodput   float64 // successful UpdateCase calls/s in the window
	throttled float64 // share of UpdateCase calls answered 429 in the window
	counts    updateCounts
	deadLet   int
	series    []ratePoint
	windowMed float64 // median limiter rate in the window
	ranDry    bool
}

// throttled runs the worker with no configured ceiling against a simulator
// that allows r UpdateCase calls/s, and measures over window after warm.
func (e *env) throttled(ctx context.Context, r float64, burst int, warm, window time.Duration) (throttleResult, error) {
	var res throttleResult
	name := fmt.Sprintf("throttled-%g", r)
	// Enough that the queue never runs dry, even if the limiter overshoots.
	n := int(r*(warm+window).Seconds()*1.5) + 100
	url, dlq, err := e.preloadedQueue(ctx, name, n)
	if err != nil {
		return res, err
	}
	if err := e.setFaults(ctx, faults{Rate: r, Burst: burst}); err != nil {
		return res, err
	}
	defer func() { _ = e.setFaults(context.WithoutCancel(ctx), faults{}) }()

	w, err := e.startWorker(ctx, name, e.goaws.Endpoint, url, dlq)
	if err != nil {
		return res, err
	}
	started := time.Now()
	sctx, stopScrape := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if v, err := w.metric(sctx, e.http, "casebridge_rate_limit_per_second"); err == nil {
				p := ratePoint{T: math.Round(time.Since(started).Seconds()*10) / 10}
				if !math.IsInf(v, 0) {
					p.Limit = &v
				}
				mu.Lock()
				res.series = append(res.series, p)
				mu.Unlock()
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	measure := func() error {
		if err := retry.Sleep(ctx, warm); err != nil {
			return err
		}
		c0, err := e.updates(ctx)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := retry.Sleep(ctx, window); err != nil {
			return err
		}
		c1, err := e.updates(ctx)
		if err != nil {
			return err
		}
		el := time.Since(t0).Seconds()
		res.counts = c1.minus(c0)
		res.goodput = float64(res.counts.OK) / el
		if res.counts.All > 0 {
			res.throttled = float64(res.counts.Throttled) / float64(res.counts.All)
		}
		left, err := e.depth(ctx, url)
		res.ranDry = err == nil && left == 0
		return nil
	}
	err = measure()
	stopScrape()
	wg.Wait()
	w.stop(10 * time.Second)
	if err != nil {
		return res, err
	}
	var inWindow []float64
	for _, p := range res.series {
		if p.T >= warm.Seconds() && p.Limit != nil {
			inWindow = append(inWindow, *p.Limit)
		}
	}
	if len(inWindow) > 0 {
		slices.Sort(inWindow)
		res.windowMed = inWindow[len(inWindow)/2]
	}
	// Give a DLQ send in flight at shutdown time to land before counting.
	res.deadLet, err = e.depth(ctx, dlq)
	return res, err
}
