package worker

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/handlers"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// backlogSQS answers GetQueueAttributes with a queue depth, in-flight count
// and retention.
type backlogSQS struct {
	fakeSQS
	depth, notVisible, retentionSecs int
}

func (b *backlogSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"ApproximateNumberOfMessages": fmt.Sprint(b.depth), "ApproximateNumberOfMessagesNotVisible": fmt.Sprint(b.notVisible),
		"MessageRetentionPeriod": fmt.Sprint(b.retentionSecs)}}, nil
}

// newBacklogWorker is a worker on sqsAPI with metrics, logging its warnings
// to logs.
func newBacklogWorker(t *testing.T, sqsAPI SQSAPI) (*Worker, *Metrics, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	m := NewMetrics(nil)
	w, err := New(Options{SQS: sqsAPI, QueueURL: "q", Handler: handlers.Func(func(context.Context, consumer.Message) consumer.Outcome { return consumer.Outcome{Kind: consumer.Done} }), Logger: zap.New(core), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return w, m, logs
}

// lastMinute makes meter count per second, over the last minute, what add
// adds once a second.
func lastMinute(meter **callMeter, add func(m *callMeter)) {
	clock := time.Now().Add(-time.Minute)
	*meter = newCallMeter(func() time.Time { return clock })
	for range meterWindow {
		add(*meter)
		clock = clock.Add(time.Second)
	}
}

// TestBacklogCheckWarnsBeforeMessagesExpire: a backlog that the rate this
// instance gets cannot drain before the oldest message's retention ends is
// logged as a warning naming what to do, and the estimate is exposed.
func TestBacklogCheckWarnsBeforeMessagesExpire(t *testing.T) {
	w, m, logs := newBacklogWorker(t, &backlogSQS{depth: 1000, retentionSecs: 3600})
	lastMinute(&m.drained, func(c *callMeter) { c.add(2, 0) }) // 2 messages deleted a second
	// The oldest message received was sent 30 minutes ago: 30 minutes left,
	// while 1000 messages at 2/s take about 8 minutes: no warning.
	w.backlog.sent(fmt.Sprint(time.Now().Add(-30 * time.Minute).UnixMilli()))
	w.checkBacklog(context.Background())
	if got := w.backlog.estimate(); math.Abs(got-500) > 25 { // the window's edge second may be cut
		t.Errorf("drain estimate %.0f s, want about 500 (1000 ÷ 2/s)", got)
	}
	if logs.Len() != 0 {
		t.Fatalf("warned with time to spare: %v", logs.All()[0].Message)
	}
	// 55 minutes old: 5 minutes left, 8 minutes of backlog.
	w.backlog.sent(fmt.Sprint(time.Now().Add(-55 * time.Minute).UnixMilli()))
	w.checkBacklog(context.Background())
	if logs.Len() != 1 || !strings.Contains(logs.All()[0].Message, "raise the account's UpdateCase quota") {
		t.Fatalf("want one warning naming what to do, got %d: %v", logs.Len(), logs.All())
	}
	// Still at risk a check later: the warning waits for warnEvery.
	w.backlog.sent(fmt.Sprint(time.Now().Add(-55 * time.Minute).UnixMilli()))
	w.checkBacklog(context.Background())
	if logs.Len() != 1 {
		t.Errorf("warned again within %v: %d warnings", warnEvery, logs.Len())
	}
}
