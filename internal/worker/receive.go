package worker

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/retry"
)

const maxBatch = 10 // SQS: ReceiveMessage and DeleteMessageBatch take at most 10

// receiveLoop long-polls for as many messages as there are free slots, so a
// backlog waits on the queue (where its receive count does not grow), not in flight.
func (w *Worker) receiveLoop(ctx context.Context, id int) {
	backoff := retry.NewBackoff(200*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		if w.o.Circuit != nil {
			if err := w.o.Circuit.Wait(ctx); err != nil {
				return
			}
		}
		n := w.acquire(ctx)
		if n == 0 {
			return
		}
		began := time.Now()
		out, err := w.o.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(w.o.QueueURL),
			MaxNumberOfMessages: int32(n),
			WaitTimeSeconds:     w.o.WaitTime,
			// AWSTraceHeader too when tracing: the publisher's X-Ray context.
			MessageSystemAttributeNames: w.sysAttrs,
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			w.releaseSlots(n)
			if ctx.Err() != nil {
				return
			}
			d, _ := backoff.Next()
			w.o.Logger.Warn("receive failed; backing off", zap.Int("receiver", id), zap.Duration("wait", d), zap.Error(err))
			w.o.Metrics.receiveError()
			if retry.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		backoff = retry.NewBackoff(200*time.Millisecond, 10*time.Second)
		w.releaseSlots(n - len(out.Messages))
		received := time.Now()
		for _, m := range out.Messages {
			w.dispatch(m, received)
		}
		if len(out.Messages) == 0 && received.Sub(began) < emptyReceiveFloor {
			// An empty answer long before the long poll's end (a FIFO queue whose
			// groups are all in flight, on some servers): pause, never spin.
			if retry.Sleep(ctx, emptyReceiveFloor) != nil {
				return
			}
		}
	}
}

// emptyReceiveFloor is the least time a receiver spends on an empty receive.
const emptyReceiveFloor = 100 * time.Millisecond

// acquire waits for one free slot, then takes up to a batch's worth more without waiting.
func (w *Worker) acquire(ctx context.Context) int {
	select {
	case <-w.slots:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < maxBatch {
		select {
		case <-w.slots:
			n++
		default:
			return n
		}
	}
	return n
}

func (w *Worker) releaseSlots(n int) {
	for range n {
		w.slots <- struct{}{}
	}
}

// dispatch starts m now, or behind the earlier messages of its FIFO group.
func (w *Worker) dispatch(m sqstypes.Message, received time.Time) {
	job := &job{
		msg:      toMessage(m, w.o.QueueURL),
		receipt:  aws.ToString(m.ReceiptHandle),
		received: received,
	}
	job.msg.Span = w.tracer.startMessage(m, job.msg, received)
	job.hb = w.startHeartbeat(job.receipt, job.msg.ID)
	w.backlog.sent(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)])
	w.inflight.Add(1)
	w.held.Add(1)
	if !w.isFIFO() {
		w.jobs <- job // never blocks for long: a slot was taken for it, and there is a goroutine per slot
		return
	}
	// Real SQS never hands out two messages of one group at once, but messages of a
	// group received together must still run one after another.
	w.groups.enqueue(job.msg.GroupID, job)
}

// runGroupBatch runs messages of one FIFO group, in order, and carries out
// what the core decided for each (including holding some back for order).
func (w *Worker) runGroupBatch(g *consumer.Group, batch []*job) {
	defer func() {
		for range batch {
			w.finish()
		}
	}()
	if w.runCtx.Err() != nil { // shutting down: not started, give them back at once
		for _, j := range batch {
			w.giveBack(j, "shutdown before start")
		}
		return
	}
	msgs := make([]consumer.Message, len(batch))
	oldest := batch[0].received
	for i, j := range batch {
		msgs[i] = j.msg
		if j.received.Before(oldest) {
			oldest = j.received
		}
	}
	hctx, cancel := context.WithDeadline(w.hardCtx, oldest.Add(w.o.MaxHold))
	outs := w.o.Handler.HandleGroup(hctx, g, msgs)
	cancel()
	for i, j := range batch {
		w.settle(j, outs[i])
	}
}

func (w *Worker) giveBack(j *job, why string) {
	j.hb.stop()
	w.changeVisibility(j, 0, why)
	released(j.msg.Span, 0, why)
}

func (w *Worker) finish() {
	w.held.Add(-1)
	w.releaseSlots(1)
	w.inflight.Done()
}

type job struct {
	msg      consumer.Message
	receipt  string
	received time.Time
	hb       *heartbeat
}

// process runs the core on one standard-queue message and carries out its outcome.
func (w *Worker) process(j *job) {
	hctx, cancel := context.WithDeadline(w.hardCtx, j.received.Add(w.o.MaxHold))
	out := w.o.Handler.Handle(hctx, j.msg)
	cancel()
	w.settle(j, out)
}

// settle carries out an outcome: delete, or give back for out.Delay.
func (w *Worker) settle(j *job, out consumer.Outcome) {
	j.hb.stop() // before delete or release: no heartbeat on a dead receipt handle
	if out.Kind.Deletes() {
		w.deleter.delete(deleteEntry{receipt: j.receipt, messageID: j.msg.ID,
			span: w.tracer.deleteSpan(j.msg.Span), msgSpan: j.msg.Span})
		return
	}
	w.changeVisibility(j, out.Delay, string(out.Reason))
	released(j.msg.Span, out.Delay, string(out.Reason))
}

// changeVisibility gives a message back to the queue after d (RetryLater) or at once (d = 0).
func (w *Worker) changeVisibility(j *job, d time.Duration, why string) {
	secs := int32(math.Ceil(d.Seconds()))
	secs = min(max(secs, 0), 43200) // SQS: 0 to 12 hours
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.o.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(w.o.QueueURL), ReceiptHandle: aws.String(j.receipt), VisibilityTimeout: secs,
	})
	if err != nil {
		// The message still comes back, after the queue's visibility timeout.
		w.o.Logger.Warn("could not change visibility; the message returns after its visibility timeout",
			zap.String("messageId", j.msg.ID), zap.String("why", why), zap.Error(err))
	}
}

func toMessage(m sqstypes.Message, queueURL string) consumer.Message {
	rc, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	return consumer.Message{
		ID:           aws.ToString(m.MessageId),
		Body:         aws.ToString(m.Body),
		Attributes:   m.MessageAttributes,
		ReceiveCount: rc,
		GroupID:      m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)],
		SourceQueue:  queueURL,
	}
}
