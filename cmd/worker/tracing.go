package main

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/tracing"
)

// serviceName names the worker's spans unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "casebridge-worker"

// setupTracing makes the worker's tracer provider (package tracing: OTLP/HTTP
// per the OTEL_* variables). With tracing off it returns a nil provider: the
// worker and the core then make no spans at all. shutdown flushes what is
// buffered; call it once the worker has drained.
func setupTracing(ctx context.Context, getenv func(string) string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if !tracing.Enabled(getenv) {
		return nil, func(context.Context) error { return nil }, nil
	}
	sdk, err := tracing.NewProvider(ctx, serviceName)
	if err != nil {
		return nil, nil, err
	}
	return sdk, sdk.Shutdown, nil
}
