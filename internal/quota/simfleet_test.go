package quota

import (
	"cmp"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
)

// fleetConfig is a simulated fleet: instances that do not talk to each other
// (ECS tasks, Lambda execution environments), each with its own Limiter and
// callers, all spending ONE account-wide server token bucket.
type fleetConfig struct {
	rate   float64 // server quota, calls/s
	burst  int     // server bucket size
	runFor time.Duration
	fleet  []instanceConfig
	// sampleEvery is how often each limiter's rate is sampled (default 5s).
	sampleEvery time.Duration
}

// instanceConfig is one process of the fleet, with its own timing noise.
type instanceConfig struct {
	callers int // messages in flight (CASEBRIDGE_MAX_IN_FLIGHT, MAX_CONCURRENCY)
	latency time.Duration
	// jitter: each call reaches the server up to jitter after its slot
	// (timer wake-up on a loaded machine, the SDK's signing, the network), so
	// at burst 1 a client pacing exactly at R is throttled about half the time.
	jitter time.Duration
	// One call in stallEvery (0: none) is held up to stall more before it
	// leaves: the process was descheduled on a loaded machine.
	stallEvery int
	stall      time.Duration
	// refill is the mean delay before a freed slot gets its next message
	// (receive and decode); next messages arrive as a Poisson process.
	refill time.Duration
	seed   uint64
	// startAt is when the process starts (a task scaled out later).
	startAt time.Duration

	// batch > 0 makes the instance a Lambda execution environment: each
	// invocation brings batch records, at most callers of them in flight,
	// and ends when all are applied; the next one comes gap later (the
	// environment is frozen meanwhile), batches times in all (0: no end).
	batch   int
	batches int
	gap     time.Duration
}

// fleetResult is what each instance, and the fleet as a whole, measured in
// the windows asked for.
type fleetResult struct {
	instances []simResult
	total     []simWindow
}

type simEvent struct {
	at     time.Time
	seq    int
	kind   int // evArrive, evGrant, evServer, evResponse, evInvoke
	inst   int
	caller int
	ok     bool
	gen    int
}

const (
	evArrive   = iota // a caller wants a slot
	evGrant           // the head waiter's reservation is due
	evServer          // the call reaches the server
	evResponse        // the answer reaches the caller
	evInvoke          // a Lambda invocation begins
)

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simProc is the state of one simulated instance.
type simProc struct {
	cfg      instanceConfig
	lim      *Limiter
	rng      *rand.Rand
	waiting  []int // FIFO of callers waiting for a slot
	headGen  int
	headRes  *rate.Reservation
	headBusy bool
	changed  chan struct{}
	attempts []int
	res      simResult
	// Lambda: records of the current invocation not yet handed to a caller,
	// records applied in it, invocations begun.
	pending, applied, invoked int
}

func (p *simProc) uniform(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(p.rng.Int64N(int64(d)))
}

