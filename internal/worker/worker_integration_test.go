package worker_test

import (
	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func validBody(i int, extra string) string {
	return fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"m-%d","priority":%d%s}}`, caseID(i), i, i, extra)
}

// TestEveryMessageEndsInOnePlace sends a mix of good and bad messages through
// throttling and 500s, and counts: applied + dead-lettered = sent, each in the
// right place with the right reason, nothing left on the queue.
func TestEveryMessageEndsInOnePlace(t *testing.T) {
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{Rate: 100, Burst: 5, ErrorRate: 0.15})
	var bodies, want []string // want: "applied" or the DLQ class
	for i := range 60 {
		bodies, want = append(bodies, validBody(i, "")), append(want, "applied")
	}
	for i := range 5 {
		bodies = append(bodies,
			`{"caseId":"x","feilds":{}}`,
			`not json at all`,
			fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"gone-%d"}}`, missing, i),
			fmt.Sprintf(`{"caseId":%q,"fields":{"status":"reopened"}}`, caseID(i)),
			fmt.Sprintf(`{"caseId":%q,"fields":{"nosuchfield":"x"}}`, caseID(i)),
		)
		want = append(want, string(contract.ReasonInvalidMessage), string(contract.ReasonInvalidMessage), string(contract.ReasonNotFound),
			string(contract.ReasonValidation), string(contract.ReasonValidation))
	}
	ids := b.send(bodies)
	_, stop := b.start(workerOpts{limiter: quota.NewLimiter(quota.LimiterConfig{})})

	deadLetters := map[string]dead{}
	eventually(t, 60*time.Second, "every message applied or dead-lettered", func() bool {
		b.drainDLQ(deadLetters)
		marks := b.appliedMarks()
		done := len(deadLetters)
		for i := range 60 {
			if marks[fmt.Sprintf("m-%d", i)] > 0 {
				done++
			}
		}
		return done == len(bodies)
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	marks := b.appliedMarks()
	dups := 0
	for i, id := range ids {
		d, isDead := deadLetters[id]
		switch {
		case want[i] == "applied" && isDead:
			t.Errorf("message %d dead-lettered (%+v), want applied", i, d)
		case want[i] == "applied":
			dups += marks[fmt.Sprintf("m-%d", i)] - 1
		case !isDead:
			t.Errorf("message %d (%s) not on the DLQ, want %s", i, bodies[i], want[i])
		case string(d.Class) != want[i]:
			t.Errorf("message %d on the DLQ as %q (%s), want %q", i, d.Class, d.Message, want[i])
		case d.Message == "" || strings.Contains(d.Message, "operation error"):
			t.Errorf("message %d: DLQ reason message %q: want the service's or the decoder's own words", i, d.Message)
		}
	}
	if n := b.queueDepth(); n != 0 {
		t.Errorf("%d messages left on the source queue", n)
	}
	stats := b.sim.Stats()["UpdateCase"]
	t.Logf("UpdateCase by status: %v; duplicates applied: %d", stats, dups)
	if stats[429] == 0 || stats[500] == 0 {
		t.Errorf("the test did not exercise throttles and 500s: %v", stats)
	}
}

// TestFIFOGroupStaysInOrder checks that one group's messages are applied in
// order. goaws keeps only one group lock at a time, so interleaved groups could
// reach any consumer out of order; parallelism across groups is covered by the
// group runner's unit test.
func TestFIFOGroupStaysInOrder(t *testing.T) {
	b := newBed(t, true, 5)
	b.sim.SetFaults(casesim.Faults{Latency: 2 * time.Millisecond, LatencyJitter: 5 * time.Millisecond})
	var bodies []string
	for i := range 30 {
		bodies = append(bodies, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"m-%d","priority":%d}}`, caseID(0), i, i))
	}
	b.send(bodies)
	_, stop := b.start(workerOpts{})
	eventually(t, 60*time.Second, "all applied", func() bool { return len(b.appliedMarks()) == len(bodies) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	last := map[string]float64{}
	for _, u := range b.sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if p, ok := doubleOf(f); ok {
				if p < last[u.CaseID] {
					t.Errorf("case %s: priority %v applied after %v: group out of order", u.CaseID, p, last[u.CaseID])
				}
				last[u.CaseID] = p
			}
		}
	}
}

// TestHeartbeatKeepsSlowMessageInvisible: a downstream slower than the queue's
// visibility timeout must not cause a second delivery.
//
// The heartbeat beats every half visibility timeout: with 4 s, a beat may be
// up to 2 s late (a loaded machine) and still renew in time. The 8 s call is
// two timeouts long, so without the heartbeat the message is delivered again
// while the first call runs, and stays under the core's 10 s attempt timeout.
func TestHeartbeatKeepsSlowMessageInvisible(t *testing.T) {
	const visibility, latency = 4, 8 * time.Second
	b := newBed(t, false, visibility)
	b.sim.SetFaults(casesim.Faults{Latency: latency})
	b.send([]string{validBody(1, "")})
	_, stop := b.start(workerOpts{})
	eventually(t, latency+60*time.Second, "applied", func() bool { return len(b.appliedMarks()) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := b.sim.Stats()["UpdateCase"][200]; n != 1 {
		t.Errorf("UpdateCase succeeded %d times, want 1 (message redelivered despite heartbeat)", n)
	}
	if n := b.proxy.Calls("ChangeMessageVisibility"); n < 2 {
		t.Errorf("%d visibility extensions during a %v call on a %d s timeout, want ≥ 2", n, latency, visibility)
	}
	if n := b.queueDepth(); n != 0 {
		t.Errorf("%d left on the queue", n)
	}
}

// TestDLQRefusingSendsLosesNothing: while the DLQ refuses sends, bad messages
// stay on the source queue; once it recovers they reach it.
func TestDLQRefusingSendsLosesNothing(t *testing.T) {
	b := newBed(t, false, 5)
	b.proxy.FailAction("SendMessage", "dlq", 500, "InternalError", -1)
	ids := b.send([]string{`{"bad":1}`, `[]`, `{"caseId":"c","feilds":{}}`})
	_, stop := b.start(workerOpts{})
	eventually(t, 60*time.Second, "DLQ sends attempted", func() bool { return b.proxy.Calls("SendMessage") >= 3+6 })
	if n := b.queueDepth(); n != 3 {
		t.Fatalf("%d messages on the source queue while the DLQ refuses, want all 3", n)
	}
	b.proxy.ClearFaults()
	deadLetters := map[string]dead{}
	eventually(t, 30*time.Second, "all three on the DLQ", func() bool { b.drainDLQ(deadLetters); return len(deadLetters) == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if string(deadLetters[id].Class) != string(contract.ReasonInvalidMessage) {
			t.Errorf("%s: %+v", id, deadLetters[id])
		}
	}
	eventually(t, 30*time.Second, "source queue empty", func() bool { return b.queueDepth() == 0 })
}

// TestRetriesExhaustedAtMaxReceives: a message that keeps failing transiently is
// dead-lettered with retries-exhausted once its receive count reaches the limit.
func TestRetriesExhaustedAtMaxReceives(t *testing.T) {
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{ErrorRate: 1})
	ids := b.send([]string{validBody(3, "")})
	_, stop := b.start(workerOpts{maxReceives: 3})
	deadLetters := map[string]dead{}
	eventually(t, 60*time.Second, "dead-lettered", func() bool { b.drainDLQ(deadLetters); return len(deadLetters) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d := deadLetters[ids[0]]
	if d.Class != string(contract.ReasonRetriesExhausted) || d.Code != "InternalServerException" || d.ReceiveCount != 3 {
		t.Errorf("DLQ reason %+v, want retries-exhausted / InternalServerException at receive 3", d)
	}
}

// TestAccessDeniedOpensCircuitAndKeepsMessages: denials are the deployment's
// fault: nothing is dead-lettered, polling pauses and /readyz says so.
func TestAccessDeniedOpensCircuitAndKeepsMessages(t *testing.T) {
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{DenyRate: 1})
	var bodies []string
	for i := range 5 {
		bodies = append(bodies, validBody(i, ""))
	}
	b.send(bodies)
	circuit := quota.NewCircuit(3, time.Minute)
	w, stop := b.start(workerOpts{circuit: circuit})
	eventually(t, 60*time.Second, "circuit open", circuit.Open)
	srv := httptest.NewServer(w.HTTPHandler(nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "circuit") {
		t.Errorf("/readyz = %d %q while the circuit is open", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	deadLetters := map[string]dead{}
	b.drainDLQ(deadLetters)
	if len(deadLetters) != 0 {
		t.Errorf("%d dead-lettered on access denied, want 0", len(deadLetters))
	}
	if n := b.queueDepth(); n != len(bodies) {
		t.Errorf("%d on the queue, want all %d kept", n, len(bodies))
	}
}

// TestShutdownDrainsAndLosesNothing stops the worker mid-drain, then a second
// worker finishes: every message is applied.
func TestShutdownDrainsAndLosesNothing(t *testing.T) {
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{Latency: 20 * time.Millisecond})
	var bodies []string
	for i := range 200 {
		bodies = append(bodies, validBody(i, ""))
	}
	b.send(bodies)
	// The in-flight calls take 20 ms: the drain must end by itself, long
	// before the grace would cut it. Which way it ended is the worker's own
	// record (its grace-over warning), not the wall clock of a loaded machine;
	// stop fails on its own if Run hangs past the grace.
	const grace = 10 * time.Second
	obs, logs := observer.New(zap.WarnLevel)
	_, stop := b.start(workerOpts{maxInFlight: 8, grace: grace, observe: obs})
	eventually(t, 30*time.Second, "some progress", func() bool { return len(b.appliedMarks()) >= 20 })
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if cut := logs.FilterMessageSnippet(worker.GraceOverLog).Len(); cut != 0 {
		t.Errorf("the drain ran out its %v grace (stop took %v): in-flight 20 ms calls did not finish by themselves", grace, time.Since(began))
	}
	firstRun := len(b.appliedMarks())
	if firstRun == len(bodies) {
		t.Fatal("the first worker finished everything; the test did not stop it mid-drain")
	}
	_, stop2 := b.start(workerOpts{})
	eventually(t, 40*time.Second, "all applied after restart", func() bool { return len(b.appliedMarks()) == len(bodies) })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, n := range b.appliedMarks() {
		dups += n - 1
	}
	t.Logf("first worker applied %d of %d before SIGTERM-equivalent; duplicates %d", firstRun, len(bodies), dups)
	if dups != 0 {
		t.Errorf("%d messages applied twice: work finished before shutdown was delivered again", dups)
	}
}

// recordingHandler remembers the highest receive count the core was handed.
type recordingHandler struct {
	consumer.Handler // standard queue only: HandleGroup is not recorded
	mu               sync.Mutex
	max              int
}

func (h *recordingHandler) Handle(ctx context.Context, m consumer.Message) consumer.Outcome {
	h.mu.Lock()
	h.max = max(h.max, m.ReceiveCount)
	h.mu.Unlock()
	return h.Handler.Handle(ctx, m)
}

// TestTightQuotaDoesNotBurnReceiveCounts: with a quota far below what the worker
// could do, the backlog waits on the queue and every message is received once.
// The visibility timeout (5 s; the heartbeat renews every 2.5 s) leaves a late
// heartbeat room: a redelivery here means throttling gave a message back.
func TestTightQuotaDoesNotBurnReceiveCounts(t *testing.T) {
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{Rate: 10, Burst: 1})
	var bodies []string
	for i := range 40 {
		bodies = append(bodies, validBody(i, ""))
	}
	b.send(bodies)
	core, err := consumer.New(consumer.Options{Cases: b.cases, DLQ: b.sqs, DLQURL: b.dlq,
		Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID}), Limiter: quota.NewLimiter(quota.LimiterConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingHandler{Handler: core}
	w, err := worker.New(worker.Options{SQS: b.sqs, QueueURL: b.src, Handler: rec, MaxInFlight: 8, WaitTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	eventually(t, 60*time.Second, "all applied", func() bool { return len(b.appliedMarks()) == len(bodies) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stats := b.sim.Stats()["UpdateCase"]
	t.Logf("UpdateCase by status %v; highest receive count %d", stats, rec.max)
	if rec.max != 1 {
		t.Errorf("a message was received %d times under the quota: throttling burned receive counts", rec.max)
	}
	if stats[200] != len(bodies) {
		t.Errorf("%d successful calls for %d messages: duplicates", stats[200], len(bodies))
	}
}
