package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/quota"
	"github.com/casebridge/casebridge/internal/worker"
)

// edges records, under one lock, every ReceiveMessage the worker makes,
// every message it gets back, and every outcome the core gives; changed is
// closed and replaced on each record, so a test waits on a signal.
// TestLongThrottleGivesBackOncePerHold: under a throttle that outlasts
// MaxHold, a message is held (the heartbeat keeping it invisible, since the
// queue's visibility timeout is shorter than the hold) until its budget is
// spent, then given back to the queue as RetryLater throttle — never
// dead-lettered, its receive count growing by one per hold and no faster —
// and applied exactly once when the throttle lifts.
type edges struct {
	circuit *quota.Circuit // read at each ReceiveMessage; nil: none

	mu         sync.Mutex
	changed    chan struct{}
	polling    int           // ReceiveMessage calls in progress
	polls      []receiveCall // every ReceiveMessage started
	deliveries []delivery
	outcomes   []handled
}

type receiveCall struct {
	at   time.Time
	open bool // the circuit was open (cooldown running) when the call began
}

type delivery struct {
	at           time.Time
	id           string
	receiveCount int // ApproximateReceiveCount as SQS (the proxy) gave it
}

type handled struct {
	id           string
	receiveCount int
	out          consumer.Outcome
}

func newEdges(c *quota.Circuit) *edges {
	return &edges{circuit: c, changed: make(chan struct{})}
}

// record changes the observer's state and wakes the waiters.
func (o *edges) record(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
	close(o.changed)
	o.changed = make(chan struct{})
}

// waitFor returns when cond (called under the lock) holds, and fails the test
// if it does not within timeout.
func (o *edges) waitFor(t *testing.T, timeout time.Duration, what string, cond func(o *edges) bool) {
	t.Helper()
	if !o.await(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// await reports whether cond (called under the lock) held within timeout.
func (o *edges) await(timeout time.Duration, cond func(o *edges) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ok, changed := cond(o), o.changed
		o.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			o.mu.Lock()
			defer o.mu.Unlock()
			return cond(o)
		}
	}
}

func (o *edges) snapshot() (polls []receiveCall, deliveries []delivery, outcomes []handled) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]receiveCall(nil), o.polls...), append([]delivery(nil), o.deliveries...), append([]handled(nil), o.outcomes...)
}

func (o *edges) pollCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.polls)
}

// observedSQS is the worker's real SDK client with ReceiveMessage recorded.
type observedSQS struct {
	worker.SQSAPI
	o *edges
}

func (s observedSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	p := receiveCall{at: time.Now(), open: s.o.circuit != nil && s.o.circuit.Open()}
	s.o.record(func() { s.o.polling++; s.o.polls = append(s.o.polls, p) })
	out, err := s.SQSAPI.ReceiveMessage(ctx, in, optFns...)
	now := time.Now()
	s.o.record(func() {
		s.o.polling--
		if err != nil {
			return
		}
		for _, m := range out.Messages {
			rc, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
			s.o.deliveries = append(s.o.deliveries, delivery{at: now, id: aws.ToString(m.MessageId), receiveCount: rc})
		}
	})
	return out, err
}

// observedHandler is the real core with its outcomes recorded (standard queues:
// HandleGroup passes through unrecorded).
type observedHandler struct {
	consumer.Handler
	o *edges
}

func (h observedHandler) Handle(ctx context.Context, m consumer.Message) consumer.Outcome {
	out := h.Handler.Handle(ctx, m)
	h.o.record(func() { h.o.outcomes = append(h.o.outcomes, handled{id: m.ID, receiveCount: m.ReceiveCount, out: out}) })
	return out
}

type observedRun struct {
	maxHold        time.Duration
	maxReceives    int
	limiter        *quota.Limiter
	circuit        *quota.Circuit
	forbiddenDelay time.Duration
}

// startObserved runs a real worker over a real core, both observed, with two
// receivers and 1 s long polls, until the returned stop (also run at cleanup).
func (b *bed) startObserved(r observedRun) (*edges, func() error) {
	b.t.Helper()
	core, err := consumer.New(consumer.Options{
		Cases: b.cases, DLQ: b.sqs, DLQURL: b.dlq,
		Mapper:         mapper.New(mapper.Config{DefaultDomainID: domainID}),
		Limiter:        r.limiter,
		Circuit:        r.circuit,
		Logger:         zaptest.NewLogger(b.t, zaptest.Level(zap.WarnLevel)),
		MaxReceives:    r.maxReceives,
		ForbiddenDelay: r.forbiddenDelay,
		BackoffBase:    20 * time.Millisecond, BackoffCap: 200 * time.Millisecond,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	o := newEdges(r.circuit)
	const grace = 5 * time.Second
	w, err := worker.New(worker.Options{
		SQS: observedSQS{SQSAPI: b.sqs, o: o}, QueueURL: b.src, Handler: observedHandler{Handler: core, o: o},
		Circuit: r.circuit, Logger: zaptest.NewLogger(b.t, zaptest.Level(zap.WarnLevel)), Metrics: worker.NewMetrics(nil),
		MaxHold: r.maxHold, Receivers: 2, WaitTime: 1, ShutdownGrace: grace,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(grace + stopSlack):
				runErr = fmt.Errorf("Run has not returned %v after cancel: the drain hangs", grace+stopSlack)
			}
		})
		return runErr
	}
	b.t.Cleanup(func() { _ = stop() })
	return o, stop
}

// throttleEverything makes the simulator answer every UpdateCase with 429
// until its faults are changed: a bucket that refills once in ~30 years, whose
// one token a call of the test's own spends.
func (b *bed) throttleEverything() {
	b.t.Helper()
	b.sim.SetFaults(casesim.Faults{Rate: 1e-9, Burst: 1})
	_, err := b.cases.UpdateCase(context.Background(), &connectcases.UpdateCaseInput{
		DomainId: aws.String(domainID), CaseId: aws.String(caseID(0)),
		Fields: []types.FieldValue{{Id: aws.String("reason"), Value: &types.FieldValueUnionMemberStringValue{Value: "bucket-drained"}}},
	})
	if err != nil {
		b.t.Fatalf("spending the simulator's one token: %v", err)
	}
	if _, err := b.cases.UpdateCase(context.Background(), &connectcases.UpdateCaseInput{
		DomainId: aws.String(domainID), CaseId: aws.String(caseID(0)),
		Fields: []types.FieldValue{{Id: aws.String("reason"), Value: &types.FieldValueUnionMemberStringValue{Value: "bucket-drained"}}},
	}); err == nil {
		b.t.Fatal("the simulator still lets calls through after its one token was spent")
	}
}