// simulateFleet runs cfg as a discrete-event simulation on the fake clock
// every limiter in lims uses: deterministic for the seeds, and instant. Each
// instance mirrors Limiter.Wait (waiters queue FIFO, only the head holds a
// reservation, a rate drop makes the head reserve again) and the consumer (a
// throttled call is retried after a full-jitter exponential backoff, base
// 100ms, cap 5s, as NewBackoff with the consumer's defaults). windows are
// [from, to) offsets to count in.
func simulateFleet(lims []*Limiter, clk *fakeClock, cfg fleetConfig, windows ...[2]time.Duration) fleetResult {
	start := clk.Now()
	end := start.Add(cfg.runFor)
	server := rate.NewLimiter(rate.Limit(cfg.rate), cfg.burst)
	server.AllowN(start, 0)

	var (
		q     eventQueue
		seq   int
		procs = make([]*simProc, len(cfg.fleet))
		out   fleetResult
	)
	newWindows := func() []simWindow {
		ws := make([]simWindow, 0, len(windows))
		for _, w := range windows {
			ws = append(ws, simWindow{from: w[0], to: w[1]})
		}
		return ws
	}
	out.total = newWindows()
	count := func(ws []simWindow, at time.Time, ok bool) {
		t := at.Sub(start)
		for i := range ws {
			if w := &ws[i]; t >= w.from && t < w.to {
				if ok {
					w.successes++
				} else {
					w.throttles++
				}
			}
		}
	}
	push := func(e simEvent) {
		seq++
		e.seq = seq
		heap.Push(&q, e)
	}
	reserveHead := func(i int, now time.Time) {
		p := procs[i]
		if p.headBusy || len(p.waiting) == 0 {
			return
		}
		p.lim.mu.Lock()
		r, d := p.lim.reserveLocked(now, len(p.waiting))
		p.lim.mu.Unlock()
		p.headGen++
		p.headRes, p.headBusy = r, true
		push(simEvent{at: now.Add(d), kind: evGrant, inst: i, caller: p.waiting[0], gen: p.headGen})
	}
	for i, ic := range cfg.fleet {
		p := &simProc{cfg: ic, lim: lims[i], rng: rand.New(rand.NewPCG(ic.seed, 1)),
			changed: lims[i].changed, attempts: make([]int, ic.callers)}
		p.res.windows = newWindows()
		procs[i] = p
		at := start.Add(ic.startAt)
		if ic.batch > 0 {
			push(simEvent{at: at, kind: evInvoke, inst: i})
			continue
		}
		for c := range ic.callers {
			push(simEvent{at: at.Add(p.uniform(ic.refill)), kind: evArrive, inst: i, caller: c})
		}
	}
	every := cmp.Or(cfg.sampleEvery, 5*time.Second)
	nextTrace := start
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		if e.at.After(end) {
			break
		}
		clk.Set(e.at)
		for !nextTrace.After(e.at) {
			for _, p := range procs {
				r := p.lim.Limit()
				p.res.rates = append(p.res.rates, r)
				p.res.trace = append(p.res.trace, fmt.Sprintf("t=%5.1fs rate=%7.2f", nextTrace.Sub(start).Seconds(), r))
			}
			nextTrace = nextTrace.Add(every)
		}
		p := procs[e.inst]
		switch e.kind {
		case evInvoke:
			p.invoked++
			p.applied, p.pending = 0, p.cfg.batch
			for c := range min(p.cfg.callers, p.cfg.batch) {
				p.pending--
				push(simEvent{at: e.at, kind: evArrive, inst: e.inst, caller: c})
			}
		case evArrive:
			p.waiting = append(p.waiting, e.caller)
			reserveHead(e.inst, e.at)
		case evGrant:
			if e.gen != p.headGen {
				continue // superseded by a new reservation after a rate drop
			}
			p.waiting = p.waiting[1:]
			p.headBusy = false
			delay := p.uniform(p.cfg.jitter)
			if p.cfg.stallEvery > 0 && p.rng.IntN(p.cfg.stallEvery) == 0 {
				delay += p.uniform(p.cfg.stall)
			}
			push(simEvent{at: e.at.Add(delay), kind: evServer, inst: e.inst, caller: e.caller})
			reserveHead(e.inst, e.at)
		case evServer:
			ok := server.AllowN(e.at, 1)
			push(simEvent{at: e.at.Add(p.cfg.latency), kind: evResponse, inst: e.inst, caller: e.caller, ok: ok})
		case evResponse:
			count(p.res.windows, e.at, e.ok)
			count(out.total, e.at, e.ok)
			if e.ok {
				p.attempts[e.caller] = 0
				p.lim.OnSuccess()
				p.next(e, push)
				continue
			}
			p.lim.OnThrottle()
			if p.lim.changed != p.changed { // the rate dropped: the head re-reserves
				p.changed = p.lim.changed
				if p.headBusy {
					p.headRes.CancelAt(e.at)
					p.headBusy = false
					reserveHead(e.inst, e.at)
				}
			}
			ceil := min(100*time.Millisecond<<min(p.attempts[e.caller], 10), 5*time.Second)
			p.attempts[e.caller]++
			push(simEvent{at: e.at.Add(p.uniform(ceil)), kind: evArrive, inst: e.inst, caller: e.caller})
		}
	}
	for _, p := range procs {
		out.instances = append(out.instances, p.res)
	}
	return out
}

// next gives caller of e, whose call went through, its next message: from
// the stream after the refill delay, or the invocation's next record.
func (p *simProc) next(e simEvent, push func(simEvent)) {
	if p.cfg.batch == 0 {
		next := time.Duration(p.rng.ExpFloat64() * float64(p.cfg.refill))
		push(simEvent{at: e.at.Add(next), kind: evArrive, inst: e.inst, caller: e.caller})
		return
	}
	p.applied++
	if p.pending > 0 {
		p.pending--
		push(simEvent{at: e.at, kind: evArrive, inst: e.inst, caller: e.caller})
		return
	}
	if p.applied == p.cfg.batch && (p.cfg.batches == 0 || p.invoked < p.cfg.batches) {
		push(simEvent{at: e.at.Add(p.cfg.gap), kind: evInvoke, inst: e.inst})
	}
}
