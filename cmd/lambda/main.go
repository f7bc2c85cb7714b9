// Command lambda is casebridge as an SQS-triggered AWS Lambda (provided.al2023),
// for an event source mapping with ReportBatchItemFailures. Build it as Lambda
// expects: CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./cmd/lambda
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/lambdasqs"
	"github.com/casebridge/casebridge/internal/logging"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		// Fails the init phase with a message naming the setting; Lambda reports it.
		fmt.Fprintln(os.Stderr, "casebridge:", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// setup runs once per execution environment: configuration, clients, the
// shared adaptive limiter and the span exporter are built here, with no
// network calls.
func setup(ctx context.Context) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(false); err != nil {
		return nil, err
	}
	log, err := logging.New(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	cl, err := clients.Load(ctx, cfg.MaxConcurrency)
	if err != nil {
		return nil, err
	}
	sdk, err := setupTracing(ctx, os.Getenv)
	if err != nil {
		return nil, err
	}
	var tp trace.TracerProvider // a nil interface when off, not a nil *TracerProvider
	if sdk != nil {
		tp = sdk
	}
	emf := &lambdasqs.EMF{FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	// A relative CASEBRIDGE_RULES names a file in the function's package.
	parts, err := app.Build(ctx, cfg, cl, app.Options{Metrics: emf, LookupObserver: emf, Logger: log, RulesDir: os.Getenv("LAMBDA_TASK_ROOT"), TracerProvider: tp})
	if err != nil {
		return nil, err
	}
	core := parts.Core
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		reqLog, requestID := log, ""
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			requestID = lc.AwsRequestID
			reqLog = log.With(zap.String("requestId", requestID))
		}
		h := &lambdasqs.Handler{Core: core.WithLogger(reqLog), MaxConcurrency: cfg.MaxConcurrency, Logger: reqLog,
			TracerProvider: tp, RequestID: requestID}
		if tp != nil {
			ctx = lambdasqs.WithInvocationTrace(ctx, invocationTraceHeader(ctx))
		}
		resp, err := h.Handle(ctx, ev)
		if sdk != nil {
			flushSpans(ctx, sdk, reqLog)
		}
		if ferr := emf.Flush(os.Stdout, requestID, time.Now()); ferr != nil {
			reqLog.Warn("writing metrics", zap.Error(ferr))
		}
		return resp, err
	}, nil
}
