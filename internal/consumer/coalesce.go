package consumer

import (
	"context"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/retry"
)

// coalescer merges UpdateCase requests for the same domain, case and
// performedBy that wait for the shared limiter at the same time. The first
// becomes the batch's leader and waits for the slot; whoever arrives for the
// same case meanwhile joins; when the slot comes the batch is sealed and sent
// as one call whose result every member shares. With a free limiter nobody
// waits, so nothing merges and nothing is delayed: it only acts when the quota
// is the bottleneck, which is exactly when merging pays.
type coalescer struct {
	mu   sync.Mutex
	open map[string]*batch
}

type batch struct {
	ins []*connectcases.UpdateCaseInput // in arrival order
	// links are the members' message spans: the one call's span links them
	// all, so each message's trace can be found from the call and back.
	links  []trace.Link
	leader trace.SpanContext // the leader's message span, named on each member's span
	done   chan struct{}
	cl     retry.Classified
	ok     bool
}

func newCoalescer() *coalescer { return &coalescer{open: map[string]*batch{}} }

// do makes in's attempt, possibly merged. merged reports whether the call
// carried other messages' fields too. links are the messages in already
// carries (a FIFO run); none means just ctx's message.
func (co *coalescer) do(ctx context.Context, in *connectcases.UpdateCaseInput, links []trace.Link,
	wait func(context.Context) error, call func(context.Context, *connectcases.UpdateCaseInput, []trace.Link) retry.Classified,
) (cl retry.Classified, ok, merged bool) {
	key := coalesceKey(in)
	sc := trace.SpanContextFromContext(ctx)
	if len(links) == 0 && sc.IsValid() {
		links = []trace.Link{{SpanContext: sc}}
	}
	co.mu.Lock()
	if b := co.open[key]; b != nil {
		b.ins = append(b.ins, in)
		b.links = append(b.links, links...)
		co.mu.Unlock()
		select {
		case <-b.done:
			if span := trace.SpanFromContext(ctx); span.IsRecording() {
				// The call is in the leader's trace: say where to find it.
				span.AddEvent("coalesced", trace.WithAttributes(
					AttrLeaderTraceID.String(b.leader.TraceID().String()), AttrLeaderSpanID.String(b.leader.SpanID().String())))
			}
			return b.cl, b.ok, true
		case <-ctx.Done():
			// Our fields may still be applied by the leader's call: at-least-once,
			// the redelivery applies them again.
			return retry.Classified{Class: retry.ClassCanceled, Err: ctx.Err()}, true, true
		}
	}
	b := &batch{ins: []*connectcases.UpdateCaseInput{in}, links: slices.Clone(links), leader: sc, done: make(chan struct{})}
	co.open[key] = b
	co.mu.Unlock()

	err := wait(ctx)
	co.mu.Lock()
	delete(co.open, key) // sealed: later arrivals start a new batch
	ins := b.ins
	links = b.links
	co.mu.Unlock()
	if len(links) == 1 {
		links = nil // one message: the call is simply its child
	}
	if err != nil {
		b.cl, b.ok = retry.Classified{Class: retry.ClassThrottle, Err: err}, false
	} else {
		b.cl, b.ok = call(ctx, mergeInputs(ins), links), true
	}
	close(b.done)
	return b.cl, b.ok, len(ins) > 1
}

func coalesceKey(in *connectcases.UpdateCaseInput) string {
	who := ""
	switch p := in.PerformedBy.(type) {
	case *types.UserUnionMemberUserArn:
		who = "u\x00" + p.Value
	case *types.UserUnionMemberCustomEntity:
		who = "c\x00" + p.Value
	}
	return aws.ToString(in.DomainId) + "\x00" + aws.ToString(in.CaseId) + "\x00" + who
}

// mergeInputs folds requests for one case into one, in arrival order: a later
// value for a field wins, and fields keep the position of their first mention.
// The inputs are not modified.
func mergeInputs(ins []*connectcases.UpdateCaseInput) *connectcases.UpdateCaseInput {
	if len(ins) == 1 {
		return ins[0]
	}
	pos := map[string]int{}
	var fields []types.FieldValue
	for _, in := range ins {
		for _, f := range in.Fields {
			id := aws.ToString(f.Id)
			if i, seen := pos[id]; seen {
				fields[i] = f
				continue
			}
			pos[id] = len(fields)
			fields = append(fields, f)
		}
	}
	first := ins[0]
	return &connectcases.UpdateCaseInput{DomainId: first.DomainId, CaseId: first.CaseId, PerformedBy: first.PerformedBy, Fields: fields}
}
