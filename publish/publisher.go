package publish

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
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	goretry "github.com/sethvargo/go-retry"
)

// SQSAPI is the part of *sqs.Client a Publisher uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SNSAPI is the part of *sns.Client a Publisher uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SQS batch limits.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 1 << 20 // total of the bodies in one SendMessageBatch
)

// Option tunes a Publisher.
type Option func(*Publisher)

// WithRetry sets how often an entry that a batch reports Failed (through no
// fault of the sender) is sent again, and the full-jitter backoff between
// tries. Defaults: 5 tries, 100ms base, 5s cap. Whole calls are retried by
// the SDK's own retryer, so the two layers never multiply.
func WithRetry(attempts int, base, maxDelay time.Duration) Option {
	return func(p *Publisher) {
		p.attempts, p.base, p.cap = max(attempts, 1), base, maxDelay
	}
}

// Publisher sends contract v1 messages to one queue or topic. A name ending
// in ".fifo" makes it FIFO: the group id is the case id (so one case's
// updates stay in order) and the deduplication id is the message's eventId,
// or a hash of its content when it has none. It is safe for concurrent use.
type Publisher struct {
	sqs      SQSAPI
	sns      SNSAPI
	target   string // queue URL or topic ARN
	fifo     bool
	attempts int
	base     time.Duration
	cap      time.Duration
}

// NewSQS returns a Publisher sending to the queue at queueURL.
func NewSQS(client SQSAPI, queueURL string, opts ...Option) *Publisher {
	return newPublisher(&Publisher{sqs: client, target: queueURL}, opts)
}

// NewSNS returns a Publisher publishing to the topic topicARN. Subscribe the
// queue with raw delivery on or off: casebridge unwraps the SNS envelope.
func NewSNS(client SNSAPI, topicARN string, opts ...Option) *Publisher {
	return newPublisher(&Publisher{sns: client, target: topicARN}, opts)
}

func newPublisher(p *Publisher, opts []Option) *Publisher {
	p.fifo = strings.HasSuffix(p.target, ".fifo")
	p.attempts, p.base, p.cap = 5, 100*time.Millisecond, 5*time.Second
	for _, o := range opts {
		o(p)
	}
	return p
}

// Send validates and sends one message and returns the id SQS or SNS gave
// it. A broken rule is a *RejectionError and nothing is sent.
func (p *Publisher) Send(ctx context.Context, m *Message) (string, error) {
	e, err := p.entry(m)
	if err != nil {
		return "", err
	}
	tc := traceContext(ctx)
	if p.sns != nil {
		out, err := p.sns.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String(p.target), Message: aws.String(e.body),
			MessageGroupId: e.group, MessageDeduplicationId: e.dedup,
			MessageAttributes: tc.snsAttributes(nil, len(e.body)),
		})
		if err != nil {
			return "", fmt.Errorf("publish: publishing to %s: %w", p.target, err)
		}
		return aws.ToString(out.MessageId), nil
	}
	out, err := p.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(p.target), MessageBody: aws.String(e.body),
		MessageGroupId: e.group, MessageDeduplicationId: e.dedup,
		MessageAttributes: tc.sqsAttributes(nil, len(e.body)),
	})
	if err != nil {
		return "", fmt.Errorf("publish: sending to %s: %w", p.target, err)
	}
	return aws.ToString(out.MessageId), nil
}

// Result is the fate of one message of a batch.
type Result struct {
	MessageID string // may be empty when the server does not list successes
	Err       error  // nil when sent
}

// BatchResult reports a SendBatch, one Result per message in order.
type BatchResult struct {
	Results []Result
	Sent    int
	Failed  int
}

// SendBatch validates and sends msgs with as few calls as the limits allow
// (SendMessageBatch on a queue; one Publish each on a topic). A batch is
// judged by its Failed entries, never by its Successful list, and only the
// failed entries are sent again; an entry failed by the sender's fault (and
// any message breaking the contract) is not retried. The error is non-nil
// when any message was not sent; it wraps the first such error.
func (p *Publisher) SendBatch(ctx context.Context, msgs []*Message) (BatchResult, error) {
	res := BatchResult{Results: make([]Result, len(msgs))}
	entries := make([]entry, 0, len(msgs))
	tc := traceContext(ctx)
	for i, m := range msgs {
		e, err := p.entry(m)
		if err != nil {
			res.Results[i].Err = err
			continue
		}
		e.index = i
		if p.sns == nil {
			e.attrs = tc.sqsAttributes(nil, len(e.body))
		}
		entries = append(entries, e)
	}
	if p.sns != nil {
		for _, e := range entries {
			id, err := p.Send(ctx, msgs[e.index])
			res.Results[e.index] = Result{MessageID: id, Err: err}
		}
	} else {
		for _, chunk := range chunks(entries) {
			p.sendChunk(ctx, chunk, res.Results)
		}
	}
	var first error
	for i, r := range res.Results {
		if r.Err == nil {
			res.Sent++
			continue
		}
		res.Failed++
		if first == nil {
			first = fmt.Errorf("message %d: %w", i, r.Err)
		}
	}
	if first != nil {
		return res, fmt.Errorf("publish: %d of %d messages not sent; first: %w", res.Failed, len(msgs), first)
	}
	return res, nil
}

