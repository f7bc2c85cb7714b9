package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Scenarios are the names --scenarios takes, in the order they run.
var Scenarios = []string{"ceiling", "instant", "latency", "throttled", "lambda", "memory", "mapper", "hot", "fleet"}

// Config is one run of the harness.
type Config struct {
	Root      string   // the module root
	Quick     bool     // small N and short windows: proves the harness runs
	Scenarios []string // subset of Scenarios; empty means all
	Progress  io.Writer
	// WorkerEnv is appended to every worker's environment (KEY=VALUE), to try
	// a setting without editing code.
	WorkerEnv []string
	// KeepDir keeps the temporary directory (binaries and every process's log)
	// and names it in the progress output, for diagnosing a miss.
	KeepDir bool
}

// sizes are the knobs --quick turns down.
type sizes struct {
	n, nLatency, k int
	conc           []int
	warm, window   time.Duration
	lambdaBatches  int
	hotN, hotCases int
	hotLimit       time.Duration
	// fleet: warm-up and window of each worker group, batches per Lambda environment
	fleetWarm, fleetWindow time.Duration
	fleetLambdaBatches     int
}

func sizesFor(quick bool) sizes {
	if quick {
		return sizes{n: 2000, nLatency: 1000, k: 64, conc: []int{8, 32}, warm: 2 * time.Second, window: 5 * time.Second,
			lambdaBatches: 20, hotN: 300, hotCases: 20, hotLimit: 8 * time.Second,
			fleetWarm: 3 * time.Second, fleetWindow: 12 * time.Second, fleetLambdaBatches: 2}
	}
	return sizes{n: 20000, nLatency: 10000, k: 64, conc: []int{4, 16, 64}, warm: 5 * time.Second, window: 30 * time.Second,
		lambdaBatches: 200, hotN: 10000, hotCases: 100, hotLimit: 90 * time.Second,
		fleetWarm: 10 * time.Second, fleetWindow: 60 * time.Second, fleetLambdaBatches: 6}
}

