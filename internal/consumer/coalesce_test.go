package consumer

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
)

// recordingCases records every call; a request carrying field "bad" is
// rejected as the service would, and failAll makes every call a 500.
type recordingCases struct {
	mu      sync.Mutex
	calls   []*connectcases.UpdateCaseInput
	failAll bool
}

func (r *recordingCases) UpdateCase(_ context.Context, in *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, in)
	if r.failAll {
		return nil, errInternal
	}
	for _, f := range in.Fields {
		if aws.ToString(f.Id) == "bad" {
			return nil, errValidation
		}
	}
	return &connectcases.UpdateCaseOutput{}, nil
}

func (r *recordingCases) n() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.calls) }

func stringField(id, v string) types.FieldValue {
	return types.FieldValue{Id: aws.String(id), Value: &types.FieldValueUnionMemberStringValue{Value: v}}
}

func TestMergeInputsLaterValueWins(t *testing.T) {
	a := &connectcases.UpdateCaseInput{DomainId: aws.String("d"), CaseId: aws.String("c"),
		Fields: []types.FieldValue{stringField("status", "open"), stringField("reason", "r1")}}
	b := &connectcases.UpdateCaseInput{DomainId: aws.String("d"), CaseId: aws.String("c"),
		Fields: []types.FieldValue{stringField("priority", "p"), stringField("status", "closed")}}
	m := mergeInputs([]*connectcases.UpdateCaseInput{a, b})
	var got []string
	for _, f := range m.Fields {
		got = append(got, aws.ToString(f.Id)+"="+f.Value.(*types.FieldValueUnionMemberStringValue).Value)
	}
	if fmt.Sprint(got) != "[status=closed reason=r1 priority=p]" {
		t.Errorf("merged %v", got)
	}
	if a.Fields[0].Value.(*types.FieldValueUnionMemberStringValue).Value != "open" || len(a.Fields) != 2 {
		t.Error("mergeInputs modified its input")
	}
}

func coalescingCore(t *testing.T, cases CasesAPI, ceiling float64) *Core {
	t.Helper()
	core, err := New(Options{Cases: cases, DLQ: &fakeDLQ{}, DLQURL: "u", Coalesce: true,
		Limiter:     quota.NewLimiter(quota.LimiterConfig{Ceiling: ceiling, InitialRate: ceiling}),
		BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return core
}

func body(caseID, field, value string) string {
	return fmt.Sprintf(`{"domainId":"d","caseId":%q,"fields":{%q:%q}}`, caseID, field, value)
}

// TestCoalescingMergesWaiters: while the limiter is the bottleneck, messages
// for one case share calls; with bad set, one message carries a field the
// service rejects: it alone is dead-lettered, its neighbours are applied.
func TestCoalescingMergesWaiters(t *testing.T) {
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprintf("bad=%v", bad), func(t *testing.T) {
			cases := &recordingCases{}
			core := coalescingCore(t, cases, 4) // 4 calls/s: 12 messages must wait
			var wg sync.WaitGroup
			outs := make([]Outcome, 12)
			for i := range outs {
				field := fmt.Sprintf("f%d", i)
				if bad && i == 7 {
					field = "bad"
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i] = core.Handle(context.Background(), Message{ID: fmt.Sprint(i), Body: body("c1", field, "v")})
				}()
			}
			wg.Wait()
			for i, o := range outs {
				want := Done
				if bad && i == 7 {
					want = DeadLettered
				}
				if o.Kind != want {
					t.Errorf("message %d: %v/%s (%v), want %v", i, o.Kind, o.Reason, o.Err, want)
				}
			}
			t.Logf("%d calls for %d messages", cases.n(), len(outs))
			if !bad && cases.n() >= len(outs)/2 {
				t.Errorf("%d calls for %d messages on one case behind a 4/s limit: not merged", cases.n(), len(outs))
			}
		})
	}
}

func TestCoalescingNeverMergesDifferentCases(t *testing.T) {
	cases := &recordingCases{}
	core := coalescingCore(t, cases, 50)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			core.Handle(context.Background(), Message{ID: fmt.Sprint(i), Body: body(fmt.Sprintf("c%d", i), "status", "x")})
		}()
	}
	wg.Wait()
	for _, in := range cases.calls {
		if len(in.Fields) != 1 {
			t.Errorf("a call for %s carried %d fields: cases were merged", aws.ToString(in.CaseId), len(in.Fields))
		}
	}
}

func TestHandleGroupMergesInOrder(t *testing.T) {
	tests := []struct {
		name      string
		bodies    []string
		failAll   bool
		wantKinds []Kind
		wantCalls int
	}{
		{"one call for a run", []string{body("c", "status", "open"), body("c", "status", "pending"), body("c", "status", "closed")},
			false, []Kind{Done, Done, Done}, 1},
		{"an invalid message in the middle is dead-lettered alone", []string{body("c", "status", "open"), `{"caseId":"c","feilds":{}}`, body("c", "status", "closed")},
			false, []Kind{Done, DeadLettered, Done}, 1},
		{"a rejected field is found one by one", []string{body("c", "status", "open"), body("c", "bad", "x"), body("c", "status", "closed")},
			false, []Kind{Done, DeadLettered, Done}, 4},
		{"another case starts a new run", []string{body("c", "status", "open"), body("other", "status", "x"), body("c", "status", "closed")},
			false, []Kind{Done, Done, Done}, 3},
		{"a failed run holds the rest", []string{body("c", "status", "open"), body("c", "status", "closed"), body("other", "status", "x")},
			true, []Kind{RetryLater, RetryLater, RetryLater}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases := &recordingCases{failAll: tc.failAll}
			core := coalescingCore(t, cases, 1000)
			var msgs []Message
			for i, b := range tc.bodies {
				msgs = append(msgs, Message{ID: fmt.Sprint(i), Body: b})
			}
			outs := core.HandleGroup(context.Background(), &Group{}, msgs)
			for i, o := range outs {
				if o.Kind != tc.wantKinds[i] {
					t.Errorf("message %d: %v/%s, want %v", i, o.Kind, o.Reason, tc.wantKinds[i])
				}
			}
			if cases.n() != tc.wantCalls {
				t.Errorf("%d calls, want %d", cases.n(), tc.wantCalls)
			}
			last := cases.calls[len(cases.calls)-1]
			if !tc.failAll && aws.ToString(last.CaseId) == "c" {
				for _, f := range last.Fields {
					if aws.ToString(f.Id) == "status" && f.Value.(*types.FieldValueUnionMemberStringValue).Value != "closed" {
						t.Errorf("the last status sent is not the last message's")
					}
				}
			}
		})
	}
}
