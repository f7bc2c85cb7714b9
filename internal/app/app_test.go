package app

import (
	"context"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestFieldCatalogIsWiredIn: with the catalog on, a value of the wrong type is
// dead-lettered as validation without spending an UpdateCase call; with it off,
// the same message reaches the API.
func TestFieldCatalogIsWiredIn(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	cl := clients.Clients{SQS: testbed.NewSQSClient(g.Endpoint),
		Cases: testbed.NewCasesClient(simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} })}
	msg := consumer.Message{ID: "m1", Body: `{"caseId":"7a1d6c3e-0000-4000-8000-000000000001","fields":{"priority":"high"}}`}

	for _, catalogOn := range []bool{true, false} {
		sim.ResetStats()
		cfg := config.Defaults()
		cfg.DLQURL, cfg.DomainID, cfg.FieldCatalog = g.QueueURLT(t, "dlq"), "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01", catalogOn
		ctx, cancel := context.WithCancel(context.Background())
		parts, err := Build(ctx, cfg, cl, Options{EagerCatalog: true})
		if err != nil {
			t.Fatal(err)
		}
		out := parts.Core.Handle(ctx, msg)
		cancel()
		calls := sim.Stats()["UpdateCase"]
		if out.Kind != consumer.DeadLettered || out.Reason != contract.ReasonValidation {
			t.Errorf("catalog %v: outcome %v/%s (%v), want dead-lettered validation", catalogOn, out.Kind, out.Reason, out.Err)
		}
		if got := calls[400]; catalogOn && got != 0 || !catalogOn && got != 1 {
			t.Errorf("catalog %v: %d UpdateCase calls answered 400 (stats %v)", catalogOn, got, calls)
		}
		if catalogOn && sim.Stats()["ListFields"][200] == 0 {
			t.Errorf("catalog on but ListFields never called: %v", sim.Stats())
		}
	}
}

func TestBadPerformedByPolicyFailsStartup(t *testing.T) {
	cfg := config.Defaults()
	cfg.DLQURL, cfg.PerformedByAllow = "u", "billing-["
	_, err := Build(context.Background(), cfg, clients.Clients{SQS: testbed.NewSQSClient("http://127.0.0.1:1"),
		Cases: testbed.NewCasesClient("http://127.0.0.1:1")}, Options{})
	if err == nil || !strings.Contains(err.Error(), "CASEBRIDGE_PERFORMED_BY") {
		t.Errorf("err = %v, want one naming CASEBRIDGE_PERFORMED_BY_*", err)
	}
}

// TestUserArnPolicyAgainstAServiceThatDenies: where the deployment cannot call
// connect:DescribeUser, the service answers a userArn with 403. With
// CASEBRIDGE_PERFORMED_BY_USER_ARN=forbid such a message is dead-lettered as
// forbidden without an API call; with allow, it meets the 403 and goes back to
// the queue as forbidden (a deployment problem, never the DLQ by itself).
func TestUserArnPolicyAgainstAServiceThatDenies(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{DenyUserArn: true})
	cl := clients.Clients{SQS: testbed.NewSQSClient(g.Endpoint),
		Cases: testbed.NewCasesClient(simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} })}
	msg := consumer.Message{ID: "m1", ReceiveCount: 1, Body: `{"caseId":"7a1d6c3e-0000-4000-8000-000000000001","fields":{"priority":1},` +
		`"performedBy":{"userArn":"arn:aws:connect:us-east-1:123456789012:instance/i-1/agent/a-1"}}`}
	for _, tc := range []struct {
		allow     bool
		wantKind  consumer.Kind
		wantCalls int
	}{{false, consumer.DeadLettered, 0}, {true, consumer.RetryLater, 1}} {
		sim.ResetStats()
		cfg := config.Defaults()
		cfg.DLQURL, cfg.DomainID, cfg.PerformedByUserArn = g.QueueURLT(t, "dlq"), "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01", tc.allow
		parts, err := Build(context.Background(), cfg, cl, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := parts.Core.Handle(context.Background(), msg)
		calls := sim.Stats()["UpdateCase"]
		if out.Kind != tc.wantKind || out.Reason != contract.ReasonForbidden || calls[403] != tc.wantCalls {
			t.Errorf("userArn allowed=%v: outcome %v/%s (%v), UpdateCase %v; want %v/forbidden after %d denied calls",
				tc.allow, out.Kind, out.Reason, out.Err, calls, tc.wantKind, tc.wantCalls)
		}
	}
}
