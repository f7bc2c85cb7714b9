package consumer

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/retry"
)

// tracerName names the core's spans' instrumentation scope.
const tracerName = "github.com/casebridge/casebridge/internal/consumer"

// Span and attribute names shared with the transports and the tests. An
// attribute names a message, a case or an outcome, never a field value: the
// spans leave the process as the logs do, and are held to the same rule.
const (
	SpanLimiterWait = "casebridge.limiter.wait"
	SpanUpdateCase  = "connectcases.UpdateCase"
	SpanDLQSend     = "sqs.SendMessage dlq"
	SpanLookup      = "casebridge.lookup" // a rule's case lookup: the cache, or SearchCases

	AttrCaseID      = attribute.Key("casebridge.case.id")
	AttrDomainID    = attribute.Key("casebridge.domain.id")
	AttrEventID     = attribute.Key("casebridge.event.id")
	AttrOutcome     = attribute.Key("casebridge.outcome")
	AttrReason      = attribute.Key("casebridge.reason")
	AttrAttempts    = attribute.Key("casebridge.attempts")
	AttrClass       = attribute.Key("casebridge.outcome.class") // one call's answer: ok, throttle, transient, …
	AttrErrorCode   = attribute.Key("casebridge.error.code")
	AttrHTTPStatus  = attribute.Key("http.response.status_code")
	AttrCoalesced   = attribute.Key("casebridge.coalesced.messages")
	AttrRule        = attribute.Key("casebridge.rule")         // the mapping rule that mapped the message
	AttrLookupField = attribute.Key("casebridge.lookup.field") // the field a lookup searches (its id; never the value)
	// On a message whose update rode in another message's call (coalescing).
	AttrLeaderTraceID = attribute.Key("casebridge.coalesced.leader.trace_id")
	AttrLeaderSpanID  = attribute.Key("casebridge.coalesced.leader.span_id")
)

// The message attributes a publisher may carry its W3C trace context in
// (package publish puts them there).
const (
	TraceparentAttribute = "traceparent"
	TracestateAttribute  = "tracestate"
)

// PublisherContext is the span context of a message's publisher, as both
// transports read it: the traceparent (and tracestate) message attribute,
// else awsTraceHeader, the AWSTraceHeader system attribute SQS sets from the
// sender's X-Ray context (SNS and EventBridge pass it on). traceparent wins:
// a publisher that sets it names its own span, where AWSTraceHeader can only
// name X-Ray's view of the send. An invalid context means there is none.
func PublisherContext(attrs map[string]sqstypes.MessageAttributeValue, awsTraceHeader string) trace.SpanContext {
	if tp := aws.ToString(attrs[TraceparentAttribute].StringValue); tp != "" {
		carrier := propagation.MapCarrier{TraceparentAttribute: tp}
		if ts := aws.ToString(attrs[TracestateAttribute].StringValue); ts != "" {
			carrier[TracestateAttribute] = ts
		}
		if sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier)); sc.IsValid() {
			return sc
		}
	}
	if awsTraceHeader == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(xray.Propagator{}.Extract(context.Background(), propagation.MapCarrier{"X-Amzn-Trace-Id": awsTraceHeader}))
}

// withMessageSpan puts m's span (started by the transport, whose parent is the
// publisher's context) in ctx, so every span the core starts for m is its child.
func withMessageSpan(ctx context.Context, m Message) context.Context {
	if m.Span == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, m.Span)
}

// annotate records the outcome on m's span. The transport ends the span:
// the delete or the release that follows is part of the message's story.
func annotate(m Message, out Outcome) {
	if m.Span == nil || !m.Span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		AttrCaseID.String(out.CaseID),
		AttrDomainID.String(out.DomainID),
		AttrOutcome.String(out.Kind.String()),
		AttrAttempts.Int(out.Attempts),
	}
	if out.Reason != "" {
		attrs = append(attrs, AttrReason.String(string(out.Reason)))
	}
	if out.EventID != "" {
		attrs = append(attrs, AttrEventID.String(out.EventID))
	}
	if out.Code != "" {
		attrs = append(attrs, AttrErrorCode.String(out.Code))
	}
	if out.Rule != "" {
		attrs = append(attrs, AttrRule.String(out.Rule))
	}
	m.Span.SetAttributes(attrs...)
	if out.Kind != Done {
		// The reason, not the error's text: the reason is a closed set, the
		// text is the service's and is kept to the logs' bounded, scrubbed form.
		m.Span.SetStatus(codes.Error, string(out.Reason))
	}
}

// endCall records one UpdateCase call's answer on its span and ends it.
func endCall(span trace.Span, meta middleware.Metadata, err error, cl retry.Classified) {
	if !span.IsRecording() {
		span.End()
		return
	}
	class := string(cl.Class)
	if class == "" {
		class = "ok"
	}
	span.SetAttributes(AttrClass.String(class))
	if status := httpStatus(meta, err); status != 0 {
		span.SetAttributes(AttrHTTPStatus.Int(status))
	}
	if cl.Code != "" {
		span.SetAttributes(AttrErrorCode.String(cl.Code))
	}
	if cl.Class != "" {
		span.SetStatus(codes.Error, class)
	}
	span.End()
}

// httpStatus is the call's HTTP status: from the error when it failed, from
// the raw response the SDK keeps in the result's metadata when it did not.
func httpStatus(meta middleware.Metadata, err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	if err != nil {
		return 0 // no answer: a timeout, a refused connection
	}
	if raw, ok := awsmiddleware.GetRawResponse(meta).(*smithyhttp.Response); ok && raw != nil {
		return raw.StatusCode
	}
	return http.StatusOK
}

// endWithError ends span, marked failed by what is safe to say: a class, never a text.
func endWithError(span trace.Span, failed bool, what string) {
	if failed {
		span.SetStatus(codes.Error, what)
	}
	span.End()
}
