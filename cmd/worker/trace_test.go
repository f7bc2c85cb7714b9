package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/testkit/otlpsink"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
)

// traceSentinel marks the field values of the traced messages: none may
// appear in any exported span (the reliability suite's rule, for spans).
const traceSentinel = "SNTL7f3a"

// TestWorkerBinaryTracesEachMessage: messages published from the test's own
// spans (a traceparent attribute, as a Go publisher would inject it) are
// traced by the worker binary over OTLP/HTTP. Each trace is unbroken from the
// publisher's span through the limiter waits and the UpdateCase attempts
// (one of them throttled, the simulator allowing 1 call/s) to the delete; the
// invalid message's trace ends in the DLQ send; no field value is in any span;
// the outcome log lines name the traces; SIGTERM flushes the last spans.
func TestWorkerBinaryTracesEachMessage(t *testing.T) {
	recv := &otlpsink.Sink{}
	otlp := httptest.NewServer(recv)
	defer otlp.Close()
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 30}, {Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	sim.SetFaults(casesim.Faults{Rate: 1, Burst: 1})
	src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")
	c := testbed.NewSQSClient(g.Endpoint)

	publisher := sdktrace.NewTracerProvider().Tracer("publisher")
	const applied = 4
	var published []trace.SpanContext // the last one is dead-lettered
	for i := range applied + 1 {
		body := fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-%012d","fields":{"summary":"%s-%d"}}`, i+1, traceSentinel, i)
		if i == applied {
			body = fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-000000000001","feilds":{"summary":"%s-%d"}}`, traceSentinel, i)
		}
		ctx, span := publisher.Start(context.Background(), "publish")
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
		span.End()
		published = append(published, span.SpanContext())
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(body),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				worker.TraceparentAttribute: {DataType: aws.String("String"), StringValue: aws.String(carrier.Get("traceparent"))}}}); err != nil {
			t.Fatal(err)
		}
	}

	cmd, logs, _ := startWorker(t, g.Endpoint, simURL, src, dlq, "CASEBRIDGE_LOG_LEVEL=debug",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_SERVICE_NAME=casebridge-test")
	deadline := time.Now().Add(60 * time.Second)
	for sim.Stats()["UpdateCase"][200] < applied || !strings.Contains(logs.String(), `"outcome":"dead-lettered"`) {
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of %d\n%s", sim.Stats()["UpdateCase"][200], applied, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last deletes' batches
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exited with %v\n%s", err, logs.String())
	}
	if sim.Stats()["UpdateCase"][429] == 0 {
		t.Fatalf("no call was throttled: the test does not cover a throttled attempt\n%s", logs.String())
	}

	throttled := 0
	for i, pub := range published {
		spans := recv.Trace(pub.TraceID())
		byID := otlpsink.ByID(spans)
		var msg *tracepb.Span
		for _, s := range spans {
			if s.Name == worker.SpanMessage {
				msg = s
			}
		}
		if msg == nil || otlpsink.ID(msg.ParentSpanId) != pub.SpanID().String() {
			t.Errorf("message %d: no message span whose parent is the publisher's (%d spans in its trace)", i, len(spans))
			continue
		}
		// Unbroken: every span leads back to the publisher's span.
		count := map[string]int{}
		for _, s := range spans {
			count[s.Name]++
			if s != msg && !otlpsink.Descends(byID, s, msg) {
				t.Errorf("message %d: span %s does not lead back to the message span", i, s.Name)
			}
			if otlpsink.ThrottledAttempt(t, s) {
				throttled++
			}
		}
		if i < applied {
			if count[consumer.SpanLimiterWait] == 0 || count[consumer.SpanUpdateCase] == 0 || count[worker.SpanDelete] != 1 || otlpsink.Attr(msg, "casebridge.outcome") != "applied" {
				t.Errorf("applied message %d: spans %v, outcome %q", i, count, otlpsink.Attr(msg, "casebridge.outcome"))
			}
		} else if count[consumer.SpanDLQSend] != 1 || count[consumer.SpanUpdateCase] != 0 || otlpsink.Attr(msg, "casebridge.outcome") != "dead-lettered" {
			t.Errorf("dead-lettered message: spans %v, outcome %q", count, otlpsink.Attr(msg, "casebridge.outcome"))
		}
		if !strings.Contains(logs.String(), `"traceId":"`+pub.TraceID().String()+`"`) {
			t.Errorf("message %d: no log line names trace %s", i, pub.TraceID())
		}
	}
	if throttled == 0 {
		t.Error("no UpdateCase span is marked throttled")
	}
	if recv.Contains(traceSentinel) {
		t.Error("a field value was exported in a span")
	}
}
