// Package lambdasqs adapts the consumer core to an SQS-triggered Lambda: it
// takes an events.SQSEvent, handles its records (concurrently for a standard
// queue, in order per message group for FIFO) within the invocation's deadline,
// and answers with the records that did not finish as batch item failures.
// It knows nothing about polling, and the core knows nothing about Lambda.
package lambdasqs

import (
	"cmp"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/config"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/consumer"
)

// Handler handles SQS events. The zero value is not usable: Core is required.
type Handler struct {
	Core           consumer.Handler
	MaxConcurrency int // records (standard) or groups (FIFO) handled at once; 0 → config.DefaultMaxConcurrency
	Logger         *zap.Logger
	// TracerProvider makes the invocation's and each record's spans (trace.go);
	// nil → none. The invocation's trace context is what ctx carries
	// (WithInvocationTrace).
	TracerProvider trace.TracerProvider
	// RequestID is the invocation's request id, named on its span.
	RequestID string
}

// Handle is the Lambda entry point. It never returns an error: a partial
// response says exactly which records failed, and an error would hide that.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = zap.NewNop()
	}
	tr := newTracer(h.TracerProvider)
	msgs := make([]consumer.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = toMessage(r)
	}
	pubs := tr.publishers(ev.Records, msgs)
	ctx, invSpan := tr.startInvocation(ctx, h.RequestID, ev.Records, pubs)
	for i := range msgs {
		if pubs != nil {
			msgs[i].Span = tr.startRecord(ctx, msgs[i], pubs[i])
		}
	}
	budget, cancel := h.budget(ctx)
	defer cancel()
	outcomes := make([]consumer.Outcome, len(ev.Records))
	if len(ev.Records) > 0 && strings.HasSuffix(ev.Records[0].EventSourceARN, ".fifo") {
		h.runFIFO(budget, ev.Records, msgs, outcomes)
	} else {
		h.runConcurrent(budget, msgs, outcomes)
	}
	var resp events.SQSEventResponse
	for i, o := range outcomes {
		endRecord(msgs[i].Span, o)
		if !o.Kind.Deletes() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	endInvocation(invSpan, len(resp.BatchItemFailures))
	logBatch(log, outcomes)
	return resp, nil
}

// budget is the invocation deadline less a safety margin, so the response is
// sent before Lambda kills the invocation.
func (h *Handler) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	// 10 % of what is left, between 200 ms and 3 s.
	margin := min(max(time.Until(dl)/10, 200*time.Millisecond), 3*time.Second)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

func (h *Handler) limit() int { return cmp.Or(h.MaxConcurrency, config.DefaultMaxConcurrency) }

func (h *Handler) runConcurrent(ctx context.Context, msgs []consumer.Message, outcomes []consumer.Outcome) {
	sem := make(chan struct{}, h.limit())
	var wg sync.WaitGroup
	for i := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			outcomes[i] = h.Core.Handle(ctx, msgs[i])
		}()
	}
	wg.Wait()
}

// runFIFO hands each message group's records to the core in order, groups in
// parallel; the core decides what a failure holds back. All state is local
// to this invocation.
func (h *Handler) runFIFO(ctx context.Context, records []events.SQSMessage, all []consumer.Message, outcomes []consumer.Outcome) {
	var order []string
	groups := map[string][]int{}
	for i, r := range records {
		g := r.Attributes["MessageGroupId"]
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	sem := make(chan struct{}, h.limit())
	var wg sync.WaitGroup
	for _, g := range order {
		idx := groups[g]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			msgs := make([]consumer.Message, len(idx))
			for k, i := range idx {
				msgs[k] = all[i]
			}
			for k, o := range h.Core.HandleGroup(ctx, &consumer.Group{}, msgs) {
				outcomes[idx[k]] = o
			}
		}()
	}
	wg.Wait()
}

func toMessage(r events.SQSMessage) consumer.Message {
	rc, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	var attrs map[string]sqstypes.MessageAttributeValue
	if len(r.MessageAttributes) > 0 {
		attrs = make(map[string]sqstypes.MessageAttributeValue, len(r.MessageAttributes))
		for k, a := range r.MessageAttributes {
			attrs[k] = sqstypes.MessageAttributeValue{
				DataType:         aws.String(a.DataType),
				StringValue:      a.StringValue,
				BinaryValue:      a.BinaryValue,
				StringListValues: a.StringListValues,
				BinaryListValues: a.BinaryListValues,
			}
		}
	}
	return consumer.Message{
		ID:           r.MessageId,
		Body:         r.Body,
		Attributes:   attrs,
		ReceiveCount: rc,
		GroupID:      r.Attributes["MessageGroupId"],
		SourceQueue:  r.EventSourceARN,
	}
}

// logBatch says clearly when every record failed for a reason outside the
// messages (throttling, access denied, a downstream outage): that is an
// operator's problem, not the publishers'.
func logBatch(log *zap.Logger, outcomes []consumer.Outcome) {
	nFailed := 0
	reasons := map[contract.Reason]int{}
	for _, o := range outcomes {
		if !o.Kind.Deletes() {
			nFailed++
			reasons[o.Reason]++
		}
	}
	fields := []zap.Field{zap.Int("records", len(outcomes)), zap.Int("failed", nFailed), zap.Any("failedByReason", reasons)}
	switch {
	case nFailed > 0 && nFailed == len(outcomes):
		log.Error("every record of the batch failed for reasons outside the messages; they stay on the queue for a retry", fields...)
	case nFailed > 0:
		log.Warn("batch partly failed; failed records stay on the queue", fields...)
	default:
		log.Info("batch done", fields...)
	}
}
