package consumer

import (
	"github.com/casebridge/casebridge/contract"

	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

type capturingCases struct{ got *connectcases.UpdateCaseInput }

func (c *capturingCases) UpdateCase(_ context.Context, in *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	c.got = in
	return &connectcases.UpdateCaseOutput{}, nil
}

func TestPerformedByPolicy(t *testing.T) {
	const (
		byBilling = `{"domainId":"d","caseId":"c","fields":{"status":"closed"},"performedBy":{"customEntity":"billing-eu"}}`
		byCRM     = `{"domainId":"d","caseId":"c","fields":{"status":"closed"},"performedBy":{"customEntity":"crm"}}`
		byUser    = `{"domainId":"d","caseId":"c","fields":{"status":"closed"},"performedBy":{"userArn":"arn:aws:connect:us-east-1:1:instance/i/agent/a"}}`
		byNobody  = `{"domainId":"d","caseId":"c","fields":{"status":"closed"}}`
	)
	tests := []struct {
		name                   string
		allow, def             string
		forbidUser             bool
		body                   string
		wantKind               Kind
		wantErr, wantPerformer string
	}{
		{name: "no policy: anything goes", body: byCRM, wantKind: Done, wantPerformer: "crm"},
		{name: "pattern allows", allow: "billing-*, orders", body: byBilling, wantKind: Done, wantPerformer: "billing-eu"},
		{name: "not on the allow list", allow: "billing-*,orders", body: byCRM, wantKind: DeadLettered, wantErr: "allow list"},
		{name: "userArn forbidden", forbidUser: true, body: byUser, wantKind: DeadLettered, wantErr: "userArn is not allowed"},
		{name: "userArn allowed by default", allow: "billing-*", body: byUser, wantKind: Done},
		{name: "default applied", def: "casebridge", body: byNobody, wantKind: Done, wantPerformer: "casebridge"},
		{name: "default does not override", def: "casebridge", body: byCRM, wantKind: Done, wantPerformer: "crm"},
		{name: "no default: none sent", body: byNobody, wantKind: Done},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy, err := ParsePerformedBy(tc.allow, tc.forbidUser, tc.def)
			if err != nil {
				t.Fatal(err)
			}
			cases := &capturingCases{}
			dlq := &fakeDLQ{}
			core, err := New(Options{Cases: cases, DLQ: dlq, DLQURL: "u", PerformedBy: policy})
			if err != nil {
				t.Fatal(err)
			}
			out := core.Handle(context.Background(), Message{ID: "m", Body: tc.body})
			if out.Kind != tc.wantKind {
				t.Fatalf("outcome %v/%s (%v), want %v", out.Kind, out.Reason, out.Err, tc.wantKind)
			}
			if tc.wantKind == DeadLettered {
				if out.Reason != contract.ReasonForbidden || !strings.Contains(out.Err.Error(), tc.wantErr) || cases.got != nil || len(dlq.sent) != 1 {
					t.Errorf("reason %s err %v, API called %v, %d DLQ sends: want forbidden naming %q, no API call, one send",
						out.Reason, out.Err, cases.got != nil, len(dlq.sent), tc.wantErr)
				}
				return
			}
			got := ""
			if p, ok := cases.got.PerformedBy.(*types.UserUnionMemberCustomEntity); ok {
				got = p.Value
			}
			if tc.wantPerformer != "" && got != tc.wantPerformer {
				t.Errorf("performedBy sent = %q, want %q", got, tc.wantPerformer)
			}
			if tc.body == byNobody && tc.def == "" && cases.got.PerformedBy != nil {
				t.Errorf("performedBy %v sent without a default", cases.got.PerformedBy)
			}
		})
	}
}

func TestParsePerformedByRejectsBadSettings(t *testing.T) {
	if _, err := ParsePerformedBy("billing-[", false, ""); err == nil {
		t.Error("malformed pattern accepted")
	}
	if _, err := ParsePerformedBy("billing-*", false, "crm"); err == nil {
		t.Error("a default outside the allow list accepted")
	}
	if _, err := ParsePerformedBy("", true, "arn:aws:connect:x"); err == nil {
		t.Error("a userArn default accepted while userArn is forbidden")
	}
	p, err := ParsePerformedBy("", false, "arn:aws:connect:x")
	if _, ok := p.Default.(*types.UserUnionMemberUserArn); err != nil || !ok {
		t.Errorf("arn default not taken as userArn: %v %T", err, p.Default)
	}
}
