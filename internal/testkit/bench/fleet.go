package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/internal/retry"
)

// The fleet scenario: several instances share one account quota, as real
// deployments do. Every part has a simulator process of its own (so its
// /casesim/stats count only its instances) and the parts run at the same
// time: at R ≤ 10 calls/s the processes are idle most of the time, and
// running them one after the other would only make the run longer.

// fleetGroup is one group of worker processes sharing one simulator.
type fleetGroup struct {
	r     float64 // UpdateCase calls/s the simulator allows
	burst int
	n     int // worker processes
	// shares gives every worker CASEBRIDGE_RATE_LIMIT = shareOfQuota·r/n,
	// the exact shares docs/deployment.md's quota arithmetic gives operators.
	shares bool
}

// shareOfQuota is the part of the quota the exact-shares groups split: the
// arithmetic's R with 5 % left for other callers and timing noise.
const shareOfQuota = 0.95

// exactShare is each of n instances' CASEBRIDGE_RATE_LIMIT when they split
// R = r with exact shares, 0 (none) without.
func exactShare(shares bool, r float64, n int) float64 {
	if !shares {
		return 0
	}
	return shareOfQuota * r / float64(n)
}

// sharesSuffix ends a scenario's name with its instances' ceiling, if any.
func sharesSuffix(rateLimit float64) string {
	if rateLimit == 0 {
		return ""
	}
	return fmt.Sprintf(", RATE_LIMIT %.3g each", rateLimit)
}

// fleetName names a fleet's queues and processes: base, ended with "-shares"
// for the exact-shares fleet, which runs beside the adaptive fleet of the same
// size and must not share its queue or its processes' names.
func fleetName(base string, shares bool) string {
	if shares {
		return base + "-shares"
	}
	return base
}

// rateLimit is each worker's CASEBRIDGE_RATE_LIMIT, 0 for none.
func (g fleetGroup) rateLimit() float64 { return exactShare(g.shares, g.r, g.n) }

func (g fleetGroup) scenario() string {
	s := fmt.Sprintf("9 fleet R=%g, %d workers", g.r, g.n)
	if g.n == 1 {
		s = fmt.Sprintf("9 fleet R=%g, 1 worker", g.r)
	}
	return s + sharesSuffix(g.rateLimit())
}

// fleetGroups are the groups the scenario runs: the adaptive limiter alone,
// then the same fleets with exact shares.
var fleetGroups = []fleetGroup{{2, 2, 1, false}, {2, 2, 3, false}, {10, 2, 3, false}, {2, 2, 3, true}, {10, 2, 3, true}}

type fleetResult struct {
	counts    updateCounts // the simulator's UpdateCase answers in the window
	seconds   float64      // the window's length
	goodput   float64      // successful calls/s in the window, all instances
	throttled float64      // share of calls answered 429 in the window
	perOK     []float64    // each instance's successful calls/s in the window
	perThr    []int        // each instance's throttled calls in the window
	ranDry    bool
	preloaded int
	deleted   int // messages the instances deleted, run start to end of the window
	applied   int // successful UpdateCase calls, run start to end of the window
}

const (
	okSeries       = `casebridge_updatecase_attempts_total{class="ok"}`
	throttleSeries = `casebridge_updatecase_attempts_total{class="throttle"}`
	deletesSeries  = "casebridge_deletes_total"
)

