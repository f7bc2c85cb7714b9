package consumer

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/contract"
)

// Group is what the core remembers about one FIFO message group between
// HandleGroup calls: whether a message of it must be retried, so everything
// after it is held back to keep the group's order on redelivery. The zero
// value is a group with nothing held. A transport keeps one per group id while
// messages of that group are in its hands, and runs one call at a time.
type Group struct {
	holding bool
}

// HandleGroup decides msgs, consecutive messages of one FIFO group, in order.
// With coalescing on, each run of messages for the same case and performedBy is
// sent as one merged UpdateCase call (a later value for a field wins); if that
// call is rejected as permanent, the run's messages are tried one by one, so a
// single bad field never dead-letters its neighbours. Once a message must be
// retried, it and every later message of the group (in this call and the
// following ones on g) are given back: the later ones untried, as held-for-order.
func (c *Core) HandleGroup(ctx context.Context, g *Group, msgs []Message) []Outcome {
	outs := make([]Outcome, len(msgs))
	start := c.o.Now()
	reqs := make([]request, len(msgs))
	// Each message is prepared (mapped, policy checked, dead-lettered if it
	// can never succeed) once, when the loop first reaches it.
	type prepared struct {
		req   request
		early *Outcome
		done  bool
	}
	preps := make([]prepared, len(msgs))
	get := func(i int) prepared {
		if !preps[i].done {
			req, early := c.prepare(withMessageSpan(ctx, msgs[i]), msgs[i])
			preps[i] = prepared{req: req, early: early, done: true}
		}
		return preps[i]
	}
	for i := 0; i < len(msgs); {
		if g.holding {
			outs[i] = c.heldForOrder()
			i++
			continue
		}
		p := get(i)
		if p.early != nil {
			outs[i] = *p.early
			g.holding = !p.early.Kind.Deletes()
			i++
			continue
		}
		reqs[i] = p.req
		end := i + 1 // the run of messages for the same case: [i, end)
		for c.co != nil && end < len(msgs) {
			q := get(end)
			if q.early != nil {
				if !q.early.Kind.Deletes() {
					break // kept on the queue: it ends the run, and the loop holds what follows
				}
				outs[end] = *q.early // dead-lettered: it changes no case, so it need not break the run
				end++
				continue
			}
			if coalesceKey(q.req.in) != coalesceKey(p.req.in) {
				break
			}
			reqs[end] = q.req
			end++
		}
		g.holding = c.handleRun(ctx, msgs[i:end], reqs[i:end], outs[i:end])
		i = end
	}
	for i := range outs {
		outs[i].Duration = c.o.Now().Sub(start)
		c.o.Metrics.ObserveOutcome(outs[i])
		annotate(msgs[i], outs[i])
		c.log(msgs[i], outs[i])
	}
	return outs
}

// heldForOrder is the outcome of a message not tried because an earlier
// message of its group must be retried.
func (c *Core) heldForOrder() Outcome {
	return Outcome{Kind: RetryLater, Reason: contract.ReasonHeldForOrder, Delay: c.o.MinRetryDelay}
}

// handleRun applies one run (entries without an input were settled while the
// run was collected) and reports whether a message must be retried.
func (c *Core) handleRun(ctx context.Context, msgs []Message, reqs []request, outs []Outcome) (failed bool) {
	var members []int
	var ins []*connectcases.UpdateCaseInput
	for k, r := range reqs {
		if r.in != nil {
			members = append(members, k)
			ins = append(ins, r.in)
		}
	}
	// Each message's own work (its DLQ send, a lone call) is in its own trace.
	own := func(k int) context.Context { return withMessageSpan(ctx, msgs[k]) }
	if len(members) == 1 {
		k := members[0]
		outs[k] = c.settle(own(k), msgs[k], reqs[k], c.apply(own(k), reqs[k].in, nil))
		return !outs[k].Kind.Deletes()
	}
	// The merged call is the first member's child, linked to every member.
	var links []trace.Link
	for _, k := range members {
		if msgs[k].Span != nil {
			links = append(links, trace.Link{SpanContext: msgs[k].Span.SpanContext()})
		}
	}
	out := c.apply(own(members[0]), mergeInputs(ins), links)
	if out.Kind == DeadLettered {
		// Permanent for the merged request: find the culprit one by one, in order.
		for n, k := range members {
			outs[k] = c.settle(own(k), msgs[k], reqs[k], c.apply(own(k), reqs[k].in, nil))
			if !outs[k].Kind.Deletes() {
				for _, rest := range members[n+1:] {
					outs[rest] = c.heldForOrder()
				}
				return true
			}
		}
		return false
	}
	for _, k := range members {
		outs[k] = c.settle(own(k), msgs[k], reqs[k], out)
		failed = failed || !outs[k].Kind.Deletes()
	}
	return failed
}
