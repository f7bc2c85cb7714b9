package worker_test

import (
	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
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
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
)

const (
	domainID = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	missing  = "7a1d6c3e-0000-4000-8000-0000000000ff"
)

func caseID(i int) string { return fmt.Sprintf("7a1d6c3e-0000-4000-8000-%012d", i%5+1) }

// bed is one test's world: goaws behind the fidelity/fault proxy, the Cases
// simulator seeded with the demo data, and real SDK clients for both.
type bed struct {
	t      *testing.T
	sqs    *sqs.Client // through the proxy
	proxy  *sqsproxy.Proxy
	sim    *casesim.Server
	cases  *connectcases.Client
	src    string
	dlq    string
	goaws  *testbed.Goaws
	simURL string
}

func newBed(t *testing.T, fifo bool, visibility int) *bed {
	t.Helper()
	src, dlq := "src", "dlq"
	if fifo {
		src, dlq = "src.fifo", "dlq.fifo"
	}
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{
		{Name: src, VisibilityTimeout: visibility, RedrivePolicy: testbed.RedrivePolicy(dlq, 10)},
		{Name: dlq, VisibilityTimeout: 30},
	}})
	p, endpoint, err := sqsproxy.Start(g.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{RandSeed: 1})
	b := &bed{t: t, proxy: p, sim: sim, goaws: g, simURL: simURL,
		sqs:   testbed.NewSQSClient(endpoint),
		cases: testbed.NewCasesClient(simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
	}
	b.src = g.QueueURLT(t, src)
	b.dlq = g.QueueURLT(t, dlq)
	return b
}

type workerOpts struct {
	maxReceives int
	maxInFlight int
	grace       time.Duration
	limiter     *quota.Limiter
	circuit     *quota.Circuit
	// observe, if set, also receives the worker's log entries (warn and up),
	// so a test can tell which path a run took (zaptest/observer).
	observe zapcore.Core
}

// stopSlack is how long past its shutdown grace a stopped worker may take to
// return from Run before stop reports it hung: generous, for a loaded machine.
const stopSlack = 30 * time.Second

// start runs a worker in this process until the returned stop is called; stop
// returns Run's error, or an error when Run has not returned stopSlack after
// the grace period.
func (b *bed) start(o workerOpts) (w *worker.Worker, stop func() error) {
	b.t.Helper()
	core, err := consumer.New(consumer.Options{
		Cases: b.cases, DLQ: b.sqs, DLQURL: b.dlq,
		Mapper:      mapper.New(mapper.Config{DefaultDomainID: domainID}),
		Limiter:     o.limiter,
		Circuit:     o.circuit,
		Logger:      zaptest.NewLogger(b.t, zaptest.Level(zap.WarnLevel)),
		MaxReceives: o.maxReceives,
		BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	logOpts := []zaptest.LoggerOption{zaptest.Level(zap.WarnLevel)}
	if o.observe != nil {
		logOpts = append(logOpts, zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, o.observe) })))
	}
	w, err = worker.New(worker.Options{SQS: b.sqs, QueueURL: b.src, Handler: core, Circuit: o.circuit,
		Logger: zaptest.NewLogger(b.t, logOpts...), Metrics: worker.NewMetrics(nil),
		MaxInFlight: o.maxInFlight, Receivers: 2, WaitTime: 1, ShutdownGrace: o.grace})
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	grace := o.grace
	if grace == 0 {
		grace = 25 * time.Second // worker.Options' default
	}
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(grace + stopSlack):
				runErr = fmt.Errorf("Run has not returned %v after cancel (grace %v): the drain hangs", grace+stopSlack, grace)
			}
		})
		return runErr
	}
	b.t.Cleanup(func() { _ = stop() })
	return w, stop
}

// send publishes bodies (FIFO: group = the index's case) and returns their message ids.
func (b *bed) send(bodies []string) []string {
	b.t.Helper()
	ids := make([]string, len(bodies))
	for i, body := range bodies {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(b.src), MessageBody: aws.String(body)}
		if filepath.Ext(b.src) == ".fifo" {
			in.MessageGroupId = aws.String(groupOf(body))
			in.MessageDeduplicationId = aws.String(strconv.Itoa(i))
		}
		out, err := b.sqs.SendMessage(context.Background(), in)
		if err != nil {
			b.t.Fatalf("send %d: %v", i, err)
		}
		ids[i] = aws.ToString(out.MessageId)
	}
	return ids
}

func groupOf(body string) string {
	var m struct{ CaseID string }
	_ = json.Unmarshal([]byte(body), &m)
	return m.CaseID
}

type dead struct {
	Class, Code, Message, SourceMessageID string
	ReceiveCount                          int
}

// drainDLQ reads and deletes everything on the DLQ, keyed by source message id.
func (b *bed) drainDLQ(into map[string]dead) {
	b.t.Helper()
	for {
		out, err := b.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.dlq),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			b.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		for _, m := range out.Messages {
			var d dead
			a, ok := m.MessageAttributes[contract.ErrorAttribute]
			if !ok {
				b.t.Errorf("DLQ message %s without %s (native redrive moved it?)", aws.ToString(m.MessageId), contract.ErrorAttribute)
			} else if err := json.Unmarshal([]byte(aws.ToString(a.StringValue)), &d); err != nil {
				b.t.Errorf("bad %s: %v", contract.ErrorAttribute, err)
			}
			into[d.SourceMessageID] = d
			if _, err := b.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				b.t.Fatal(err)
			}
		}
	}
}

// appliedMarks returns how often each `reason` value was applied (our per-message marker).
func (b *bed) appliedMarks() map[string]int {
	marks := map[string]int{}
	for _, u := range b.sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if aws.ToString(f.Id) != "reason" {
				continue
			}
			if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
				marks[v.Value]++
			}
		}
	}
	return marks
}

// queueDepth is visible + in flight on the source queue.
func (b *bed) queueDepth() int {
	b.t.Helper()
	out, err := b.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(b.src),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		b.t.Fatal(err)
	}
	v, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	nv, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return v + nv
}

// eventually polls cond until it holds or the timeout passes. Polling is the
// signal here: the outcomes live in other processes (goaws) we can only ask.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.WaitFor(t, timeout, what, cond)
}

func doubleOf(f types.FieldValue) (float64, bool) {
	v, ok := f.Value.(*types.FieldValueUnionMemberDoubleValue)
	if !ok {
		return 0, false
	}
	return v.Value, true
}

func doubleValue(v any) float64 {
	if d, ok := v.(*types.FieldValueUnionMemberDoubleValue); ok {
		return d.Value
	}
	return -1
}
