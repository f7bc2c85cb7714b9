package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/quota"
)

// The paths around throttling: a message held for its whole budget under a
// throttle that outlasts it, and polling while the access-denied circuit is
// open. The worker and the core are real; an observer sits on the worker's two
// edges (its SQS client and its handler) and records what crossed them.

func TestLongThrottleGivesBackOncePerHold(t *testing.T) {
	const (
		maxHold = 4 * time.Second
		holds   = 2 // throttled holds before the throttle lifts
	)
	// Visibility 2 s, well under maxHold: only the heartbeat keeps the message
	// hidden for its whole hold (without it, it comes back 2–3 s after receipt).
	b := newBed(t, false, 2)
	b.throttleEverything()
	ids := b.send([]string{validBody(1, "")})
	began := time.Now()
	o, stop := b.startObserved(observedRun{
		maxHold: maxHold, maxReceives: holds + 2,
		// The production limiter; its floor raised so the wait after the lift is short.
		limiter: quota.NewLimiter(quota.LimiterConfig{MinRate: 2}),
	})

	o.waitFor(t, holds*(maxHold+5*time.Second), fmt.Sprintf("%d throttled holds", holds), func(o *edges) bool {
		n := len(o.outcomes)
		return n >= holds || n > 0 && !throttled(o.outcomes[n-1])
	})
	_, _, early := o.snapshot()
	for i, h := range early {
		if !throttled(h) {
			t.Fatalf("while throttled, delivery %d (receive %d) ended %v %q (%v), want retry-later %q",
				i, h.receiveCount, h.out.Kind, h.out.Reason, h.out.Err, contract.ReasonThrottled)
		}
	}
	lifted := time.Now()
	b.sim.SetFaults(casesim.Faults{})
	o.waitFor(t, 20*time.Second, "the message applied", func(o *edges) bool {
		n := len(o.outcomes)
		return n > 0 && o.outcomes[n-1].out.Kind == consumer.Done
	})
	applied := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	_, deliveries, outcomes := o.snapshot()
	for i, h := range outcomes {
		last := i == len(outcomes)-1
		switch {
		case h.id != ids[0]:
			t.Errorf("outcome %d for an unknown message %s", i, h.id)
		case last && h.out.Kind != consumer.Done:
			t.Errorf("last outcome %v %s, want applied", h.out.Kind, h.out.Reason)
		case !last && !throttled(h):
			t.Errorf("outcome %d (receive %d): %v %q, want retry-later %q while throttled", i, h.receiveCount, h.out.Kind, h.out.Reason, contract.ReasonThrottled)
		case !last && h.out.Duration < maxHold-time.Second:
			// The core stops at most one backoff step (≤ 200 ms here) before the
			// budget; given back much earlier, the message would come back sooner
			// than once per hold.
			t.Errorf("outcome %d: held %v, want about the whole MaxHold %v", i, h.out.Duration, maxHold)
		}
		if h.receiveCount != i+1 {
			t.Errorf("outcome %d was handed receive count %d, want %d", i, h.receiveCount, i+1)
		}
	}
	if len(outcomes) < holds+1 {
		t.Errorf("%d outcomes, want %d throttled and one applied", len(outcomes), holds)
	}
	gaps := make([]string, 0, len(deliveries))
	for i, d := range deliveries {
		if d.receiveCount != i+1 {
			t.Errorf("delivery %d had ApproximateReceiveCount %d, want %d: received where the worker did not see it", i, d.receiveCount, i+1)
		}
		if i == 0 {
			continue
		}
		gap := d.at.Sub(deliveries[i-1].at)
		gaps = append(gaps, gap.Round(10*time.Millisecond).String())
		if gap < maxHold {
			t.Errorf("delivery %d came %v after the one before, less than MaxHold %v: receive count burned faster than once per hold", i, gap, maxHold)
		}
	}
	if len(deliveries) != len(outcomes) {
		t.Errorf("%d deliveries for %d outcomes", len(deliveries), len(outcomes))
	}

	deadLetters := map[string]dead{}
	b.drainDLQ(deadLetters)
	if len(deadLetters) != 0 {
		t.Errorf("dead-lettered under throttle: %+v", deadLetters)
	}
	if n := b.appliedMarks()["m-1"]; n != 1 {
		t.Errorf("applied %d times, want once", n)
	}
	if n := b.queueDepth(); n != 0 {
		t.Errorf("%d left on the source queue", n)
	}
	stats := b.sim.Stats()["UpdateCase"]
	t.Logf("MaxHold %v: %d deliveries, receive counts 1..%d, gaps between deliveries %v; throttle lifted after %v, applied %v later; UpdateCase by status %v; ChangeMessageVisibility calls %d",
		maxHold, len(deliveries), len(deliveries), gaps, lifted.Sub(began).Round(10*time.Millisecond),
		applied.Sub(lifted).Round(10*time.Millisecond), stats, b.proxy.Calls("ChangeMessageVisibility"))
	if stats[429] < 2 { // the test's own probe, and at least one of the worker's
		t.Errorf("the worker's calls were not throttled: %v", stats)
	}
}

