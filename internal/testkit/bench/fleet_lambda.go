package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

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
func (e *env) lambdaFleet(ctx context.Context, r float64, burst, batches int, shares bool) (lambdaFleetResult, error) {
	const envs = lambdaEnvs
	name := fleetName(fmt.Sprintf("fleet-lambda-r%g", r), shares)
	rateLimit := exactShare(shares, r, envs)
	res := lambdaFleetResult{firstThr: make([]int, envs), firstWall: make([]float64, envs),
		invokes: make([]int, envs), records: 10 * batches, envBatches: batches}
	sim, simURL, err := e.startSim(ctx, name+"-casesim")
	if err != nil {
		return res, err
	}
	defer sim.stop(2 * time.Second)
	if err := e.setFaultsAt(ctx, simURL, faults{Rate: r, Burst: burst}); err != nil {
		return res, err
	}
	dlq, err := e.queue(ctx, name+"-dlq")
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
		p, u, err := e.startRIE(ctx, fmt.Sprintf("%s-env%d", name, k+1), simURL, dlq, fmt.Sprintf("CASEBRIDGE_RATE_LIMIT=%g", rateLimit))
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

// lambdaEnvs is how many environments the Lambda pair runs.
const lambdaEnvs = 2

// lambdaScenario names a Lambda pair's rows.
func lambdaScenario(r float64, shares bool) string {
	return fmt.Sprintf("9 fleet lambda R=%g, %d envs", r, lambdaEnvs) + sharesSuffix(exactShare(shares, r, lambdaEnvs))
}

func lambdaFleetRows(r float64, shares bool, l lambdaFleetResult) []Result {
	name := lambdaScenario(r, shares)
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
