package reliability

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// TestPerformedByPolicyThroughWorker: the worker binary with a performedBy
// policy applies allowed claims, fills in the default, and dead-letters
// claims outside the allow list and forbidden userArns as forbidden.
func TestPerformedByPolicyThroughWorker(t *testing.T) {
	w := newWorld(t, 5)
	body := func(i int, performedBy string) string {
		return fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"p-%d"}%s}`, caseID(i), i, performedBy)
	}
	msgs := []msg{
		{marker: "p-0", kind: kValid, body: body(0, `,"performedBy":{"customEntity":"billing-eu"}`)},
		{marker: "p-1", kind: kForbidden, body: body(1, `,"performedBy":{"customEntity":"crm"}`)},
		{marker: "p-2", kind: kForbidden, body: body(2, `,"performedBy":{"userArn":"arn:aws:connect:us-east-1:1:instance/i/agent/a"}`)},
		{marker: "p-3", kind: kValid, body: body(3, ``)},
	}
	w.send(msgs)
	p := w.startWorker("CASEBRIDGE_PERFORMED_BY_ALLOW=billing-*,casebridge",
		"CASEBRIDGE_PERFORMED_BY_USER_ARN=forbid", "CASEBRIDGE_PERFORMED_BY_DEFAULT=casebridge")
	w.waitEmpty(30 * time.Second)
	p.stop(t)
	account(t, msgs, applied(w.sim), w.drainDLQ())
	claims := map[string]string{}
	for _, u := range w.sim.AppliedUpdates() {
		ce, _ := u.PerformedBy.(*types.UserUnionMemberCustomEntity)
		for _, f := range u.Fields {
			if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok && ce != nil {
				claims[v.Value] = ce.Value
			}
		}
	}
	if claims["p-0"] != "billing-eu" || claims["p-3"] != "casebridge" {
		t.Errorf("performedBy applied: %v, want p-0 by billing-eu and p-3 by the default casebridge", claims)
	}
}
