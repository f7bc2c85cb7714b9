package worker

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

const (
	deleteAttempts    = 4
	parallelFlushes   = 4
	deleteCallTimeout = 10 * time.Second
)

type deleteEntry struct {
	receipt, messageID string
	span, msgSpan      trace.Span // nil when tracing is off; ended once SQS has answered for this entry
}

// deleter batches deletes (up to 10 per call, or whatever arrived within the
// flush interval). Every entry SQS reports as failed is retried with its own
// receipt handle, and logged by message id if it still fails.
type deleter struct {
	sqs     SQSAPI
	queue   string
	every   time.Duration
	log     *zap.Logger
	metrics *Metrics
	in      chan deleteEntry
	flushes sync.WaitGroup
	sem     chan struct{}
	tracer  *tracer
}

func newDeleter(api SQSAPI, queue string, every time.Duration, log *zap.Logger, m *Metrics) *deleter {
	return &deleter{sqs: api, queue: queue, every: every, log: log, metrics: m,
		in: make(chan deleteEntry, 256), sem: make(chan struct{}, parallelFlushes)}
}

func (d *deleter) delete(e deleteEntry) { d.in <- e }

// close flushes what is pending and waits for every flush to finish.
func (d *deleter) close() { close(d.in) }

func (d *deleter) run() {
	batch := make([]deleteEntry, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := batch
		batch = make([]deleteEntry, 0, maxBatch)
		d.sem <- struct{}{}
		d.flushes.Add(1)
		go func() { defer func() { <-d.sem; d.flushes.Done() }(); d.flush(b) }()
	}
	for {
		select {
		case e, ok := <-d.in:
			if !ok {
				flush()
				d.flushes.Wait()
				return
			}
			if len(batch) == 0 {
				timer.Reset(d.every)
			}
			batch = append(batch, e)
			if len(batch) == maxBatch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

func (d *deleter) flush(batch []deleteEntry) {
	pending := batch
	var lastErr, lastCode string
	for attempt := 1; attempt <= deleteAttempts && len(pending) > 0; attempt++ {
		if attempt > 1 {
			time.Sleep(time.Duration(attempt*attempt) * 50 * time.Millisecond)
		}
		// Entry ids are positions, never message ids: SQS may deliver one message
		// twice, and duplicate ids fail the whole call (BatchEntryIdsNotDistinct).
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(pending))
		for i, e := range pending {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(e.receipt)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), deleteCallTimeout)
		out, err := d.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(d.queue), Entries: entries})
		cancel()
		if err != nil {
			lastErr, lastCode = err.Error(), "DeleteMessageBatch failed"
			d.log.Warn("delete batch failed; retrying", zap.Int("entries", len(pending)), zap.Int("attempt", attempt), zap.Error(err))
			continue
		}
		d.metrics.deleted(len(pending) - len(out.Failed))
		failed := make(map[int]bool, len(out.Failed))
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil {
				failed[i] = true
			}
		}
		for i, e := range pending {
			if !failed[i] {
				endDelete(e, len(batch), "")
			}
		}
		var retry []deleteEntry
		for _, f := range out.Failed {
			i, convErr := strconv.Atoi(aws.ToString(f.Id))
			if convErr != nil || i < 0 || i >= len(pending) {
				continue
			}
			lastErr, lastCode = aws.ToString(f.Code)+": "+aws.ToString(f.Message), aws.ToString(f.Code)
			if f.SenderFault {
				// The receipt handle itself is bad (e.g. expired): retrying cannot help.
				d.log.Warn("delete refused; the message will be delivered again",
					zap.String("messageId", pending[i].messageID), zap.String("code", aws.ToString(f.Code)), zap.String("error", aws.ToString(f.Message)))
				d.metrics.deleteFailed()
				endDelete(pending[i], len(batch), aws.ToString(f.Code))
				continue
			}
			retry = append(retry, pending[i])
		}
		pending = retry
	}
	for _, e := range pending {
		d.metrics.deleteFailed()
		endDelete(e, len(batch), lastCode)
		d.log.Error("delete failed after retries; the message will be delivered again",
			zap.String("messageId", e.messageID), zap.String("error", lastErr))
	}
}
