package consumer

import (
	"github.com/casebridge/casebridge/contract"

	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeCases answers UpdateCase from a script; after the script, the last entry repeats.
type fakeCases struct {
	mu     sync.Mutex
	script []error
	calls  int
}

func (f *fakeCases) UpdateCase(ctx context.Context, _ *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.calls, len(f.script)-1)
	f.calls++
	if err := f.script[i]; err != nil {
		return nil, err
	}
	return &connectcases.UpdateCaseOutput{}, nil
}

type fakeDLQ struct {
	mu   sync.Mutex
	err  error
	sent []*sqs.SendMessageInput
}

func (f *fakeDLQ) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("dlq-1")}, nil
}

const validBody = `{"domainId":"d1","caseId":"c1","fields":{"status":"closed"}}`

var (
	errThrottle   = &types.ThrottlingException{Message: aws.String("Rate exceeded")}
	errValidation = &types.ValidationException{Message: aws.String("field priority expects doubleValue")}
	errNotFound   = &types.ResourceNotFoundException{Message: aws.String("case not found"), ResourceId: aws.String("c1"), ResourceType: aws.String("Case")}
	errInternal   = &types.InternalServerException{Message: aws.String("boom")}
	errDenied     = &types.AccessDeniedException{Message: aws.String("not authorized")}
)

func attrs(n int) map[string]sqstypes.MessageAttributeValue {
	m := map[string]sqstypes.MessageAttributeValue{}
	for i := range n {
		m[string(rune('a'+i))] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("v")}
	}
	return m
}