// fleetWorkers runs g.n worker processes (defaults, coalescing off) on one
// queue against a simulator of their own at g.r/g.burst and measures over
// window after warm. An error means the group did not run or lost or
// dead-lettered messages.
func (e *env) fleetWorkers(ctx context.Context, g fleetGroup, warm, window time.Duration) (fleetResult, error) {
	var res fleetResult
	name := fleetName(fmt.Sprintf("fleet-r%g-n%d", g.r, g.n), g.shares)
	sim, simURL, err := e.startSim(ctx, name+"-casesim")
	if err != nil {
		return res, err
	}
	defer sim.stop(2 * time.Second)
	if err := e.setFaultsAt(ctx, simURL, faults{Rate: g.r, Burst: g.burst}); err != nil {
		return res, err
	}
	// Enough that the queue never runs dry, even if the instances overshoot.
	res.preloaded = int(g.r*(warm+window).Seconds()*1.5) + 100
	url, dlq, err := e.preloadedQueue(ctx, name, res.preloaded)
	if err != nil {
		return res, err
	}
	base, err := e.updatesAt(ctx, simURL)
	if err != nil {
		return res, err
	}
	var ws []*workerProc
	stopAll := func() {
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() { w.stop(10 * time.Second) })
		}
		wg.Wait()
		ws = nil
	}
	defer stopAll()
	for i := range g.n {
		w, err := e.startWorkerAt(ctx, fmt.Sprintf("%s-w%d", name, i+1), e.goaws.Endpoint, simURL, url, dlq, "CASEBRIDGE_COALESCE=off",
			fmt.Sprintf("CASEBRIDGE_RATE_LIMIT=%g", g.rateLimit()))
		if err != nil {
			return res, err
		}
		ws = append(ws, w)
	}
	// snap reads the simulator and every instance as close together as it can.
	type snap struct {
		sim  updateCounts
		inst []map[string]float64
		at   time.Time
	}
	take := func() (snap, error) {
		s := snap{inst: make([]map[string]float64, len(ws)), at: time.Now()}
		var wg sync.WaitGroup
		errs := make([]error, len(ws)+1)
		wg.Go(func() { s.sim, errs[0] = e.updatesAt(ctx, simURL) })
		for i, w := range ws {
			wg.Go(func() {
				if s.inst[i], errs[i+1] = w.metrics(ctx, e.http); errs[i+1] != nil {
					errs[i+1] = fmt.Errorf("%s: %w; log: %s", w.name, errs[i+1], w.last(1500))
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return s, err
			}
		}
		return s, nil
	}
	if err := retry.Sleep(ctx, warm); err != nil {
		return res, err
	}
	s0, err := take()
	if err != nil {
		return res, err
	}
	if err := retry.Sleep(ctx, window); err != nil {
		return res, err
	}
	s1, err := take()
	if err != nil {
		return res, err
	}
	for _, w := range ws {
		select {
		case <-w.exited:
			return res, fmt.Errorf("%s exited during the window: %s", w.name, w.last(1500))
		default:
		}
	}
	res.seconds = s1.at.Sub(s0.at).Seconds()
	res.counts = s1.sim.minus(s0.sim)
	res.goodput = float64(res.counts.OK) / res.seconds
	if res.counts.All > 0 {
		res.throttled = float64(res.counts.Throttled) / float64(res.counts.All)
	}
	for i := range ws {
		res.perOK = append(res.perOK, (s1.inst[i][okSeries]-s0.inst[i][okSeries])/res.seconds)
		res.perThr = append(res.perThr, int(s1.inst[i][throttleSeries]-s0.inst[i][throttleSeries]))
	}
	if left, err := e.depth(ctx, url); err == nil {
		res.ranDry = left == 0
	}
	// Every message the instances deleted must have been applied (all are
	// valid, so nothing is deleted for another reason). The deletes are read
	// before the simulator, so a call that succeeds in between can only make
	// applied larger: the check never fails wrongly.
	for _, w := range ws {
		m, err := w.metrics(ctx, e.http)
		if err != nil {
			return res, fmt.Errorf("%s: %w", w.name, err)
		}
		res.deleted += int(m[deletesSeries])
	}
	end, err := e.updatesAt(ctx, simURL)
	if err != nil {
		return res, err
	}
	res.applied = end.minus(base).OK
	if res.deleted > res.applied {
		return res, fmt.Errorf("%d messages deleted but only %d UpdateCase calls succeeded: %d lost",
			res.deleted, res.applied, res.deleted-res.applied)
	}
	// Stop first, so a DLQ send in flight at shutdown lands before counting.
	log := ws[0]
	stopAll()
	if dl, err := e.depth(ctx, dlq); err != nil || dl != 0 {
		return res, fmt.Errorf("%d messages dead-lettered (%v); log of %s: %s", dl, err, log.name, log.last(1500))
	}
	return res, nil
}

func fleetRows(g fleetGroup, f fleetResult) []Result {
	name := g.scenario()
	goodTarget, thrTarget := 0.90, 10.0
	if g.n == 1 {
		goodTarget, thrTarget = 0.95, 5.0
	}
	good := atLeast(name, "aggregate goodput", f.goodput, goodTarget*g.r, "calls/s")
	good.Note = fmt.Sprintf("%.0f%% of R; %d ok in %.0fs window; %d deleted, %d applied since start, 0 dead-lettered",
		100*f.goodput/g.r, f.counts.OK, f.seconds, f.deleted, f.applied)
	if f.ranDry {
		good.Note += "; queue ran dry: figure is a lower bound"
	}
	good.Details = map[string]any{"perInstanceGoodput": f.perOK, "perInstanceThrottled": f.perThr,
		"windowSeconds": f.seconds, "preloaded": f.preloaded, "rate": g.r, "burst": g.burst, "instances": g.n}
	thr := atMost(name, "throttled share of UpdateCase", 100*f.throttled, thrTarget, "%")
	thr.Note = fmt.Sprintf("%d of %d", f.counts.Throttled, f.counts.All)
	rows := []Result{good, thr}
	if g.n > 1 {
		fair := g.r / float64(g.n)
		low := slices.Min(f.perOK)
		row := atLeast(name, "lowest instance's goodput (fair share R/N = "+num(fair)+")", low, 0.5*fair, "calls/s")
		var parts []string
		for i, v := range f.perOK {
			share := 0.0
			if f.goodput > 0 {
				share = 100 * v / f.goodput
			}
			parts = append(parts, fmt.Sprintf("w%d %s/s %.0f%% %d thr", i+1, num(v), share, f.perThr[i]))
		}
		row.Note = strings.Join(parts, ", ")
		rows = append(rows, row)
	}
	return rows
}

// runFleet runs every worker group and the Lambda pair at once, each on a
// simulator of its own: at R ≤ 10 the processes are mostly idle.
func runFleet(ctx context.Context, e *env, sz sizes) []Result {
	out := make([][]Result, len(fleetGroups)+2)
	var wg sync.WaitGroup
	for i, g := range fleetGroups {
		wg.Go(func() {
			f, err := e.fleetWorkers(ctx, g, sz.fleetWarm, sz.fleetWindow)
			if err != nil {
				out[i] = []Result{failed(g.scenario(), err)}
				return
			}
			out[i] = fleetRows(g, f)
		})
	}
	for k, shares := range []bool{false, true} {
		wg.Go(func() {
			const r = 2
			l, err := e.lambdaFleet(ctx, r, 2, sz.fleetLambdaBatches, shares)
			if err != nil {
				out[len(fleetGroups)+k] = []Result{failed(lambdaScenario(r, shares), err)}
				return
			}
			out[len(fleetGroups)+k] = lambdaFleetRows(r, shares, l)
		})
	}
	wg.Wait()
	return slices.Concat(out...)
}