func throttled(h handled) bool {
	return h.out.Kind == consumer.RetryLater && h.out.Reason == contract.ReasonThrottled
}

// TestThrottleOutlastingMaxReceivesDeadLetters: a throttle that outlasts
// MaxReceives holds is documented to end in the DLQ as retries-exhausted
// (docs/operations.md): at the MaxReceives-th delivery, not before.
func TestThrottleOutlastingMaxReceivesDeadLetters(t *testing.T) {
	const maxHold = 2 * time.Second
	b := newBed(t, false, 2)
	b.throttleEverything()
	ids := b.send([]string{validBody(2, "")})
	o, stop := b.startObserved(observedRun{maxHold: maxHold, maxReceives: 2,
		limiter: quota.NewLimiter(quota.LimiterConfig{MinRate: 2})})
	o.waitFor(t, 2*(maxHold+5*time.Second), "two outcomes", func(o *edges) bool {
		return len(o.outcomes) >= 2 || len(o.outcomes) == 1 && !throttled(o.outcomes[0])
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, deliveries, outcomes := o.snapshot()
	if len(outcomes) < 2 || len(deliveries) < 2 {
		t.Fatalf("outcomes %+v: want a throttled one, then the dead-lettering", outcomes)
	}
	if h := outcomes[0]; h.out.Kind != consumer.RetryLater || h.out.Reason != contract.ReasonThrottled || h.receiveCount != 1 {
		t.Errorf("first delivery: %v %q at receive %d, want retry-later %q at receive 1", h.out.Kind, h.out.Reason, h.receiveCount, contract.ReasonThrottled)
	}
	if h := outcomes[1]; h.out.Kind != consumer.DeadLettered || h.out.Reason != contract.ReasonRetriesExhausted || h.receiveCount != 2 {
		t.Errorf("second delivery: %v %q at receive %d, want dead-lettered %q at receive 2", h.out.Kind, h.out.Reason, h.receiveCount, contract.ReasonRetriesExhausted)
	}
	if gap := deliveries[1].at.Sub(deliveries[0].at); gap < maxHold {
		t.Errorf("second delivery %v after the first, less than MaxHold %v", gap, maxHold)
	}
	deadLetters := map[string]dead{}
	b.drainDLQ(deadLetters)
	d, ok := deadLetters[ids[0]]
	if !ok || len(deadLetters) != 1 {
		t.Fatalf("DLQ holds %+v, want just the message", deadLetters)
	}
	t.Logf("dead-lettered: %+v", d)
	if d.Class != string(contract.ReasonRetriesExhausted) || d.ReceiveCount != 2 {
		t.Errorf("DLQ reason %+v, want retries-exhausted at receive 2", d)
	}
	if d.Code != "ThrottlingException" || d.Message != "Rate exceeded" {
		// The message once said "context deadline exceeded" (the limiter's wait
		// running out of budget) next to the throttle's code.
		t.Errorf("DLQ code %q, message %q: want the last call's error, ThrottlingException \"Rate exceeded\"", d.Code, d.Message)
	}
}

// TestOpenCircuitSendsNoReceiveMessage: once access denials open the circuit,
// the worker sends no ReceiveMessage at all until the cooldown is over
// (counted on the SQS calls themselves, at the client and at the proxy); after
// the cooldown one probe finds the grant fixed, receiving resumes and every
// message is applied once, none dead-lettered.
func TestOpenCircuitSendsNoReceiveMessage(t *testing.T) {
	const cooldown = 4 * time.Second
	b := newBed(t, false, 5)
	b.sim.SetFaults(casesim.Faults{DenyRate: 1})
	var bodies []string
	for i := range 5 {
		bodies = append(bodies, validBody(i, ""))
	}
	b.send(bodies)
	circuit := quota.NewCircuit(3, cooldown)
	o, stop := b.startObserved(observedRun{circuit: circuit, forbiddenDelay: time.Second})

	eventually(t, 20*time.Second, "the circuit open", circuit.Open)
	opened := time.Now()
	// Baseline once the circuit is open, no long poll is in progress (one may
	// have begun before it opened) and every message received has its outcome
	// (a call still to come could close the circuit early).
	atOpen := o.pollCount()
	if !o.await(10*time.Second, func(o *edges) bool { return o.polling == 0 && len(o.outcomes) == len(o.deliveries) }) {
		polls, deliveries, outcomes := o.snapshot()
		t.Fatalf("10 s after the circuit opened the worker is still polling: %d ReceiveMessage calls since (%d messages received, %d handled)",
			len(polls)-atOpen, len(deliveries), len(outcomes))
	}
	basePolls, baseProxy := o.pollCount(), b.proxy.Calls("ReceiveMessage")
	baseAt := time.Now()
	if !circuit.Open() {
		t.Fatalf("the circuit closed again before the baseline (%v after opening): too slow a machine for a %v cooldown", baseAt.Sub(opened), cooldown)
	}
	// The grant is fixed; only a probe after the cooldown can tell.
	b.sim.SetFaults(casesim.Faults{})

	// Until the cooldown ends, the number of ReceiveMessage calls must stay put.
	// Both counts are read before Open is asked, so each was taken while the
	// circuit was still open.
	lastPolls, lastProxy, lastOpen := basePolls, baseProxy, baseAt
	eventually(t, cooldown+10*time.Second, "the cooldown to end", func() bool {
		n, np := o.pollCount(), b.proxy.Calls("ReceiveMessage")
		if !circuit.Open() {
			return true
		}
		lastPolls, lastProxy, lastOpen = n, np, time.Now()
		return false
	})
	window := lastOpen.Sub(baseAt)
	if lastPolls != basePolls || lastProxy != baseProxy {
		t.Errorf("ReceiveMessage calls while the circuit was open (%v observed): %d at the client, %d at the proxy; want 0",
			window.Round(10*time.Millisecond), lastPolls-basePolls, lastProxy-baseProxy)
	}
	if window < cooldown/4 {
		t.Errorf("observed the open circuit for only %v: the test proves little (slow machine?)", window)
	}

	o.waitFor(t, 30*time.Second, "all messages applied after the cooldown", func(o *edges) bool {
		done := 0
		for _, h := range o.outcomes {
			if h.out.Kind == consumer.Done {
				done++
			}
		}
		return done == len(bodies)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	polls, _, outcomes := o.snapshot()
	startedOpen := 0
	for _, p := range polls[basePolls:] {
		if p.open {
			startedOpen++
		}
	}
	if startedOpen != 0 {
		t.Errorf("%d ReceiveMessage calls began while the circuit was open after the baseline", startedOpen)
	}
	if len(polls) == basePolls {
		t.Error("no ReceiveMessage after the cooldown, yet the messages were applied?")
	}
	for _, h := range outcomes {
		if h.out.Kind != consumer.Done && (h.out.Kind != consumer.RetryLater || h.out.Reason != contract.ReasonForbidden) {
			t.Errorf("outcome %v %q, want applied or retry-later %q", h.out.Kind, h.out.Reason, contract.ReasonForbidden)
		}
	}
	marks := b.appliedMarks()
	for i := range bodies {
		if n := marks[fmt.Sprintf("m-%d", i)]; n != 1 {
			t.Errorf("message %d applied %d times, want once", i, n)
		}
	}
	deadLetters := map[string]dead{}
	b.drainDLQ(deadLetters)
	if len(deadLetters) != 0 {
		t.Errorf("dead-lettered on access denied: %+v", deadLetters)
	}
	eventually(t, 10*time.Second, "the source queue empty", func() bool { return b.queueDepth() == 0 })
	stats := b.sim.Stats()["UpdateCase"]
	t.Logf("ReceiveMessage calls: %d before the baseline, 0 allowed in the %v the circuit was seen open after it (%d at the client, %d at the proxy), %d after the cooldown; UpdateCase by status %v",
		basePolls, window.Round(10*time.Millisecond), lastPolls-basePolls, lastProxy-baseProxy, len(polls)-basePolls, stats)
	if stats[403] < 3 {
		t.Errorf("fewer denials (%d) than the circuit's threshold", stats[403])
	}
}
