package main

import (
	"context"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/testkit/otlpsink"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
	"github.com/casebridge/casebridge/publish"
)

// TestPublishPackageTraceReachesWorker: a message sent by the publish
// package from inside a span (its injected traceparent, nothing set by hand)
// is traced by the worker binary as a child of that span.
func TestPublishPackageTraceReachesWorker(t *testing.T) {
	recv := &otlpsink.Sink{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	otlp := srv.URL
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 30}, {Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")

	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background()) //nolint:errcheck
	ctx, span := tp.Tracer("publisher").Start(context.Background(), "publish")
	m, err := publish.Update("7a1d6c3e-0000-4000-8000-000000000001").Set("status", "closed").Message()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publish.NewSQS(testbed.NewSQSClient(g.Endpoint), src).Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	span.End()
	pub := span.SpanContext()

	cmd, logs, _ := startWorker(t, g.Endpoint, simURL, src, dlq,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+otlp, "OTEL_SERVICE_NAME=casebridge-test")
	deadline := time.Now().Add(30 * time.Second)
	for sim.Stats()["UpdateCase"][200] < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not applied\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the delete's batch
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exited with %v\n%s", err, logs.String())
	}
	for _, s := range recv.Trace(pub.TraceID()) {
		if s.Name == worker.SpanMessage {
			if got := otlpsink.ID(s.ParentSpanId); got != pub.SpanID().String() {
				t.Errorf("message span's parent %s, want the publisher's span %s", got, pub.SpanID())
			}
			return
		}
	}
	t.Errorf("no %s span in the publisher's trace %s\n%s", worker.SpanMessage, pub.TraceID(), logs.String())
}
