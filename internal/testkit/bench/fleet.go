package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

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
}

func (g fleetGroup) scenario() string {
	if g.n == 1 {
		return fmt.Sprintf("9 fleet R=%g, 1 worker", g.r)
	}
	return fmt.Sprintf("9 fleet R=%g, %d workers", g.r, g.n)
}

// fleetGroups are the groups the scenario runs.
var fleetGroups = []fleetGroup{{2, 2, 1}, {2, 2, 3}, {10, 2, 3}}

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
	name := fmt.Sprintf("fleet-r%g-n%d", g.r, g.n)
	sim, simURL, err := e.startSim(ctx, name+"-casesim")
	if err != nil {
		return res, err
	}
	defer sim.stop(2 * time.Second)
	if err := e.setFaultsAt(ctx, simURL, faults{Rate: g.r, Burst: g.burst}); err != nil {
		return res, err
	}
	url, err := e.queue(ctx, name)
	if err != nil {
		return res, err
	}
	dlq, err := e.queue(ctx, name+"-dlq")
	if err != nil {
		return res, err
	}
	// Enough that the queue never runs dry, even if the instances overshoot.
	res.preloaded = int(g.r*(warm+window).Seconds()*1.5) + 100
	if err := preload(ctx, e.sqs, url, smallEntries(res.preloaded)); err != nil {
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
		w, err := e.startWorkerAt(ctx, fmt.Sprintf("%s-w%d", name, i+1), e.goaws.Endpoint, simURL, url, dlq, "CASEBRIDGE_COALESCE=off")
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

// lambdaFleetResult is what two Lambda environments on one quota measured.
type lambdaFleetResult struct {
	counts     updateCounts // the simulator's UpdateCase answers over the run
	seconds    float64      // first invoke to last answer
	goodput    float64
	throttled  float64
	firstThr   []int     // throttled calls in each environment's first batch (its EMF line)
	firstSim   int       // 429s the simulator answered during environment 1's first batch (alone)
	firstWall  []float64 // each environment's first batch, ms as the caller saw it
	retried    int       // records reported failed (redelivered, as SQS would)
	invokes    []int     // invocations per environment
	records    int       // records per environment
	envBatches int
}

// lambdaFleet runs two fresh Lambda environments (two emulator+bootstrap
// processes) against one simulator at R=r/burst: environment 1 starts on an
// idle quota; environment 2 starts as soon as environment 1's first batch is
// done, so it joins a quota in use (a scale-out). Each gets batches×10
// records on 10 cases per batch (the two on different cases), invoked one
// batch after the other; records it reports failed come back in its next
// batch, as SQS would redeliver them.
func (e *env) lambdaFleet(ctx context.Context, r float64, burst, batches int) (lambdaFleetResult, error) {
	const envs = 2
	res := lambdaFleetResult{firstThr: make([]int, envs), firstWall: make([]float64, envs),
		invokes: make([]int, envs), records: 10 * batches, envBatches: batches}
	sim, simURL, err := e.startSim(ctx, "fleet-lambda-casesim")
	if err != nil {
		return res, err
	}
	defer sim.stop(2 * time.Second)
	if err := e.setFaultsAt(ctx, simURL, faults{Rate: r, Burst: burst}); err != nil {
		return res, err
	}
	dlq, err := e.queue(ctx, "fleet-lambda-dlq")
	if err != nil {
		return res, err
	}
	var procs []*proc
	var urls []string
	defer func() {
		for _, p := range procs {
			p.stop(2 * time.Second)
		}
	}()
	for k := range envs {
		p, u, err := e.startRIE(ctx, fmt.Sprintf("fleet-lambda-env%d", k+1), simURL, dlq)
		if err != nil {
			return res, err
		}
		procs, urls = append(procs, p), append(urls, u)
	}
	base, err := e.updatesAt(ctx, simURL)
	if err != nil {
		return res, err
	}
	// The function's timeout is 30 s; the caller waits longer.
	hc := &http.Client{Timeout: 45 * time.Second}
	// Generous: the whole run needs 2·records/r seconds at the quota.
	deadline := time.Now().Add(time.Duration(float64(envs*res.records)/r*3+60) * time.Second)
	firstDone := make(chan struct{})
	var firstOnce sync.Once
	errs := make([]error, envs)
	succeeded, retried := make([]int, envs), make([]int, envs)
	t0 := time.Now()
	var wg sync.WaitGroup
	for k := range envs {
		wg.Go(func() {
			if k == 0 {
				defer firstOnce.Do(func() { close(firstDone) }) // also when it fails
			} else {
				select {
				case <-firstDone:
				case <-ctx.Done():
				}
				if errs[0] != nil || ctx.Err() != nil {
					return // environment 1's error (or the cancellation) says it
				}
			}
			type rec struct{ i, receives int }
			var pending []rec
			next := 0 // fresh records handed out so far
			for b := 0; next < res.records || len(pending) > 0; b++ {
				if time.Now().After(deadline) {
					errs[k] = fmt.Errorf("environment %d: not done by the deadline: %d records left", k+1, res.records-next+len(pending))
					return
				}
				var ev events.SQSEvent
				var batch []rec
				for len(batch) < 10 && (len(pending) > 0 || next < res.records) {
					var x rec
					if len(pending) > 0 {
						x, pending = pending[0], pending[1:]
						retried[k]++
					} else {
						x, next = rec{i: next}, next+1
					}
					x.receives++
					batch = append(batch, x)
					// Environment 2's records are on the other half of the cases.
					ev.Records = append(ev.Records, sqsRecord(fmt.Sprintf("env%d-%06d", k+1, x.i), k*50+x.i, x.receives))
				}
				var before updateCounts
				if k == 0 && b == 0 {
					before, _ = e.updatesAt(ctx, simURL)
				}
				out, d, err := e.invokeEvent(ctx, hc, urls[k], ev)
				if err != nil {
					errs[k] = fmt.Errorf("environment %d, batch %d: %w; log: %s", k+1, b, err, procs[k].last(1500))
					return
				}
				res.invokes[k]++
				failed := map[string]bool{}
				for _, f := range out.BatchItemFailures {
					failed[f.ItemIdentifier] = true
				}
				for j, m := range ev.Records {
					if failed[m.MessageId] {
						pending = append(pending, batch[j])
					} else {
						succeeded[k]++
					}
				}
				if b == 0 {
					res.firstWall[k] = float64(d.Microseconds()) / 1000
					if k == 0 {
						if after, err := e.updatesAt(ctx, simURL); err == nil {
							res.firstSim = after.minus(before).Throttled
						}
						firstOnce.Do(func() { close(firstDone) })
					}
				}
			}
		})
	}
	wg.Wait()
	res.seconds = time.Since(t0).Seconds()
	res.retried = retried[0] + retried[1]
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	after, err := e.updatesAt(ctx, simURL)
	if err != nil {
		return res, err
	}
	res.counts = after.minus(base)
	res.goodput = float64(res.counts.OK) / res.seconds
	if res.counts.All > 0 {
		res.throttled = float64(res.counts.Throttled) / float64(res.counts.All)
	}
	if done := succeeded[0] + succeeded[1]; done != envs*res.records || res.counts.OK < done {
		return res, fmt.Errorf("%d records reported done of %d, simulator applied %d: lost", done, envs*res.records, res.counts.OK)
	}
	for k, p := range procs {
		lines := emfLines(p.output())
		if len(lines) == 0 {
			return res, fmt.Errorf("environment %d: no EMF metrics line in its log: %s", k+1, p.last(1500))
		}
		res.firstThr[k] = int(lines[0]["Throttles"])
		for _, l := range lines {
			if l["DeadLettered"] > 0 {
				return res, fmt.Errorf("environment %d dead-lettered %v records: %s", k+1, l["DeadLettered"], p.last(1500))
			}
		}
	}
	if dl, err := e.depth(ctx, dlq); err != nil || dl != 0 {
		return res, fmt.Errorf("%d records dead-lettered (%v)", dl, err)
	}
	return res, nil
}

// emfLines returns the counters of every EMF metrics line (one per
// invocation, in order) in an emulator's log.
func emfLines(log string) []map[string]float64 {
	var out []map[string]float64
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) != nil {
			continue
		}
		c := map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				c[k] = f
			}
		}
		out = append(out, c)
	}
	return out
}

