package main

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/tracing"
)

// serviceName names the function's spans unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "casebridge-lambda"

const (
	// flushTimeout bounds the export of an invocation's spans: a collector
	// that does not answer costs each invocation at most this much.
	flushTimeout = 2 * time.Second
	// flushReserve is kept free before the invocation's deadline, so a slow
	// export never makes the invocation time out (which would redeliver the
	// whole batch, records already applied included).
	flushReserve = 100 * time.Millisecond
)

// setupTracing makes the function's tracer provider when the OTEL_* variables
// ask for export (package tracing: OTLP/HTTP, e.g. to the ADOT layer's
// collector on localhost), or nil. It makes no network call: it runs at init.
func setupTracing(ctx context.Context, getenv func(string) string) (*sdktrace.TracerProvider, error) {
	if !tracing.Enabled(getenv) {
		return nil, nil
	}
	return tracing.NewProvider(ctx, serviceName,
		attribute.String("cloud.provider", "aws"),
		attribute.String("cloud.platform", "aws_lambda"),
		attribute.String("cloud.region", getenv("AWS_REGION")),
		attribute.String("faas.name", getenv("AWS_LAMBDA_FUNCTION_NAME")),
		attribute.String("faas.version", getenv("AWS_LAMBDA_FUNCTION_VERSION")))
}

// invocationTraceHeader is the X-Ray trace header Lambda gave this invocation.
// aws-lambda-go puts it in the context under "x-amzn-trace-id" for every
// invocation, and in _X_AMZN_TRACE_ID only when the environment runs one
// invocation at a time, so the context comes first.
func invocationTraceHeader(ctx context.Context) string {
	if h, _ := ctx.Value("x-amzn-trace-id").(string); h != "" {
		return h
	}
	return os.Getenv("_X_AMZN_TRACE_ID")
}

// flushSpans exports the invocation's spans before it returns: once it has,
// Lambda may freeze the environment, and spans left in the buffer would wait
// for the next invocation, or be lost with the environment.
func flushSpans(ctx context.Context, sdk *sdktrace.TracerProvider, log *zap.Logger) {
	deadline := time.Now().Add(flushTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-flushReserve).Before(deadline) {
		deadline = dl.Add(-flushReserve)
	}
	fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if err := sdk.ForceFlush(fctx); err != nil {
		log.Warn("exporting the invocation's spans", zap.Error(err))
	}
}
