// Package handlers adapts plain functions to consumer.Handler for transport
// tests, which check what a transport does with the core's outcomes, not
// what the core decides.
package handlers

import (
	"context"

	"github.com/casebridge/casebridge/internal/consumer"
)

// Func is a consumer.Handler that answers every message with f. Its
// HandleGroup calls f for each message in order and holds nothing back: what
// a failure holds back is the real core's decision, tested there.
type Func func(context.Context, consumer.Message) consumer.Outcome

// Handle answers m with f.
func (f Func) Handle(ctx context.Context, m consumer.Message) consumer.Outcome { return f(ctx, m) }

// HandleGroup answers each of msgs with f, in order.
func (f Func) HandleGroup(ctx context.Context, _ *consumer.Group, msgs []consumer.Message) []consumer.Outcome {
	outs := make([]consumer.Outcome, len(msgs))
	for i, m := range msgs {
		outs[i] = f(ctx, m)
	}
	return outs
}
