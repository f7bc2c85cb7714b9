package worker

import (
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/poll"
)

// fifoSQS hands out its messages as real SQS does for one FIFO group: up to
// the requested number per receive, in order, the next batch only after the
// previous one is deleted.
type fifoSQS struct {
	fakeSQS
	mu      sync.Mutex
	pending []sqstypes.Message
	out     int // handed out and not yet deleted
}

func (f *fifoSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	if f.out > 0 || len(f.pending) == 0 {
		f.mu.Unlock()
		select { // nothing for us now: a long poll that ends empty
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
			return &sqs.ReceiveMessageOutput{}, nil
		}
	}
	defer f.mu.Unlock()
	n := min(int(in.MaxNumberOfMessages), len(f.pending))
	batch := f.pending[:n]
	f.pending = f.pending[n:]
	f.out = n
	return &sqs.ReceiveMessageOutput{Messages: batch}, nil
}

func (f *fifoSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	out, err := f.fakeSQS.DeleteMessageBatch(ctx, in, o...)
	f.mu.Lock()
	f.out -= len(in.Entries)
	f.mu.Unlock()
	return out, err
}

type countingCases struct {
	mu    sync.Mutex
	calls []*connectcases.UpdateCaseInput
}

func (c *countingCases) UpdateCase(_ context.Context, in *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, in)
	return &connectcases.UpdateCaseOutput{}, nil
}

// TestFIFOCoalescingMergesAGroupInOrder: with coalescing on, the messages of a
// FIFO group that arrive together go to the core as one group and become one
// call per batch, and the last message's value is the one sent last.
func TestFIFOCoalescingMergesAGroupInOrder(t *testing.T) {
	q := &fifoSQS{}
	for i := range 30 {
		q.pending = append(q.pending, sqstypes.Message{
			MessageId: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(fmt.Sprint("rh-", i)),
			Body:       aws.String(fmt.Sprintf(`{"domainId":"d","caseId":"c1","fields":{"priority":%d}}`, i)),
			Attributes: map[string]string{"MessageGroupId": "c1", "ApproximateReceiveCount": "1"},
		})
	}
	cases := &countingCases{}
	core, err := consumer.New(consumer.Options{Cases: cases, DLQ: nopSender{}, DLQURL: "dlq.fifo", Coalesce: true,
		Limiter: quota.NewLimiter(quota.LimiterConfig{Ceiling: 20, InitialRate: 20})})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{SQS: q, QueueURL: "q.fifo", Handler: core, Coalesce: true, Receivers: 1, VisibilityTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	poll.WaitFor(t, 30*time.Second, "all 30 messages deleted", func() bool {
		q.fakeSQS.mu.Lock()
		defer q.fakeSQS.mu.Unlock()
		return len(q.fakeSQS.deleted) == 30
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cases.mu.Lock()
	defer cases.mu.Unlock()
	if len(cases.calls) > 6 {
		t.Errorf("%d calls for 30 messages of one group received 10 at a time: not coalesced", len(cases.calls))
	}
	last := cases.calls[len(cases.calls)-1].Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue).Value
	if last != 29 {
		t.Errorf("last priority sent %v, want 29 (order lost)", last)
	}
	prev := -1.0
	for _, c := range cases.calls {
		p := c.Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue).Value
		if p <= prev {
			t.Errorf("priority %v sent after %v", p, prev)
		}
		prev = p
	}
}

type nopSender struct{}

func (nopSender) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}
