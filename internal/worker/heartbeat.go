package worker

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
)

// heartbeat keeps one in-flight message invisible. Each beat sets the visibility
// to the queue's timeout counted from now (never inflated by the time already
// held). stop waits for a beat in progress, so no beat ever follows a delete.
type heartbeat struct {
	mu      sync.Mutex
	stopped bool
	timer   *time.Timer
}

func (w *Worker) startHeartbeat(receipt, messageID string) *heartbeat {
	vt := w.o.VisibilityTimeout
	interval := max(vt/2, 500*time.Millisecond)
	secs := int32(math.Ceil(vt.Seconds()))
	hb := &heartbeat{}
	var beat func()
	beat = func() {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		if hb.stopped {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(interval, 10*time.Second))
		_, err := w.o.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(w.o.QueueURL), ReceiptHandle: aws.String(receipt), VisibilityTimeout: secs,
		})
		cancel()
		w.o.Metrics.heartbeat(err)
		if err != nil {
			var bad *sqstypes.ReceiptHandleIsInvalid
			if errors.As(err, &bad) {
				w.o.Logger.Warn("heartbeat: receipt handle no longer valid; stopping", zap.String("messageId", messageID))
				return
			}
			w.o.Logger.Warn("heartbeat failed; will try again", zap.String("messageId", messageID), zap.Error(err))
		}
		hb.timer = time.AfterFunc(interval, beat)
	}
	hb.mu.Lock()
	hb.timer = time.AfterFunc(interval, beat)
	hb.mu.Unlock()
	return hb
}

func (hb *heartbeat) stop() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.stopped = true
	hb.timer.Stop()
}
