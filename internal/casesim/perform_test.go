package casesim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

const agentArn = "arn:aws:connect:us-east-1:123456789012:instance/i-1/agent/a-1"

// TestDenyUserArn: with DenyUserArn, performedBy.userArn is answered 403
// AccessDeniedException (the caller lacks connect:DescribeUser) on
// UpdateCase and CreateCase, and nothing is applied; customEntity still
// works; without the option userArn is accepted.
func TestDenyUserArn(t *testing.T) {
	ctx := context.Background()
	byArn := &types.UserUnionMemberUserArn{Value: agentArn}
	in := func(by types.UserUnion) *connectcases.UpdateCaseInput {
		u := update(fv("status", str("closed")))
		u.PerformedBy = by
		return u
	}

	h := newHarness(t, casesim.Options{DenyUserArn: true}, true)
	_, err := h.client.UpdateCase(ctx, in(byArn))
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || !strings.Contains(aws.ToString(ad.Message), "connect:DescribeUser") {
		t.Fatalf("UpdateCase with userArn: err = %v, want AccessDeniedException naming connect:DescribeUser", err)
	}
	_, err = h.client.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: aws.String(demoDomain), TemplateId: aws.String("tmpl-default"),
		Fields: []types.FieldValue{fv("title", str("t"))}, PerformedBy: byArn})
	if !errors.As(err, &ad) {
		t.Errorf("CreateCase with userArn: err = %v, want AccessDeniedException", err)
	}
	if n := len(h.sim.AppliedUpdates()); n != 0 {
		t.Errorf("%d updates applied despite the denial", n)
	}
	if _, err := h.client.UpdateCase(ctx, in(&types.UserUnionMemberCustomEntity{Value: "casebridge"})); err != nil {
		t.Errorf("customEntity with DenyUserArn: %v", err)
	}
	if st := h.sim.Stats()["UpdateCase"]; st[403] != 1 || st[200] != 1 {
		t.Errorf("UpdateCase stats = %v", st)
	}

	h = newHarness(t, casesim.Options{}, true)
	if _, err := h.client.UpdateCase(ctx, in(byArn)); err != nil {
		t.Errorf("userArn without DenyUserArn: %v", err)
	}
}
