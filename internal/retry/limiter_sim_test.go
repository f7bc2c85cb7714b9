package retry

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// simResult is what one simulated run measured.
type simResult struct {
	successes, throttles int
	duration             time.Duration
	trace                []string // the limiter's rate over time
}

type simEvent struct {
	at     time.Time
	seq    int
	kind   int // evArrive, evGrant, evResponse
	caller int
	ok     bool
	gen    int
}

const (
	evArrive = iota
	evGrant
	evResponse
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

// simulate runs callers against a server token bucket of serverRate with
// serverBurst, through lim, as a discrete-event simulation on a fake clock:
// deterministic and instant. It mirrors Limiter.Wait: waiters queue FIFO,
// only the head holds a reservation, and a rate drop makes the head reserve
// again. Each caller handles one message after another; a throttled call is
// retried after a full-jitter exponential backoff (base 50ms, cap 5s).
func simulate(lim *Limiter, clk *fakeClock, callers int, serverRate float64, serverBurst int, latency, runFor time.Duration, seed uint64) simResult {
	rng := rand.New(rand.NewPCG(seed, 1))
	start := clk.Now()
	end := start.Add(runFor)
	server := rate.NewLimiter(rate.Limit(serverRate), serverBurst)
	server.AllowN(start, 0)

	var (
		q        eventQueue
		seq      int
		waiting  []int // FIFO of callers waiting for a slot
		headGen  int
		headRes  *rate.Reservation
		headBusy bool
		attempts = make([]int, callers)
		res      simResult
		changed  = lim.changed
	)
	push := func(e simEvent) {
		seq++
		e.seq = seq
		heap.Push(&q, e)
	}
	reserveHead := func(now time.Time) {
		if headBusy || len(waiting) == 0 {
			return
		}
		lim.mu.Lock()
		r, d := lim.reserveLocked(now)
		lim.mu.Unlock()
		headGen++
		headRes, headBusy = r, true
		push(simEvent{at: now.Add(d), kind: evGrant, caller: waiting[0], gen: headGen})
	}
	for i := range callers {
		push(simEvent{at: start, kind: evArrive, caller: i})
	}
	nextTrace := start
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		if e.at.After(end) {
			break
		}
		clk.Set(e.at)
		for !nextTrace.After(e.at) {
			res.trace = append(res.trace, fmt.Sprintf("t=%3.0fs rate=%7.2f", nextTrace.Sub(start).Seconds(), lim.Limit()))
			nextTrace = nextTrace.Add(5 * time.Second)
		}
		switch e.kind {
		case evArrive:
			waiting = append(waiting, e.caller)
			reserveHead(e.at)
		case evGrant:
			if e.gen != headGen {
				continue // superseded by a new reservation after a rate drop
			}
			waiting = waiting[1:]
			headBusy = false
			ok := server.AllowN(e.at, 1)
			push(simEvent{at: e.at.Add(latency), kind: evResponse, caller: e.caller, ok: ok})
			reserveHead(e.at)
		case evResponse:
			if e.ok {
				res.successes++
				attempts[e.caller] = 0
				lim.OnSuccess()
				push(simEvent{at: e.at, kind: evArrive, caller: e.caller})
				continue
			}
			res.throttles++
			lim.OnThrottle()
			if lim.changed != changed { // the rate dropped: the head re-reserves
				changed = lim.changed
				if headBusy {
					headRes.CancelAt(e.at)
					headBusy = false
					reserveHead(e.at)
				}
			}
			ceil := min(50*time.Millisecond<<attempts[e.caller], 5*time.Second)
			attempts[e.caller]++
			push(simEvent{at: e.at.Add(time.Duration(rng.Int64N(int64(ceil)))), kind: evArrive, caller: e.caller})
		}
	}
	res.duration = runFor
	return res
}

func TestLimiterFindsServerRate(t *testing.T) {
	tests := []struct {
		rate    float64
		burst   int
		callers int
		latency time.Duration
	}{
		{rate: 50, burst: 5, callers: 64, latency: 20 * time.Millisecond},
		{rate: 5, burst: 1, callers: 64, latency: 20 * time.Millisecond},
		{rate: 50, burst: 5, callers: 64, latency: 150 * time.Millisecond},
		{rate: 5, burst: 1, callers: 64, latency: 150 * time.Millisecond},
		{rate: 500, burst: 10, callers: 64, latency: 20 * time.Millisecond},
	}
	const runFor = 90 * time.Second
	for _, tt := range tests {
		t.Run(fmt.Sprintf("R=%v,B=%d,N=%d,L=%v", tt.rate, tt.burst, tt.callers, tt.latency), func(t *testing.T) {
			clk := newFakeClock()
			lim := NewLimiter(LimiterConfig{Clock: clk})
			r := simulate(lim, clk, tt.callers, tt.rate, tt.burst, tt.latency, runFor, 7)
			goodput := float64(r.successes) / r.duration.Seconds()
			calls := r.successes + r.throttles
			throttled := float64(r.throttles) / float64(calls)
			t.Logf("rate over time:\n%s", strings.Join(r.trace, "\n"))
			t.Logf("goodput %.2f/s (%.1f%% of %v), %d calls, %d throttled (%.2f%%)",
				goodput, 100*goodput/tt.rate, tt.rate, calls, r.throttles, 100*throttled)
			if goodput < 0.95*tt.rate {
				t.Errorf("goodput %.2f/s < 95%% of %v", goodput, tt.rate)
			}
			if throttled > 0.05 {
				t.Errorf("throttled %.2f%% of calls > 5%%", 100*throttled)
			}
			if math.IsNaN(goodput) {
				t.Fatal("no calls")
			}
		})
	}
}
