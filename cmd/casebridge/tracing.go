package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/tracing"
)

// sendServiceName names `casebridge send`'s spans unless OTEL_SERVICE_NAME
// says otherwise.
const sendServiceName = "casebridge-send"

// SpanSend is the one span `casebridge send` makes; every message it sends
// carries it as its traceparent (the publish package injects it).
const SpanSend = "casebridge send"

// startSendSpan starts the send's span when tracing is on (exported over
// OTLP/HTTP, configured by the standard OTEL_* variables) and returns ctx
// holding it, and end, which marks a failed send on the span, ends it and flushes
// the export (3 s at most). With tracing off, or when the exporter cannot be
// set up (a warning on stderr: sending matters more than its trace), ctx is
// returned unchanged, the messages carry no trace context, and end does
// nothing.
func startSendSpan(ctx context.Context, getenv func(string) string, stderr io.Writer, queue, topic string) (context.Context, func(failed bool)) {
	noop := func(bool) {}
	if !tracing.Enabled(getenv) {
		return ctx, noop
	}
	tp, err := tracing.NewProvider(ctx, sendServiceName)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: tracing off: %v\n", err)
		return ctx, noop
	}
	system, dest := "aws_sqs", path.Base(queue)
	if topic != "" {
		system, dest = "aws_sns", topic[strings.LastIndex(topic, ":")+1:]
	}
	ctx, span := tp.Tracer("github.com/casebridge/casebridge/cmd/casebridge").Start(ctx, SpanSend,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", system), attribute.String("messaging.destination.name", dest)))
	return ctx, func(failed bool) {
		if failed {
			span.SetStatus(codes.Error, "not sent")
		}
		span.End()
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if err := tp.Shutdown(flushCtx); err != nil {
			fmt.Fprintf(stderr, "casebridge send: exporting the trace: %v\n", err)
		}
	}
}
