package worker

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/testkit/handlers"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/casebridge/casebridge/internal/consumer"
)

// fakeSQS records delete and visibility calls; failOnce makes the first delete of
// each listed receipt handle come back in Failed (not a sender fault).
type fakeSQS struct {
	mu         sync.Mutex
	failOnce   map[string]bool
	deleted    []string
	batchSizes []int
	visibility []int32
	changed    chan struct{}
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batchSizes = append(f.batchSizes, len(in.Entries))
	ids := map[string]bool{}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		if ids[*e.Id] {
			return nil, errors.New("BatchEntryIdsNotDistinct")
		}
		ids[*e.Id] = true
		if rh := aws.ToString(e.ReceiptHandle); f.failOnce[rh] {
			delete(f.failOnce, rh)
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false})
			continue
		}
		f.deleted = append(f.deleted, aws.ToString(e.ReceiptHandle))
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	f.visibility = append(f.visibility, in.VisibilityTimeout)
	f.mu.Unlock()
	if f.changed != nil {
		f.changed <- struct{}{}
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"VisibilityTimeout": "30"}}, nil
}

func TestDeleterBatchesRetriesFailedEntriesAndKeepsIDsDistinct(t *testing.T) {
	f := &fakeSQS{failOnce: map[string]bool{"rh-3": true, "rh-17": true}}
	d := newDeleter(f, "q", time.Hour, zap.NewNop(), nil) // only full batches or close flush
	done := make(chan struct{})
	go func() { d.run(); close(done) }()
	var want []string
	for i := range 23 {
		d.delete(deleteEntry{receipt: "rh-" + strconv.Itoa(i), messageID: "m"})
		want = append(want, "rh-"+strconv.Itoa(i))
	}
	d.delete(deleteEntry{receipt: "rh-5", messageID: "m"}) // the same message delivered twice
	want = append(want, "rh-5")
	d.close()
	<-done
	sort.Strings(want)
	sort.Strings(f.deleted)
	if len(f.deleted) != len(want) {
		t.Fatalf("deleted %d, want %d: %v", len(f.deleted), len(want), f.deleted)
	}
	for i := range want {
		if f.deleted[i] != want[i] {
			t.Fatalf("deleted %v, want %v", f.deleted, want)
		}
	}
	for _, n := range f.batchSizes {
		if n > 10 {
			t.Errorf("batch of %d entries, SQS allows 10", n)
		}
	}
}

func TestHeartbeatRenewsWithoutInflationAndStopsBeforeDelete(t *testing.T) {
	f := &fakeSQS{changed: make(chan struct{}, 16)}
	w, err := New(Options{SQS: f, QueueURL: "q", Handler: nil, VisibilityTimeout: time.Second})
	if err == nil {
		t.Fatal("New accepted a nil handler")
	}
	w = &Worker{o: Options{SQS: f, QueueURL: "q", VisibilityTimeout: time.Second, Logger: zap.NewNop()}}
	hb := w.startHeartbeat("rh", "m")
	for range 3 {
		select {
		case <-f.changed:
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	hb.stop()
	f.mu.Lock()
	n := len(f.visibility)
	for _, v := range f.visibility {
		if v != 1 {
			t.Errorf("heartbeat set visibility %d s, want the queue's 1 s each time (not inflated)", v)
		}
	}
	f.mu.Unlock()
	// After stop returns, no beat may follow: wait two intervals and count again.
	time.Sleep(1200 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.visibility) != n {
		t.Errorf("%d heartbeats after stop", len(f.visibility)-n)
	}
}

// GraceOverLog is the start of the warning Run logs when the shutdown grace
// ends before in-flight work does. Tests read it to tell a drain that ended by
// itself from one the grace cut; TestShutdownGraceCutsStuckWork keeps it true.
const GraceOverLog = "shutdown grace over"

// TestShutdownGraceCutsStuckWork: a handler that never finishes by itself
// keeps Run draining for the grace, no less, and is then canceled because of
// it; Run returns, the message is not deleted, and the cut is logged. The
// handler's context is the signal: no timing but the grace's lower bound (safe
// under load) and a generous hang bound.
func TestShutdownGraceCutsStuckWork(t *testing.T) {
	const grace = 500 * time.Millisecond
	q := &fifoSQS{pending: []sqstypes.Message{{MessageId: aws.String("m"), ReceiptHandle: aws.String("rh"), Body: aws.String("{}"),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}}
	started, cut := make(chan struct{}), make(chan time.Time, 1)
	h := handlers.Func(func(ctx context.Context, _ consumer.Message) consumer.Outcome {
		close(started)
		<-ctx.Done() // stuck until the worker gives up on it
		cut <- time.Now()
		return consumer.Outcome{Kind: consumer.RetryLater, Reason: "shutdown", Delay: time.Second}
	})
	obs, logs := observer.New(zap.WarnLevel)
	w, err := New(Options{SQS: q, QueueURL: "q", Handler: h, Logger: zap.New(obs), Receivers: 1, MaxInFlight: 1,
		VisibilityTimeout: 30 * time.Second, ShutdownGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler never got the message")
	}
	canceledAt := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(grace + 30*time.Second):
		t.Fatalf("Run has not returned %v after cancel with a %v grace: the grace does not cut stuck work", grace+30*time.Second, grace)
	}
	select {
	case at := <-cut:
		if d := at.Sub(canceledAt); d < grace {
			t.Errorf("in-flight work canceled %v after shutdown began, before its %v grace", d, grace)
		}
	default:
		t.Fatal("Run returned with the handler still running: its context was never canceled")
	}
	if n := logs.FilterMessageSnippet(GraceOverLog).Len(); n != 1 {
		t.Errorf("%q logged %d times, want once; warnings: %v", GraceOverLog, n, logs.All())
	}
	q.fakeSQS.mu.Lock()
	defer q.fakeSQS.mu.Unlock()
	if len(q.fakeSQS.deleted) != 0 {
		t.Errorf("deleted %v: a message cut by the grace must stay on the queue", q.fakeSQS.deleted)
	}
}

func TestWrongQueueFailsFastUnreachableRetries(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&sqstypes.QueueDoesNotExist{Message: aws.String("no such queue")}, true},
		{&smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue"}, true},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, true},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), false},
		{&smithy.GenericAPIError{Code: "InternalError"}, false},
	}
	for _, tc := range tests {
		if got := wrongQueue(tc.err); got != tc.want {
			t.Errorf("wrongQueue(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
