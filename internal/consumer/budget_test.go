package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
)

// cutCases throttles the first call, then holds every call until its context
// ends, as a slow answer cut by the message's budget looks through the SDK.
type cutCases struct{ calls atomic.Int32 }

func (f *cutCases) UpdateCase(ctx context.Context, _ *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	if f.calls.Add(1) == 1 {
		return nil, errThrottle
	}
	<-ctx.Done()
	return nil, fmt.Errorf("operation error ConnectCases: UpdateCase, https response error StatusCode: 0, canceled, %w", ctx.Err())
}

// TestBudgetCuttingACallKeepsTheLastAnswer: a call cut short by the message's
// own budget says nothing about the service. The message leaves as the call
// before it was answered (throttled, ThrottlingException, the service's
// words), on the queue and on the DLQ alike — not as transient with the SDK's
// cancel text.
func TestBudgetCuttingACallKeepsTheLastAnswer(t *testing.T) {
	for _, rc := range []int{1, 8} {
		dlq := &fakeDLQ{}
		cases := &cutCases{}
		core := newTestCore(t, cases, dlq, "https://sqs.local/1/dlq")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m := Message{ID: "m", Body: validBody, ReceiveCount: rc, SourceQueue: "q"}
		out := core.Handle(ctx, m)
		cancel()
		if n := cases.calls.Load(); n < 2 {
			t.Fatalf("receive %d: %d calls; the test needs one cut by the budget", rc, n)
		}
		var throttle *types.ThrottlingException
		if out.Code != "ThrottlingException" || !errors.As(out.Err, &throttle) {
			t.Errorf("receive %d: code %q, error %v; want the throttle's", rc, out.Code, out.Err)
		}
		switch rc {
		case 1:
			if out.Kind != RetryLater || out.Reason != contract.ReasonThrottled {
				t.Errorf("receive 1: %v %q, want retry-later %q", out.Kind, out.Reason, contract.ReasonThrottled)
			}
		default:
			if out.Kind != DeadLettered || len(dlq.sent) != 1 {
				t.Fatalf("receive %d: %v with %d DLQ sends, want dead-lettered", rc, out.Kind, len(dlq.sent))
			}
			checkDeadLetter(t, dlq.sent[0], m, contract.ReasonRetriesExhausted, "ThrottlingException")
			var r contract.DeadLetterRecord
			_ = json.Unmarshal([]byte(aws.ToString(dlq.sent[0].MessageAttributes[contract.ErrorAttribute].StringValue)), &r)
			if r.Message != "Rate exceeded" {
				t.Errorf("DLQ reason message %q, want the throttle's %q", r.Message, "Rate exceeded")
			}
		}
	}
}