// TestOutcomesTable covers the outcomes table (README, docs/architecture.md), one row per case.
func TestOutcomesTable(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		script       []error
		receiveCount int
		attrs        map[string]sqstypes.MessageAttributeValue
		dlqErr       error
		budget       time.Duration // 0 = none
		cancel       bool
		wantKind     Kind
		wantReason   contract.Reason
		wantCode     string
		wantAttempts int
		wantDLQ      bool
	}{
		{name: "applied", body: validBody, script: []error{nil}, wantKind: Done, wantReason: "", wantAttempts: 1},
		{name: "invalid message", body: `{"caseId":"c1","feilds":{}}`, script: []error{nil}, wantKind: DeadLettered, wantReason: contract.ReasonInvalidMessage, wantDLQ: true},
		{name: "validation", body: validBody, script: []error{errValidation}, wantKind: DeadLettered, wantReason: contract.ReasonValidation, wantCode: "ValidationException", wantAttempts: 1, wantDLQ: true},
		{name: "not found", body: validBody, script: []error{errNotFound}, wantKind: DeadLettered, wantReason: contract.ReasonNotFound, wantCode: "ResourceNotFoundException", wantAttempts: 1, wantDLQ: true},
		{name: "throttle then ok", body: validBody, script: []error{errThrottle, errThrottle, nil}, wantKind: Done, wantReason: "", wantAttempts: 3},
		{name: "throttle past budget", body: validBody, script: []error{errThrottle}, budget: 150 * time.Millisecond, wantKind: RetryLater, wantReason: contract.ReasonThrottled, wantCode: "ThrottlingException"},
		{name: "transient then ok", body: validBody, script: []error{errInternal, nil}, wantKind: Done, wantReason: "", wantAttempts: 2},
		{name: "transient gives up after a few", body: validBody, script: []error{errInternal}, wantKind: RetryLater, wantReason: contract.ReasonTransient, wantCode: "InternalServerException", wantAttempts: 3},
		{name: "forbidden is not dead-lettered", body: validBody, script: []error{errDenied}, wantKind: RetryLater, wantReason: contract.ReasonForbidden, wantCode: "AccessDeniedException", wantAttempts: 1},
		{name: "exhausted at max receives", body: validBody, script: []error{errInternal}, receiveCount: 8, wantKind: DeadLettered, wantReason: contract.ReasonRetriesExhausted, wantCode: "InternalServerException", wantAttempts: 3, wantDLQ: true},
		{name: "forbidden exhausted at max receives", body: validBody, script: []error{errDenied}, receiveCount: 9, wantKind: DeadLettered, wantReason: contract.ReasonRetriesExhausted, wantCode: "AccessDeniedException", wantAttempts: 1, wantDLQ: true},
		{name: "below max receives stays", body: validBody, script: []error{errInternal}, receiveCount: 7, wantKind: RetryLater, wantReason: contract.ReasonTransient, wantAttempts: 3},
		{name: "shutdown never exhausts", body: validBody, script: []error{errThrottle}, receiveCount: 8, cancel: true, wantKind: RetryLater, wantReason: contract.ReasonCanceled},
		{name: "DLQ send fails: not deleted", body: validBody, script: []error{errValidation}, dlqErr: errors.New("dlq down"), wantKind: RetryLater, wantReason: contract.ReasonDLQSendFailed, wantCode: "ValidationException", wantAttempts: 1},
		{name: "10 attributes: released for native redrive", body: validBody, script: []error{errValidation}, attrs: attrs(10), wantKind: RetryLater, wantReason: contract.ReasonDLQUnformable, wantCode: "ValidationException", wantAttempts: 1},
		{name: "9 attributes: room for one more", body: validBody, script: []error{errValidation}, attrs: attrs(9), wantKind: DeadLettered, wantReason: contract.ReasonValidation, wantCode: "ValidationException", wantAttempts: 1, wantDLQ: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases := &fakeCases{script: tc.script}
			dlq := &fakeDLQ{err: tc.dlqErr}
			core := newTestCore(t, cases, dlq, "https://sqs.local/1/dlq")
			ctx := context.Background()
			if tc.budget > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.budget)
				defer cancel()
			}
			if tc.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			msg := Message{ID: "m-1", Body: tc.body, ReceiveCount: tc.receiveCount, Attributes: tc.attrs, SourceQueue: "https://sqs.local/1/src"}
			out := core.Handle(ctx, msg)
			if out.Kind != tc.wantKind || out.Reason != tc.wantReason {
				t.Fatalf("outcome = %v/%s (err %v), want %v/%s", out.Kind, out.Reason, out.Err, tc.wantKind, tc.wantReason)
			}
			if tc.wantCode != "" && out.Code != tc.wantCode {
				t.Errorf("code = %q, want %q", out.Code, tc.wantCode)
			}
			if tc.wantAttempts != 0 && out.Attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", out.Attempts, tc.wantAttempts)
			}
			if out.Kind == RetryLater && out.Delay < time.Second {
				t.Errorf("RetryLater delay %v: must be at least 1s (no hot redelivery loop)", out.Delay)
			}
			if got := len(dlq.sent) > 0; got != tc.wantDLQ {
				t.Fatalf("sent to DLQ = %v, want %v", got, tc.wantDLQ)
			}
			if tc.wantDLQ {
				checkDeadLetter(t, dlq.sent[0], msg, tc.wantReason, tc.wantCode)
			}
		})
	}
}

