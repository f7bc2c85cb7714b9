package worker_test

import (
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
)

// BenchmarkWorkerDrain drains b.N messages through an in-process worker into an
// in-process simulator, against goaws: a focused profile target for the
// worker and the core (go test -bench WorkerDrain -cpuprofile cpu.out).
// The end-to-end figures with separate processes come from cmd/bench.
//
// The sub-benchmarks compare tracing off (no provider: what the worker runs
// without OTEL_EXPORTER_OTLP_ENDPOINT), the otel no-op provider, and tracing
// on (every span sampled, batched to an exporter that drops them), in one run:
//
//	go test -run '^$' -bench WorkerDrain -benchtime 3000x -count 3 ./internal/worker/
func BenchmarkWorkerDrain(b *testing.B) {
	b.Run("tracing=off", func(b *testing.B) { drain(b, nil) })
	b.Run("tracing=noop", func(b *testing.B) { drain(b, noop.NewTracerProvider()) })
	b.Run("tracing=on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
		defer tp.Shutdown(context.Background()) //nolint:errcheck
		drain(b, tp)
	})
}

// discard is a span exporter that drops what it is given: tracing's cost in
// the process, without a collector's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

func drain(b *testing.B, tp trace.TracerProvider) {
	g := testbed.StartGoawsT(b, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 30}, {Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(b, casesim.Options{UpdateLogLimit: 10})
	_ = sim
	c := testbed.NewSQSClient(g.Endpoint)
	src, dlq := g.QueueURLT(b, "src"), g.QueueURLT(b, "dlq")
	ctx := context.Background()
	for start := 0; start < b.N; start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i := start; i < min(start+10, b.N); i++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)),
				MessageBody: aws.String(fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-%012d","fields":{"priority":%d}}`, i%5+1, i))})
		}
		if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(src), Entries: entries}); err != nil {
			b.Fatal(err)
		}
	}
	core, err := consumer.New(consumer.Options{Cases: testbed.NewCasesClient(simURL), DLQ: c, DLQURL: dlq,
		Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID}), Limiter: quota.NewLimiter(quota.LimiterConfig{}),
		Logger: zap.NewNop(), TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	w, err := worker.New(worker.Options{SQS: c, QueueURL: src, Handler: core, WaitTime: 1, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	deadline := time.Now().Add(5 * time.Minute)
	for sim.Stats()["UpdateCase"][200] < b.N && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
