package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// sendServiceName names `casebridge send`'s spans unless OTEL_SERVICE_NAME
// says otherwise.
const sendServiceName = "casebridge-send"

// SpanSend is the one span `casebridge send` makes; every message it sends
// carries it as its traceparent (the publish package injects it).
const SpanSend = "casebridge send"

// sendTracingOn reports whether the standard variables ask for export, as
// for the worker: an OTLP endpoint is set and the SDK is not disabled.
func sendTracingOn(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// startSendSpan starts the send's span when tracing is on (exported over
// OTLP/HTTP, configured by the standard OTEL_* variables) and returns ctx
// holding it, and end, which marks a failed send on the span, ends it and flushes
// the export (3 s at most). With tracing off, or when the exporter cannot be
// set up (a warning on stderr: sending matters more than its trace), ctx is
// returned unchanged, the messages carry no trace context, and end does
// nothing.
func startSendSpan(ctx context.Context, getenv func(string) string, stderr io.Writer, queue, topic string) (context.Context, func(failed bool)) {
	noop := func(bool) {}
	if !sendTracingOn(getenv) {
		return ctx, noop
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: tracing off: OTEL_EXPORTER_OTLP_*: %v\n", err)
		return ctx, noop
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", sendServiceName)),
		resource.WithFromEnv())
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: tracing off: OTEL_RESOURCE_ATTRIBUTES: %v\n", err)
		return ctx, noop
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
	)
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