func lambdaFleetRows(r float64, l lambdaFleetResult) []Result {
	name := fmt.Sprintf("9 fleet lambda R=%g, 2 envs", r)
	good := info(name, "goodput, first invoke to last answer", l.goodput, "calls/s")
	good.Note = fmt.Sprintf("%.0f%% of R; %d ok in %.0fs; %d+%d records, %d invocations; %d records redelivered after a reported failure",
		100*l.goodput/r, l.counts.OK, l.seconds, l.records, l.records, l.invokes[0]+l.invokes[1], l.retried)
	thr := info(name, "throttled share of UpdateCase", 100*l.throttled, "%")
	thr.Note = fmt.Sprintf("%d of %d", l.counts.Throttled, l.counts.All)
	c1 := atMost(name, "env 1 first batch (cold, idle quota): throttled calls", float64(l.firstThr[0]), 2, "calls")
	c1.Note = fmt.Sprintf("simulator saw %d 429s; batch took %.0f ms", l.firstSim, l.firstWall[0])
	c2 := atMost(name, "env 2 first batch (cold, joins a busy quota): throttled calls", float64(l.firstThr[1]), 2, "calls")
	c2.Note = fmt.Sprintf("batch took %.0f ms", l.firstWall[1])
	return []Result{good, thr, c1, c2}
}

// runFleet runs every group and the Lambda pair at once and returns their
// rows in a fixed order.
func runFleet(ctx context.Context, e *env, sz sizes) []Result {
	out := make([][]Result, len(fleetGroups)+1)
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
	wg.Go(func() {
		const r = 2
		l, err := e.lambdaFleet(ctx, r, 2, sz.fleetLambdaBatches)
		if err != nil {
			out[len(fleetGroups)] = []Result{failed(fmt.Sprintf("9 fleet lambda R=%d, 2 envs", r), err)}
			return
		}
		out[len(fleetGroups)] = lambdaFleetRows(r, l)
	})
	wg.Wait()
	return slices.Concat(out...)
}
