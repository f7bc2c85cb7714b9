package main

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// serviceName names the worker's spans unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "casebridge-worker"

// tracingOn reports whether the standard variables ask for export: an OTLP
// endpoint is set and the SDK is not disabled.
func tracingOn(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// setupTracing makes the worker's tracer provider: spans are batched and
// exported over OTLP/HTTP, configured by the standard OTEL_* variables (the
// exporter reads the endpoint, headers, timeout and compression itself, the
// SDK the sampler and the batch settings). With tracing off it returns a nil
// provider: the worker and the core then make no spans at all.
//
// New traces get X-Ray-compatible ids (time first), so a trace started here
// can go to X-Ray through a collector as well as to any OTLP backend.
// shutdown flushes what is buffered; call it once the worker has drained.
func setupTracing(ctx context.Context, getenv func(string) string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if !tracingOn(getenv) {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: %w", err)
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the default name.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithFromEnv())
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
	)
	return sdk, sdk.Shutdown, nil
}
