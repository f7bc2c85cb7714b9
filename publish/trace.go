package publish

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Trace context. When the ctx given to Send or SendBatch holds a valid span
// context (the caller's OpenTelemetry span), each message carries it as W3C
// String message attributes: "traceparent", and "tracestate" when the span
// has one. casebridge's worker makes its span for the message a child of it,
// so the publisher's trace continues into casebridge. Without a span nothing
// is added and the message is exactly what it was without tracing.
//
// Only the OpenTelemetry API is used (propagation.TraceContext, regardless of
// the global propagator): the publisher's application chooses and sets up
// the SDK and its exporter, if any.
//
// SQS allows at most MaxMessageAttributes message attributes per message,
// and they count toward its size. The trace context is left out (the
// message is still sent) when it would exceed either limit. Today the
// Publisher sets no attributes of its own, so the trace context always fits
// the count; only a body within a few hundred bytes of the size limit
// goes without it.
//
// Through SNS, the attributes reach a queue subscribed with raw message
// delivery as SQS message attributes, which the worker reads; with raw
// delivery off they are inside the SNS envelope, which the worker does not
// read for trace context (it falls back to AWSTraceHeader).
const (
	TraceparentAttribute = "traceparent"
	TracestateAttribute  = "tracestate"

	// MaxMessageAttributes is SQS's limit of message attributes per message.
	MaxMessageAttributes = 10
)

// traceAttrs is one message's trace context attributes, name → value, in a
// fixed order; nil when ctx has no valid span context.
type traceAttrs []traceAttr

type traceAttr struct{ name, value string }

func traceContext(ctx context.Context) traceAttrs {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	var out traceAttrs
	for _, k := range c.Keys() {
		if v := c.Get(k); v != "" && (k == TraceparentAttribute || k == TracestateAttribute) {
			out = append(out, traceAttr{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name }) // traceparent first
	if len(out) == 0 || out[0].name != TraceparentAttribute {
		return nil
	}
	return out
}

// size is what the attributes count toward a message's size: SQS counts
// each attribute's name, data type and value.
func (t traceAttrs) size() int {
	n := 0
	for _, a := range t {
		n += len(a.name) + len("String") + len(a.value)
	}
	return n
}

// fits reports whether t can be added to a message of bodyLen bytes that
// already has existing attributes.
func (t traceAttrs) fits(existing, bodyLen int) bool {
	return len(t) > 0 && existing+len(t) <= MaxMessageAttributes && bodyLen+t.size() <= MaxBatchBytes
}

// sqsAttributes adds t to attrs (which may be nil) when it fits; it returns
// attrs unchanged otherwise, nil staying nil.
func (t traceAttrs) sqsAttributes(attrs map[string]sqstypes.MessageAttributeValue, bodyLen int) map[string]sqstypes.MessageAttributeValue {
	return addTrace(t, attrs, bodyLen, func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	})
}

// snsAttributes is sqsAttributes for an SNS Publish.
func (t traceAttrs) snsAttributes(attrs map[string]snstypes.MessageAttributeValue, bodyLen int) map[string]snstypes.MessageAttributeValue {
	return addTrace(t, attrs, bodyLen, func(v string) snstypes.MessageAttributeValue {
		return snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	})
}

// addTrace is sqsAttributes and snsAttributes over either SDK's attribute
// type, which differ only in name.
func addTrace[V any](t traceAttrs, attrs map[string]V, bodyLen int, str func(string) V) map[string]V {
	if !t.fits(len(attrs), bodyLen) {
		return attrs
	}
	if attrs == nil {
		attrs = make(map[string]V, len(t))
	}
	for _, a := range t {
		attrs[a.name] = str(a.value)
	}
	return attrs
}
