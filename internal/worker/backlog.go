package worker

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
)

// backlogWatch estimates how long the queue's backlog takes to drain at the
// pace this instance deletes messages (what the quota lets through, more with
// coalescing), and warns (at most every warnEvery) when that is longer than
// the oldest message has left before SQS deletes it (its retention period):
// at 2 UpdateCase calls/s a queue drains 172,800 updates a day, and what
// waits longer than retention is lost silently.
type backlogWatch struct {
	mu        sync.Mutex
	oldest    time.Time // earliest SentTimestamp received since the last check
	drainSecs float64   // last estimate; NaN before the first
	warned    time.Time // last warning
}

// sent notes the SentTimestamp system attribute of a received message.
func (b *backlogWatch) sent(attr string) {
	ms, err := strconv.ParseInt(attr, 10, 64)
	if err != nil {
		return
	}
	t := time.UnixMilli(ms)
	b.mu.Lock()
	if b.oldest.IsZero() || t.Before(b.oldest) {
		b.oldest = t
	}
	b.mu.Unlock()
}

// takeOldest returns and forgets the earliest send time seen since the last call.
func (b *backlogWatch) takeOldest() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.oldest
	b.oldest = time.Time{}
	return t
}

func (b *backlogWatch) estimate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.drainSecs
}

// backlogEstimate is one check's arithmetic.
type backlogEstimate struct {
	depth     int
	rate      float64       // messages deleted per second over the last minute
	drain     time.Duration // depth ÷ rate; math.MaxInt64 when nothing gets through
	retention time.Duration
	oldestAge time.Duration // of the oldest message received since the last check; 0 if none
}

// atRisk reports whether the backlog outlasts what the oldest message has left.
func (e backlogEstimate) atRisk() bool {
	return e.depth > 0 && e.oldestAge > 0 && e.drain > e.retention-e.oldestAge
}

func estimateBacklog(depth int, rate float64, retention, oldestAge time.Duration) backlogEstimate {
	e := backlogEstimate{depth: depth, rate: rate, retention: retention, oldestAge: oldestAge}
	switch {
	case depth == 0:
	case rate <= 0:
		e.drain = time.Duration(math.MaxInt64)
	default:
		e.drain = time.Duration(float64(depth) / rate * float64(time.Second))
	}
	return e
}

// watchBacklog checks every o.BacklogCheckEvery until ctx ends.
func (w *Worker) watchBacklog(ctx context.Context) {
	t := time.NewTicker(w.o.BacklogCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.checkBacklog(ctx)
		}
	}
}

func (w *Worker) checkBacklog(ctx context.Context) {
	out, err := w.o.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(w.o.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameMessageRetentionPeriod},
	})
	if err != nil {
		w.o.Logger.Debug("backlog check: cannot read the queue's attributes", zap.Error(err))
		return
	}
	now := time.Now()
	depth, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if nv, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]); err == nil {
		w.checkSharing(nv, now)
	}
	retSecs, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameMessageRetentionPeriod)])
	if err != nil || retSecs <= 0 {
		retSecs = 4 * 24 * 3600 // SQS's default
	}
	var age time.Duration
	if oldest := w.backlog.takeOldest(); !oldest.IsZero() {
		age = now.Sub(oldest)
	}
	e := estimateBacklog(depth, w.o.Metrics.drainRate(), time.Duration(retSecs)*time.Second, age)
	drain := e.drain.Seconds()
	if e.drain == time.Duration(math.MaxInt64) {
		drain = math.Inf(1)
	}
	w.backlog.mu.Lock()
	w.backlog.drainSecs = drain
	warn := e.atRisk() && due(w.backlog.warned, now)
	if warn {
		w.backlog.warned = now
	}
	w.backlog.mu.Unlock()
	if warn {
		w.o.Logger.Warn("the backlog will not drain before its oldest messages expire: raise the account's UpdateCase quota, turn on CASEBRIDGE_COALESCE if many updates hit the same cases, or set a ceiling on other callers of UpdateCase",
			zap.Int("queueDepth", e.depth), zap.Float64("drainedPerSecond", e.rate),
			zap.String("drainEstimate", drainText(e.drain)), zap.Duration("oldestMessageAge", e.oldestAge),
			zap.Duration("retention", e.retention))
	}
}

func drainText(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "never (nothing drained in the last minute)"
	}
	return fmt.Sprint(d.Round(time.Second))
}