// sendChunk sends up to MaxBatchEntries entries, retrying the failed ones.
func (p *Publisher) sendChunk(ctx context.Context, pending []entry, results []Result) {
	b := goretry.WithCappedDuration(p.cap, goretry.WithJitterPercent(50, goretry.NewExponential(p.base)))
	for attempt := 1; len(pending) > 0; attempt++ {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.target)}
		for i, e := range pending {
			// Entry ids are positions, never message-derived, so they are
			// always distinct (BatchEntryIdsNotDistinct cannot happen).
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(e.body),
				MessageGroupId: e.group, MessageDeduplicationId: e.dedup,
				MessageAttributes: e.attrs,
			})
		}
		out, err := p.sqs.SendMessageBatch(ctx, in)
		if err != nil {
			// The SDK has already retried the call itself.
			for _, e := range pending {
				results[e.index].Err = fmt.Errorf("sending to %s: %w", p.target, err)
			}
			return
		}
		failed := make(map[int]sqstypes.BatchResultErrorEntry, len(out.Failed))
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(pending) {
				failed[i] = f
			}
		}
		for _, s := range out.Successful {
			if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= 0 && i < len(pending) {
				results[pending[i].index].MessageID = aws.ToString(s.MessageId)
			}
		}
		var retry []entry
		for i, e := range pending {
			f, ok := failed[i]
			if !ok {
				results[e.index].Err = nil
				continue
			}
			results[e.index].Err = &EntryError{Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
			if !f.SenderFault {
				retry = append(retry, e)
			}
		}
		if len(retry) == 0 || attempt >= p.attempts {
			return
		}
		wait, _ := b.Next()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pending = retry
	}
}

// EntryError is one entry a SendMessageBatch reported in Failed.
type EntryError struct {
	Code        string
	Message     string
	SenderFault bool // the request was wrong; sending it again cannot help
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("batch entry failed: %s: %s (sender fault: %t)", e.Code, e.Message, e.SenderFault)
}

// IsRejection reports whether err says the message broke the contract, so
// sending it again unchanged can never succeed.
func IsRejection(err error) bool {
	var rej *RejectionError
	return errors.As(err, &rej)
}

type entry struct {
	index int
	body  string
	group *string
	dedup *string
	attrs map[string]sqstypes.MessageAttributeValue // the trace context; nil without
}

// size is what the entry counts toward a batch's size: its body and its
// message attributes' names, types and values.
func (e entry) size() int {
	n := len(e.body)
	for k, v := range e.attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

func (p *Publisher) entry(m *Message) (entry, error) {
	if m == nil {
		return entry{}, &RejectionError{Path: "$", Rule: "message is nil"}
	}
	body, err := Encode(m)
	if err != nil {
		return entry{}, err
	}
	e := entry{body: string(body)}
	if p.fifo {
		e.group = aws.String(GroupID(m))
		e.dedup = aws.String(DeduplicationID(m, body))
	}
	return e, nil
}

// GroupID is the FIFO message group id of m: its case id, so that one
// case's updates are applied in order while other cases proceed. A case id
// SQS would refuse as a group id (over 128 characters, or characters
// outside printable ASCII) is replaced by its hash, which keeps the grouping.
func GroupID(m *Message) string { return fifoID("case-", m.CaseID) }

// DeduplicationID is the FIFO deduplication id of m: its eventId, else a
// hash of body. Content deduplication drops an identical update sent twice
// within SQS's 5-minute window, so publishers that may legitimately repeat
// an update (open, closed, open again) should set distinct event ids.
func DeduplicationID(m *Message, body []byte) string {
	if m.EventID != "" {
		return fifoID("event-", m.EventID)
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func fifoID(prefix, s string) string {
	if len(s) <= 128 && fifoChars(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return prefix + hex.EncodeToString(sum[:])
}

// fifoChars reports whether s uses only what SQS allows in group and
// deduplication ids: alphanumerics and ASCII punctuation.
func fifoChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return s != ""
}

// chunks splits entries into batches within SQS's entry and size limits
// (the size counts message attributes as well as bodies).
func chunks(entries []entry) [][]entry {
	var out [][]entry
	var cur []entry
	size := 0
	for _, e := range entries {
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && size+e.size() > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += e.size()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
