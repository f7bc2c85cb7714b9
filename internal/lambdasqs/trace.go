package lambdasqs

import (
	"context"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/consumer"
)

const tracerName = "github.com/casebridge/casebridge/internal/lambdasqs"

// SpanMessage is one record's span, as the worker's (worker.SpanMessage):
// the core's spans for the record are its children.
const SpanMessage = "casebridge.message"

// awsTraceHeader is the SQS system attribute that carries the sender's X-Ray context.
const awsTraceHeader = "AWSTraceHeader"

// WithInvocationTrace puts the invocation's trace context, an X-Ray trace
// header (Lambda gives it per invocation as Lambda-Runtime-Trace-Id;
// aws-lambda-go hands it on in the context and in _X_AMZN_TRACE_ID), in ctx,
// so the invocation's span joins the trace Lambda started. An empty or
// invalid header leaves ctx as it is: the invocation's span starts a trace.
func WithInvocationTrace(ctx context.Context, header string) context.Context {
	if header == "" {
		return ctx
	}
	return xray.Propagator{}.Extract(ctx, propagation.MapCarrier{"X-Amzn-Trace-Id": header})
}

// tracer is the handler's tracing for one invocation; a nil *tracer is
// tracing off, and every method is then a no-op: no header parsing, no spans.
//
// The spans follow OpenTelemetry's conventions for an SQS-triggered Lambda:
// the invocation's span is a child of the invocation's trace context
// (WithInvocationTrace) and links to every record's publisher; each record's
// span is a child of the invocation's span and links to its own publisher.
// Links, not parents, because a batch gathers records from many publishers'
// traces while the invocation belongs to one trace of its own, the one Lambda
// (and X-Ray's active tracing) already started; X-Ray shows such a consumer
// trace linked to its producers' traces.
type tracer struct {
	t trace.Tracer
}

func newTracer(tp trace.TracerProvider) *tracer {
	if tp == nil {
		return nil
	}
	return &tracer{t: tp.Tracer(tracerName)}
}

// publishers are the records' publisher contexts, by index (invalid where a
// record carries none); nil when tracing is off.
func (tr *tracer) publishers(records []events.SQSMessage, msgs []consumer.Message) []trace.SpanContext {
	if tr == nil {
		return nil
	}
	out := make([]trace.SpanContext, len(records))
	for i, r := range records {
		out[i] = consumer.PublisherContext(msgs[i].Attributes, r.Attributes[awsTraceHeader])
	}
	return out
}

// startInvocation starts the invocation's span (the SQS event's, in the
// conventions' words), named "<queue> process".
func (tr *tracer) startInvocation(ctx context.Context, requestID string, records []events.SQSMessage, pubs []trace.SpanContext) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, nil
	}
	queue := sourceName(records)
	attrs := []attribute.KeyValue{
		attribute.String("faas.trigger", "pubsub"),
		attribute.String("messaging.system", "aws_sqs"),
		attribute.String("messaging.operation.type", "process"),
		attribute.Int("messaging.batch.message_count", len(records)),
	}
	if requestID != "" {
		attrs = append(attrs, attribute.String("faas.invocation_id", requestID))
	}
	if queue != "multiple_sources" {
		attrs = append(attrs, attribute.String("messaging.destination.name", queue))
	}
	return tr.t.Start(ctx, queue+" process", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs...), trace.WithLinks(links(pubs)...))
}

// startRecord starts one record's span under the invocation's, linked to its publisher.
func (tr *tracer) startRecord(ctx context.Context, msg consumer.Message, pub trace.SpanContext) trace.Span {
	if tr == nil {
		return nil
	}
	_, span := tr.t.Start(ctx, SpanMessage, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links([]trace.SpanContext{pub})...),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", queueName(msg.SourceQueue)),
			attribute.String("messaging.message.id", msg.ID),
			attribute.Int("casebridge.receive_count", msg.ReceiveCount),
		))
	return span
}

// endRecord ends a record's span once its outcome is known (the core has
// recorded it on the span): what is not deleted is reported as a batch item
// failure and comes back after the queue's visibility timeout.
func endRecord(span trace.Span, out consumer.Outcome) {
	if span == nil {
		return
	}
	if !out.Kind.Deletes() {
		span.AddEvent("reported as a batch item failure")
	}
	span.End()
}

// endInvocation records how many records failed and ends the span.
func endInvocation(span trace.Span, failed int) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.Int("casebridge.batch.failed", failed))
	if failed > 0 {
		span.SetStatus(codes.Error, "batch item failures")
	}
	span.End()
}

func links(pubs []trace.SpanContext) []trace.Link {
	var out []trace.Link
	for _, sc := range pubs {
		if sc.IsValid() {
			out = append(out, trace.Link{SpanContext: sc})
		}
	}
	return out
}

// sourceName is the records' queue name, or "multiple_sources" (the
// conventions' word) when they come from more than one queue.
func sourceName(records []events.SQSMessage) string {
	if len(records) == 0 {
		return "multiple_sources"
	}
	first := records[0].EventSourceARN
	for _, r := range records[1:] {
		if r.EventSourceARN != first {
			return "multiple_sources"
		}
	}
	return queueName(first)
}

// queueName is the queue's name from its ARN (or URL): not the account, which
// is not a span's business.
func queueName(source string) string {
	if i := strings.LastIndexByte(source, ':'); i >= 0 && !strings.Contains(source, "/") {
		return source[i+1:]
	}
	return path.Base(source)
}
