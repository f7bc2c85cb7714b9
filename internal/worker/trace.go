package worker

import (
	"context"
	"path"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/consumer"
)

const tracerName = "github.com/casebridge/casebridge/internal/worker"

// Span and attribute names the worker adds to the core's (consumer.Span*).
const (
	// SpanMessage is one message's span, from its receipt to its delete or
	// release; its parent is the publisher's context.
	SpanMessage = "casebridge.message"
	// SpanDelete is the message's delete: from the moment it was queued for a
	// batch to the batch call that removed it (see tracer.deleteSpan).
	SpanDelete = "sqs.DeleteMessageBatch"

	// TraceparentAttribute is the W3C trace context a publisher may put in a
	// message attribute (see consumer.PublisherContext).
	TraceparentAttribute = consumer.TraceparentAttribute

	attrReceiveCount = attribute.Key("casebridge.receive_count")
	attrBatchSize    = attribute.Key("casebridge.delete.batch_size")
)

// tracer is the worker's tracing; a nil *tracer is tracing off, and every
// method is then a no-op that costs a nil check: no header parsing, no spans.
type tracer struct {
	t     trace.Tracer
	queue string // the queue's name, not its URL (the account is not a span's business)
}

func newTracer(tp trace.TracerProvider, queueURL string) *tracer {
	if tp == nil {
		return nil
	}
	return &tracer{t: tp.Tracer(tracerName), queue: path.Base(queueURL)}
}

// systemAttributes are the SQS system attributes receive asks for.
func (tr *tracer) systemAttributes(base []sqstypes.MessageSystemAttributeName) []sqstypes.MessageSystemAttributeName {
	if tr == nil {
		return base
	}
	return append(base, sqstypes.MessageSystemAttributeNameAWSTraceHeader)
}

// parent is the publisher's span context from m (consumer.PublisherContext);
// an empty context (a new trace) without one.
func (tr *tracer) parent(m sqstypes.Message) context.Context {
	sc := consumer.PublisherContext(m.MessageAttributes, m.Attributes[string(sqstypes.MessageSystemAttributeNameAWSTraceHeader)])
	if !sc.IsValid() {
		return context.Background()
	}
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

// startMessage starts m's span at its receipt; nil when tracing is off.
func (tr *tracer) startMessage(m sqstypes.Message, msg consumer.Message, received time.Time) trace.Span {
	if tr == nil {
		return nil
	}
	_, span := tr.t.Start(tr.parent(m), SpanMessage, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(received),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", tr.queue),
			attribute.String("messaging.message.id", msg.ID),
			attrReceiveCount.Int(msg.ReceiveCount),
		))
	return span
}

// deleteSpan starts the delete's span as a child of the message's. Deletes go
// in batches of up to ten messages, each from its own trace: a span per batch
// could sit in one trace only (links would not put the delete in the others),
// so each message gets its own delete span, covering its wait for the batch
// and the call, ended with what SQS answered for that entry.
func (tr *tracer) deleteSpan(msgSpan trace.Span) trace.Span {
	if tr == nil || msgSpan == nil {
		return nil
	}
	_, span := tr.t.Start(trace.ContextWithSpan(context.Background(), msgSpan), SpanDelete,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("messaging.destination.name", tr.queue)))
	return span
}

// released records a message given back to the queue and ends its span.
func released(span trace.Span, d time.Duration, why string) {
	if span == nil {
		return
	}
	span.AddEvent("released", trace.WithAttributes(
		attribute.Float64("casebridge.visibility_seconds", d.Seconds()), attribute.String("casebridge.why", why)))
	span.End()
}

// endDelete ends an entry's delete span and then its message span: failure
// is SQS's error code, or "" when the message is gone.
func endDelete(e deleteEntry, batchSize int, failure string) {
	if e.span == nil {
		return
	}
	e.span.SetAttributes(attrBatchSize.Int(batchSize))
	if failure != "" {
		e.span.SetStatus(codes.Error, failure)
		e.msgSpan.AddEvent("delete failed; the message will be delivered again")
	}
	e.span.End()
	e.msgSpan.End()
}
