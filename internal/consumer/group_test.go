package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"
)

// TestHandleGroupHoldsForOrder: without coalescing, a FIFO group's messages
// are tried one by one; once one must be retried, every later one (in this
// call and in later calls on the same Group) is given back untried as
// held-for-order, while a fresh Group starts clean.
func TestHandleGroupHoldsForOrder(t *testing.T) {
	cases := &fakeCases{script: []error{nil, errInternal}} // first call ok, then 500s
	core, err := New(Options{Cases: cases, DLQ: &fakeDLQ{}, DLQURL: "u",
		BackoffBase: time.Millisecond, BackoffCap: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	msgs := func(ids ...int) []Message {
		var ms []Message
		for _, i := range ids {
			ms = append(ms, Message{ID: fmt.Sprint(i), Body: body(fmt.Sprintf("c%d", i), "status", "x")})
		}
		return ms
	}
	var g Group
	outs := core.HandleGroup(context.Background(), &g, msgs(0, 1, 2))
	want := []struct {
		kind   Kind
		reason contract.Reason
	}{{Done, ""}, {RetryLater, contract.ReasonTransient}, {RetryLater, contract.ReasonHeldForOrder}}
	for i, w := range want {
		if outs[i].Kind != w.kind || outs[i].Reason != w.reason {
			t.Errorf("message %d: %v/%s, want %v/%s", i, outs[i].Kind, outs[i].Reason, w.kind, w.reason)
		}
	}
	if outs[2].Attempts != 0 || outs[2].Delay <= 0 {
		t.Errorf("held message: %d attempts, delay %v; want untried with a delay", outs[2].Attempts, outs[2].Delay)
	}
	calls := cases.calls
	later := core.HandleGroup(context.Background(), &g, msgs(3))
	if later[0].Reason != contract.ReasonHeldForOrder || cases.calls != calls {
		t.Errorf("a later message of the held group: %v/%s after %d more calls, want held-for-order untried",
			later[0].Kind, later[0].Reason, cases.calls-calls)
	}
	fresh := core.HandleGroup(context.Background(), &Group{}, msgs(4))
	if fresh[0].Reason == contract.ReasonHeldForOrder || cases.calls == calls {
		t.Errorf("a fresh Group was held: %v/%s", fresh[0].Kind, fresh[0].Reason)
	}
}
