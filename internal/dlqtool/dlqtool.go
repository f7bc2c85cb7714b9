// Package dlqtool lets operators look into casebridge's dead-letter queue and
// send chosen messages back: counts by reason, a look at the messages, and a
// filtered, rate-bounded redrive that SQS's own move task cannot do (it moves
// everything or nothing).
//
// Every command reads the DLQ by receiving its messages and holding them
// invisible while it works; whatever it did not move is made visible again
// at the end (also when the command is interrupted), so looking never
// consumes. On real SQS each look still counts as a receive of the DLQ
// message, which is harmless: a DLQ has no redrive policy of its own.
//
// On a FIFO DLQ, SQS hides the later messages of a group while an earlier
// one is held, so a look sees the first message of each group; a redrive
// that moves a group's first message goes on to the next. Stats reports the
// queue's own approximate depth beside its count so the gap is visible.
package dlqtool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/contract"
)

// RedriveCountAttribute is the Number message attribute a redriven message
// carries: how often it has been sent back from the DLQ.
const RedriveCountAttribute = "casebridge-redrive-count"

// SQSAPI is the part of *sqs.Client the tool uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Options tunes a Tool. Zero fields take the defaults.
type Options struct {
	Logger *zap.Logger // nil → no logs
	// Hold is how long each scanned message stays invisible while a command
	// runs (5m). A scan that outlives it sees messages again; it stops there.
	Hold time.Duration
	// Wait is the long-poll time of each receive (1s). A receive that finds
	// nothing in that time ends the scan.
	Wait time.Duration
}

// Tool works on one dead-letter queue.
type Tool struct {
	sqs    SQSAPI
	dlqURL string
	o      Options

	mu   sync.Mutex
	urls map[string]string // source queue ARN → URL
}

// New returns a Tool for the DLQ at dlqURL.
func New(client SQSAPI, dlqURL string, o Options) *Tool {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Hold <= 0 {
		o.Hold = 5 * time.Minute
	}
	if o.Wait <= 0 {
		o.Wait = time.Second
	}
	return &Tool{sqs: client, dlqURL: dlqURL, o: o, urls: map[string]string{}}
}

// held is a message received during a scan. keep means "leave it on the
// DLQ": it is made visible again when the scan ends.
type held struct {
	msg  sqstypes.Message
	keep bool
}

// visit decides on one message; stop ends the scan after it.
type visit func(ctx context.Context, h *held) (stop bool, err error)

// scan receives every message of the DLQ once, hands each to fn, and makes
// the ones fn kept visible again, whatever happens (ctx canceled included).
func (t *Tool) scan(ctx context.Context, fn visit) (err error) {
	var kept []string
	defer func() {
		if rerr := t.restore(kept); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	seen := map[string]bool{}
	for {
		out, rerr := t.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(t.dlqURL),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             int32(t.o.Wait / time.Second),
			VisibilityTimeout:           int32(t.o.Hold / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if rerr != nil {
			return fmt.Errorf("receiving from %s: %w", t.dlqURL, rerr)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		stop := false
		for i := range out.Messages {
			h := &held{msg: out.Messages[i], keep: true}
			id := aws.ToString(h.msg.MessageId)
			if stop || seen[id] {
				// Past the limit, or back at a message whose hold ran out: the
				// scan has gone round the queue.
				stop = true
				kept = append(kept, aws.ToString(h.msg.ReceiptHandle))
				continue
			}
			seen[id] = true
			var verr error
			stop, verr = fn(ctx, h)
			if h.keep {
				kept = append(kept, aws.ToString(h.msg.ReceiptHandle))
			}
			if verr != nil {
				// Keep the rest of this receive too; then stop.
				for _, m := range out.Messages[i+1:] {
					kept = append(kept, aws.ToString(m.ReceiptHandle))
				}
				return verr
			}
		}
		if stop {
			return nil
		}
	}
}

// restore makes held messages visible again. It runs on its own context so
// an interrupted command still gives back what it held.
func (t *Tool) restore(handles []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, h := range handles {
		// One call per message: ChangeMessageVisibilityBatch would save calls,
		// but not every SQS-protocol server has it and operators run this rarely.
		_, err := t.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(t.dlqURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		t.o.Logger.Warn("some DLQ messages stay invisible until their hold ends",
			zap.Int("count", len(errs)), zap.Duration("hold", t.o.Hold), zap.Error(errs[0]))
		return fmt.Errorf("restoring visibility of %d messages (they return after %s): %w", len(errs), t.o.Hold, errs[0])
	}
	return nil
}

// reasonOf reads the casebridge-error attribute; nil when the message has
// none (e.g. moved by the queue's native redrive) or it cannot be read.
func reasonOf(m sqstypes.Message) *contract.DeadLetterRecord {
	a, ok := m.MessageAttributes[contract.ErrorAttribute]
	if !ok || a.StringValue == nil {
		return nil
	}
	r, err := contract.ParseDeadLetterRecord(*a.StringValue)
	if err != nil {
		return nil
	}
	return &r
}

// redriveCount reads the redrive counter attribute (0 when absent).
func redriveCount(m sqstypes.Message) int {
	a, ok := m.MessageAttributes[RedriveCountAttribute]
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(aws.ToString(a.StringValue))
	return n
}

// Class names used for messages without a readable reason attribute.
const ClassUnknown contract.Reason = "unknown"

func classOf(r *contract.DeadLetterRecord) (class contract.Reason, code string) {
	if r == nil {
		return ClassUnknown, ""
	}
	return r.Class, r.Code
}
