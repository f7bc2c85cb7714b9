package consumer

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
)

// ReasonHeldForOrder: the message was not tried because an earlier message of
// its FIFO group failed; it goes back to the queue to keep the group's order.
const ReasonHeldForOrder = "held-for-order"

// GroupHandler is implemented by handlers that can take several messages of
// one FIFO group at once, in order (the worker uses it when coalescing).
type GroupHandler interface {
	HandleGroup(ctx context.Context, msgs []Message) []Outcome
}

var _ GroupHandler = (*Core)(nil)

// HandleGroup handles msgs, consecutive messages of one FIFO group, in order.
// With coalescing on, each run of messages for the same case and performedBy is
// sent as one merged UpdateCase call (a later value for a field wins); if that
// call is rejected as permanent, the run's messages are tried one by one, so a
// single bad field never dead-letters its neighbours. After a message that must
// be retried, the rest are held back for order.
func (c *Core) HandleGroup(ctx context.Context, msgs []Message) []Outcome {
	outs := make([]Outcome, len(msgs))
	start := c.o.Now()
	ins := make([]*connectcases.UpdateCaseInput, len(msgs))
	// Each message is prepared (mapped, policy checked, dead-lettered if it
	// can never succeed) once, when the loop first reaches it.
	type prepared struct {
		in    *connectcases.UpdateCaseInput
		early *Outcome
		done  bool
	}
	preps := make([]prepared, len(msgs))
	get := func(i int) prepared {
		if !preps[i].done {
			in, early := c.prepare(ctx, msgs[i])
			preps[i] = prepared{in: in, early: early, done: true}
		}
		return preps[i]
	}
	failed := false
	for i := 0; i < len(msgs); {
		if failed {
			outs[i] = Outcome{Kind: RetryLater, Reason: ReasonHeldForOrder, Delay: c.o.MinRetryDelay}
			i++
			continue
		}
		p := get(i)
		if p.early != nil {
			outs[i] = *p.early
			failed = !p.early.Kind.Deletes()
			i++
			continue
		}
		ins[i] = p.in
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
			if coalesceKey(q.in) != coalesceKey(p.in) {
				break
			}
			ins[end] = q.in
			end++
		}
		failed = c.handleRun(ctx, msgs[i:end], ins[i:end], outs[i:end])
		i = end
	}
	for i := range outs {
		outs[i].Duration = c.o.Now().Sub(start)
		c.o.Metrics.ObserveOutcome(outs[i])
		c.log(msgs[i], outs[i])
	}
	return outs
}

// handleRun applies one run (entries with a nil input were settled while the
// run was collected) and reports whether a message must be retried.
func (c *Core) handleRun(ctx context.Context, msgs []Message, ins []*connectcases.UpdateCaseInput, outs []Outcome) (failed bool) {
	var members []int
	var reqs []*connectcases.UpdateCaseInput
	for k, in := range ins {
		if in != nil {
			members = append(members, k)
			reqs = append(reqs, in)
		}
	}
	if len(members) == 1 {
		k := members[0]
		outs[k] = c.settle(ctx, msgs[k], ins[k], c.apply(ctx, ins[k]))
		return !outs[k].Kind.Deletes()
	}
	out := c.apply(ctx, mergeInputs(reqs))
	if out.Kind == DeadLettered {
		// Permanent for the merged request: find the culprit one by one, in order.
		for n, k := range members {
			outs[k] = c.settle(ctx, msgs[k], ins[k], c.apply(ctx, ins[k]))
			if !outs[k].Kind.Deletes() {
				for _, rest := range members[n+1:] {
					outs[rest] = Outcome{Kind: RetryLater, Reason: ReasonHeldForOrder, Delay: c.o.MinRetryDelay}
				}
				return true
			}
		}
		return false
	}
	for _, k := range members {
		outs[k] = c.settle(ctx, msgs[k], ins[k], out)
		failed = failed || !outs[k].Kind.Deletes()
	}
	return failed
}
