package dlqtool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/casebridge/casebridge/contract"
)

// DefaultRedriveRate is the default bound on messages sent back per second:
// slow enough that a redrive of thousands does not starve the live traffic
// of the Cases API quota the worker shares.
const DefaultRedriveRate = 10

// RedriveOptions selects and paces a redrive.
type RedriveOptions struct {
	Class  contract.Reason // only messages dead-lettered with this reason class ("" = any)
	Code   string          // only messages with this API error code ("" = any)
	Limit  int             // move at most this many; 0 = all that match
	DryRun bool            // count what would move, move nothing
	Rate   float64         // messages sent per second; 0 = DefaultRedriveRate
	// To overrides the destination; by default each message goes back to the
	// sourceQueue its casebridge-error attribute names.
	To string
	// Progress, if set, is called after each message the scan looks at.
	Progress func(Progress)
}

// Progress is the running count of a redrive.
type Progress struct {
	Scanned int `json:"scanned"`
	Matched int `json:"matched"`
	Moved   int `json:"moved"`
	Failed  int `json:"failed"`
}

// Failure is one matching message that was not moved; it stays on the DLQ
// unless DeleteFailed says the send succeeded and only the delete did not.
type Failure struct {
	MessageID    string `json:"messageId"`
	Error        string `json:"error"`
	DeleteFailed bool   `json:"deleteFailed,omitempty"` // sent, but still on the DLQ too
}

// Report is the outcome of a redrive.
type Report struct {
	Progress
	DryRun   bool      `json:"dryRun,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
}

// Redrive sends the matching DLQ messages back to their source queue with
// their body and attributes unchanged, except that casebridge-error is
// removed and the redrive counter is added (or incremented). Each message is
// deleted from the DLQ only after its send succeeded; a failed send leaves
// it where it was. Messages that do not match stay on the DLQ, visible.
func (t *Tool) Redrive(ctx context.Context, o RedriveOptions) (Report, error) {
	r := Report{DryRun: o.DryRun}
	if o.Rate <= 0 {
		o.Rate = DefaultRedriveRate
	}
	lim := rate.NewLimiter(rate.Limit(o.Rate), 1)
	progress := func() {
		if o.Progress != nil {
			o.Progress(r.Progress)
		}
	}
	err := t.scan(ctx, func(ctx context.Context, h *held) (bool, error) {
		r.Scanned++
		reason := reasonOf(h.msg)
		class, code := classOf(reason)
		if (o.Class != "" && o.Class != class) || (o.Code != "" && o.Code != code) {
			progress()
			return false, nil
		}
		r.Matched++
		done := o.Limit > 0 && r.Matched >= o.Limit
		if o.DryRun {
			progress()
			return done, nil
		}
		if err := lim.Wait(ctx); err != nil {
			return true, err
		}
		if f := t.move(ctx, h, reason, o.To); f != nil {
			r.Failed++
			r.Failures = append(r.Failures, *f)
			t.o.Logger.Warn("redrive failed", zap.String("messageId", f.MessageID), zap.String("error", f.Error))
		} else {
			r.Moved++
		}
		progress()
		return done, nil
	})
	return r, err
}

// move sends one message back and deletes it from the DLQ; nil on success.
func (t *Tool) move(ctx context.Context, h *held, reason *contract.DeadLetterRecord, to string) *Failure {
	id := aws.ToString(h.msg.MessageId)
	fail := func(err error) *Failure { return &Failure{MessageID: id, Error: err.Error()} }
	if to == "" {
		if reason == nil || reason.SourceQueue == "" {
			return fail(errors.New("no source queue recorded (no casebridge-error attribute): name one with --to"))
		}
		u, err := t.queueURL(ctx, reason.SourceQueue)
		if err != nil {
			return fail(err)
		}
		to = u
	}
	in := redriveInput(to, h.msg)
	if _, err := t.sqs.SendMessage(ctx, in); err != nil {
		return fail(fmt.Errorf("sending to %s: %w", to, err))
	}
	// Sent: from here the message must not come back to the DLQ as visible.
	h.keep = false
	_, err := t.sqs.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{
		QueueUrl: aws.String(t.dlqURL), ReceiptHandle: h.msg.ReceiptHandle,
	})
	if err != nil {
		f := fail(fmt.Errorf("sent to %s but not deleted from the DLQ (it will show again after its hold): %w", to, err))
		f.DeleteFailed = true
		return f
	}
	return nil
}

// redriveInput builds the send: body and attributes as they were, without
// casebridge-error, with the redrive counter. The counter replaces the
// error attribute, so the count of attributes does not grow; a message that
// came without one (moved by native redrive with 10 attributes) goes back
// without the counter rather than not at all.
func redriveInput(queueURL string, m sqstypes.Message) *sqs.SendMessageInput {
	count := redriveCount(m) + 1
	attrs := make(map[string]sqstypes.MessageAttributeValue, len(m.MessageAttributes)+1)
	for k, v := range m.MessageAttributes {
		if k == contract.ErrorAttribute {
			continue
		}
		attrs[k] = sqstypes.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: v.BinaryValue}
	}
	if _, has := attrs[RedriveCountAttribute]; has || len(attrs) < 10 {
		attrs[RedriveCountAttribute] = sqstypes.MessageAttributeValue{
			DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(count)),
		}
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: m.Body, MessageAttributes: attrs}
	if strings.HasSuffix(queueURL, ".fifo") {
		group := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
		if group == "" {
			group = aws.ToString(m.MessageId)
		}
		// One id per DLQ message and redrive, so a retried send is not
		// doubled but a second redrive later is not swallowed.
		sum := sha256.Sum256([]byte(aws.ToString(m.MessageId) + "\x00" + strconv.Itoa(count)))
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String(hex.EncodeToString(sum[:]))
	}
	return in
}

// queueURL resolves a source queue named by URL or by ARN (the Lambda
// records the ARN of the queue it read from).
func (t *Tool) queueURL(ctx context.Context, q string) (string, error) {
	if !strings.HasPrefix(q, "arn:") {
		return q, nil
	}
	t.mu.Lock()
	u, ok := t.urls[q]
	t.mu.Unlock()
	if ok {
		return u, nil
	}
	parts := strings.Split(q, ":") // arn:partition:sqs:region:account:name
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("source queue %q is not an SQS queue ARN", q)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := t.sqs.GetQueueUrl(cctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return "", fmt.Errorf("resolving source queue %s: %w", q, err)
	}
	u = aws.ToString(out.QueueUrl)
	t.mu.Lock()
	t.urls[q] = u
	t.mu.Unlock()
	return u, nil
}