// Run starts the test bed, runs the chosen scenarios and returns their rows. An
// error means the run could not start at all; a scenario that fails is a row
// with Err set, and the others still run.
func Run(ctx context.Context, cfg Config) (Report, error) {
	want := map[string]bool{}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return Report{}, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(Scenarios, ","))
		}
		want[s] = true
	}
	on := func(s string) bool { return len(want) == 0 || want[s] }
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", a...) }

	dir, err := os.MkdirTemp("", "casebridge-bench-")
	if err != nil {
		return Report{}, err
	}
	if cfg.KeepDir {
		say("logs and binaries kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{root: cfg.Root, dir: dir, workerEnv: cfg.WorkerEnv}
	begin := time.Now()
	say("building binaries")
	if err := e.build(ctx, on("lambda") || on("fleet")); err != nil {
		return Report{}, err
	}
	if err := e.start(ctx); err != nil {
		e.close()
		return Report{}, err
	}
	defer e.close()
	rep := Report{Started: begin.UTC().Format(time.RFC3339)}
	add := func(r ...Result) { rep.Results = append(rep.Results, r...) }
	sz := sizesFor(cfg.Quick)

	// The ceiling is every worker target's yardstick, so it runs whenever they do.
	var ceiling float64
	if on("ceiling") || on("instant") || on("latency") || on("memory") {
		say("1 ceiling: %d messages, loops %v", sz.n, sz.conc)
		ceiling = runCeiling(ctx, e, sz, add)
	}
	if on("instant") || on("memory") {
		say("2 worker, instant downstream")
		wd, err := e.drainWithWorker(ctx, "instant", sz.n)
		switch {
		case err != nil:
			add(failed("2 worker instant", err))
		default:
			if on("instant") {
				r := atLeast("2 worker instant", "drain rate", wd.rate, 0.9*ceiling, "msg/s")
				r.Note = fmt.Sprintf("%.0f%% of ceiling", 100*wd.rate/ceiling)
				add(r)
			}
			add(atMost("6 memory", "worker peak RSS (VmHWM) in 2", float64(wd.peakRSS)/(1<<20), 40, "MiB"))
		}
	}
	if on("latency") {
		say("3 worker, 20 ms downstream, MAX_IN_FLIGHT=%d", sz.k)
		add(runLatency(ctx, e, sz, ceiling)...)
	}
	if on("throttled") {
		for _, t := range []struct {
			r     float64
			burst int
		}{{50, 5}, {5, 1}} {
			say("4 throttled R=%g burst %d: warm-up %s, window %s", t.r, t.burst, sz.warm, sz.window)
			add(runThrottled(ctx, e, sz, t.r, t.burst)...)
		}
	}
	if on("lambda") {
		say("5 lambda: %d batches of 10, 20 ms downstream", sz.lambdaBatches)
		add(runLambda(ctx, e, sz)...)
	}
	if on("mapper") {
		say("7 decode + map: go test -bench ./internal/mapper")
		add(runMapper(ctx, e, cfg.Quick)...)
	}
	if on("hot") {
		say("8 hot cases: %d events over %d cases, FIFO and standard queue, R=10, coalescing on", sz.hotN, sz.hotCases)
		add(runHot(ctx, e, sz)...)
	}
	if on("fleet") {
		say("9 fleet: 1 and 3 workers on one quota (R=2; 3 at R=10), 2 Lambda environments at R=2, at once: warm-up %s, window %s, %d batches per environment",
			sz.fleetWarm, sz.fleetWindow, sz.fleetLambdaBatches)
		add(runFleet(ctx, e, sz)...)
	}
	rep.Seconds = time.Since(begin).Seconds()
	return rep, nil
}

func runCeiling(ctx context.Context, e *env, sz sizes, add func(...Result)) float64 {
	best, perC := 0.0, map[string]float64{}
	for _, c := range sz.conc {
		r, err := e.ceiling(ctx, sz.n, c, true)
		if err != nil {
			add(failed(fmt.Sprintf("1 ceiling C=%d", c), err))
			continue
		}
		perC[fmt.Sprint(c)] = r
		best = max(best, r)
	}
	row := info("1 ceiling", "receive→UpdateCase→delete, best C", best, "msg/s")
	row.Details = map[string]any{"byConcurrency": perC, "messages": sz.n}
	add(row)
	if r, err := e.ceiling(ctx, sz.n, 16, false); err != nil {
		add(failed("1 ceiling SQS only", err))
	} else {
		add(info("1 ceiling", "SQS only: receive→delete, C=16", r, "msg/s"))
	}
	return best
}

func runLatency(ctx context.Context, e *env, sz sizes, ceiling float64) []Result {
	if err := e.setFaults(ctx, faults{Latency: "20ms"}); err != nil {
		return []Result{failed("3 worker 20ms", err)}
	}
	defer func() { _ = e.setFaults(context.WithoutCancel(ctx), faults{}) }()
	wd, err := e.drainWithWorker(ctx, "latency", sz.nLatency, fmt.Sprintf("CASEBRIDGE_MAX_IN_FLIGHT=%d", sz.k))
	if err != nil {
		return []Result{failed("3 worker 20ms", err)}
	}
	bound := min(ceiling, float64(sz.k)/0.020)
	r := atLeast("3 worker 20ms", fmt.Sprintf("drain rate, K=%d", sz.k), wd.rate, 0.9*bound, "msg/s")
	r.Note = fmt.Sprintf("%.0f%% of min(ceiling, K/20ms)=%.0f", 100*wd.rate/bound, bound)
	return []Result{r}
}

func runThrottled(ctx context.Context, e *env, sz sizes, r float64, burst int) []Result {
	name := fmt.Sprintf("4 throttled R=%g", r)
	t, err := e.throttled(ctx, r, burst, sz.warm, sz.window)
	if err != nil {
		return []Result{failed(name, err)}
	}
	good := atLeast(name, "goodput", t.goodput, 0.95*r, "calls/s")
	if t.ranDry {
		good.Note = "queue ran dry: figure is a lower bound"
	}
	thr := atMost(name, "throttled share of UpdateCase", 100*t.throttled, 5, "%")
	thr.Note = fmt.Sprintf("%d of %d", t.counts.Throttled, t.counts.All)
	lim := info(name, "limiter rate, median in window", t.windowMed, "calls/s")
	lim.Details = map[string]any{"series": t.series, "warmupSeconds": sz.warm.Seconds(), "windowSeconds": sz.window.Seconds()}
	return []Result{good, thr, atMost(name, "dead-lettered", float64(t.deadLet), 0, "msgs"), lim}
}

func runLambda(ctx context.Context, e *env, sz sizes) []Result {
	if err := e.setFaults(ctx, faults{Latency: "20ms"}); err != nil {
		return []Result{failed("5 lambda", err)}
	}
	defer func() { _ = e.setFaults(context.WithoutCancel(ctx), faults{}) }()
	l, err := e.lambdaBatches(ctx, sz.lambdaBatches)
	if err != nil {
		return []Result{failed("5 lambda", err)}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50 := atMost("5 lambda", "batch of 10, p50", ms(l.p50), 40, "ms")
	p50.Note = fmt.Sprintf("p95 %.1f, p99 %.1f over %d batches", ms(l.p95), ms(l.p99), l.batches)
	return []Result{p50,
		atMost("5 lambda", "batch of 10, p95", ms(l.p95), 40, "ms"),
		info("5 lambda", "cold start: INIT REPORT", l.initReport, "ms"),
		info("5 lambda", "cold start: first batch as the caller saw it", ms(l.coldWall), "ms"),
	}
}

func runMapper(ctx context.Context, e *env, quick bool) []Result {
	bs, err := e.mapperBench(ctx, quick)
	if err != nil {
		return []Result{failed("7 decode+map", err)}
	}
	var out []Result
	for _, b := range bs {
		if !strings.HasPrefix(b.Name, "BenchmarkMap") {
			out = append(out, info("7 decode+map", b.Name+" (reference)", b.NsPerOp/1000, "µs/msg"))
			continue
		}
		out = append(out, atMost("7 decode+map", b.Name, b.NsPerOp/1000, 5, "µs/msg"),
			atMost("7 decode+map", b.Name, b.AllocsPerOp, 40, "allocs/msg"))
	}
	return out
}

func runHot(ctx context.Context, e *env, sz sizes) []Result {
	const r = 10
	var out []Result
	for _, fifo := range []bool{true, false} {
		name, what := "8 hot cases", "FIFO"
		if !fifo {
			name, what = "8 hot cases (standard)", "standard queue"
		}
		limit := sz.hotLimit
		if fifo {
			// SQS locks a group while any of its messages is in flight and a
			// receive returns at most 10, so one call can merge at most 10
			// events of a case: FIFO cannot beat 10·R events/s. Give the run
			// 1.5× that bound so it drains and the final values get checked.
			limit = max(limit, time.Duration(1.5*float64(sz.hotN)/(10*r)*float64(time.Second)))
		}
		h, err := e.hotCases(ctx, sz.hotN, sz.hotCases, r, limit, fifo)
		if err != nil {
			out = append(out, failed(name, err))
			continue
		}
		row := atLeast(name, "events applied/s, coalescing on, "+what, h.rate, 5*r, "events/s")
		row.Note = fmt.Sprintf("%d of %d events in %.0fs with %d calls", h.applied, h.events, h.elapsed.Seconds(), h.calls)
		switch {
		case !h.drained:
			row.Note += "; not drained, final values not checked"
		case fifo:
			row.Note += "; final values match one-by-one order"
		default:
			row.Note += "; no order on a standard queue, final values not compared"
		}
		if fifo {
			row.Note += fmt.Sprintf("; FIFO on fifosqs, SQS group semantics: at most 10 events of a case per call, so at most %d events/s", 10*r)
		} else {
			row.Note += "; standard queue on goaws"
		}
		out = append(out, row)
	}
	return out
}