func newTestCore(t *testing.T, cases CasesAPI, dlq QueueSender, dlqURL string) *Core {
	t.Helper()
	core, err := New(Options{Cases: cases, DLQ: dlq, DLQURL: dlqURL,
		BackoffBase: time.Millisecond, BackoffCap: 50 * time.Millisecond, Circuit: quota.NewCircuit(3, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return core
}

func checkDeadLetter(t *testing.T, in *sqs.SendMessageInput, msg Message, class contract.Reason, code string) {
	t.Helper()
	if aws.ToString(in.MessageBody) != msg.Body {
		t.Errorf("DLQ body changed: %q", aws.ToString(in.MessageBody))
	}
	for k, v := range msg.Attributes {
		got, ok := in.MessageAttributes[k]
		if !ok || aws.ToString(got.StringValue) != aws.ToString(v.StringValue) || aws.ToString(got.DataType) != aws.ToString(v.DataType) {
			t.Errorf("attribute %s not kept: %+v", k, got)
		}
	}
	if len(in.MessageAttributes) != len(msg.Attributes)+1 {
		t.Errorf("DLQ message has %d attributes, want original %d + 1", len(in.MessageAttributes), len(msg.Attributes))
	}
	raw := aws.ToString(in.MessageAttributes[contract.ErrorAttribute].StringValue)
	var r contract.DeadLetterRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatalf("%s is not JSON: %q", contract.ErrorAttribute, raw)
	}
	if r.Class != class || r.Code != code || r.SourceMessageID != msg.ID || r.SourceQueue != msg.SourceQueue || r.ReceiveCount != msg.ReceiveCount {
		t.Errorf("reason = %+v, want class %s code %s", r, class, code)
	}
	if r.Message == "" || len(r.Message) > maxErrorText {
		t.Errorf("reason message length %d: want 1..%d", len(r.Message), maxErrorText)
	}
	if _, err := time.Parse(time.RFC3339, r.FailedAt); err != nil {
		t.Errorf("failedAt %q is not RFC 3339", r.FailedAt)
	}
}

func TestOversizedDeadLetterIsReleased(t *testing.T) {
	dlq := &fakeDLQ{}
	core := newTestCore(t, &fakeCases{script: []error{errValidation}}, dlq, "https://sqs.local/1/dlq")
	big := map[string]sqstypes.MessageAttributeValue{"blob": {DataType: aws.String("Binary"), BinaryValue: make([]byte, maxMessageBytes-len(validBody)-10)}}
	out := core.Handle(context.Background(), Message{ID: "m", Body: validBody, Attributes: big})
	if out.Kind != RetryLater || out.Reason != contract.ReasonDLQUnformable || len(dlq.sent) != 0 {
		t.Fatalf("outcome %v/%s, %d sends; want release without a send", out.Kind, out.Reason, len(dlq.sent))
	}
	if !strings.Contains(out.Err.Error(), "over the SQS limit") {
		t.Errorf("error should say why: %v", out.Err)
	}
}

func TestFIFODeadLetterKeepsGroupAndDeduplicates(t *testing.T) {
	dlq := &fakeDLQ{}
	core := newTestCore(t, &fakeCases{script: []error{errNotFound}}, dlq, "https://sqs.local/1/dlq.fifo")
	m := Message{ID: "m-7", Body: validBody, GroupID: "case-42", SourceQueue: "q.fifo"}
	core.Handle(context.Background(), m)
	core.Handle(context.Background(), m)
	if len(dlq.sent) != 2 {
		t.Fatalf("%d sends", len(dlq.sent))
	}
	a, b := dlq.sent[0], dlq.sent[1]
	if aws.ToString(a.MessageGroupId) != "case-42" {
		t.Errorf("group = %q", aws.ToString(a.MessageGroupId))
	}
	if d := aws.ToString(a.MessageDeduplicationId); d == "" || d != aws.ToString(b.MessageDeduplicationId) || len(d) > 128 {
		t.Errorf("dedup ids %q / %q: want equal, non-empty, ≤128", d, aws.ToString(b.MessageDeduplicationId))
	}
}

func TestRepeatedDenialsOpenTheCircuit(t *testing.T) {
	circuit := quota.NewCircuit(3, time.Minute)
	core, err := New(Options{Cases: &fakeCases{script: []error{errDenied}}, DLQ: &fakeDLQ{}, DLQURL: "u", Circuit: circuit})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if circuit.Open() {
			t.Fatalf("circuit open after %d denials", i)
		}
		core.Handle(context.Background(), Message{ID: "m", Body: validBody})
	}
	if !circuit.Open() {
		t.Fatal("circuit still closed after 3 denials")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	withRetryAfter := &types.InternalServerException{Message: aws.String("busy"), RetryAfterSeconds: aws.Int32(3)}
	core := newTestCore(t, &fakeCases{script: []error{withRetryAfter}}, &fakeDLQ{}, "u")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out := core.Handle(ctx, Message{ID: "m", Body: validBody})
	// 3 s does not fit the 1 s budget: give it back for at least Retry-After.
	if out.Kind != RetryLater || out.Delay < 3*time.Second || out.Attempts != 1 {
		t.Fatalf("outcome %v delay %v attempts %d; want RetryLater ≥3s after 1 attempt", out.Kind, out.Delay, out.Attempts)
	}
}
