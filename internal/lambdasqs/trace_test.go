package lambdasqs

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/handlers"
)

const (
	invocationHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	xrayPublisher    = "Root=1-6759e988-0d862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=1"
	w3cPublisher     = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// TestSpansFollowTheLambdaConventions: the invocation's span joins the trace
// Lambda gave the invocation and links to every record's publisher (from
// traceparent, else AWSTraceHeader); each record's span is its child, links
// to its own publisher, carries the core's outcome, and says when the record
// was reported as a batch item failure.
func TestSpansFollowTheLambdaConventions(t *testing.T) {
	for _, arn := range []string{"arn:aws:sqs:us-east-1:100010001000:src", "arn:aws:sqs:us-east-1:100010001000:src.fifo"} {
		t.Run(queueName(arn), func(t *testing.T) { testLambdaSpans(t, arn) })
	}
}

func testLambdaSpans(t *testing.T, arn string) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var seen []trace.Span
	core := handlers.Func(func(ctx context.Context, m consumer.Message) consumer.Outcome {
		seen = append(seen, m.Span)
		if m.Body == "retry" {
			return consumer.Outcome{Kind: consumer.RetryLater, Reason: "throttled"}
		}
		return consumer.Outcome{Kind: consumer.Done}
	})
	// FIFO: one group per record, so the core's scripted outcomes hold nothing back.
	ev := event(arn, [2]string{"a", "ok"}, [2]string{"b", "retry"}, [2]string{"c", "ok"})
	ev.Records[0].MessageAttributes = map[string]events.SQSMessageAttribute{
		consumer.TraceparentAttribute: {DataType: "String", StringValue: aws.String(w3cPublisher)}}
	ev.Records[0].Attributes[awsTraceHeader] = xrayPublisher // traceparent wins
	ev.Records[1].Attributes[awsTraceHeader] = xrayPublisher
	h := &Handler{Core: core, MaxConcurrency: 1, TracerProvider: tp, RequestID: "req-1"}
	resp, _ := h.Handle(WithInvocationTrace(context.Background(), invocationHeader), ev)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	for i, s := range seen {
		if s == nil || !s.SpanContext().IsValid() {
			t.Fatalf("record %d reached the core without a span", i)
		}
	}

	var inv sdktrace.ReadOnlySpan
	msgs := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		switch s.Name() {
		case queueName(arn) + " process":
			inv = s
		case SpanMessage:
			for _, a := range s.Attributes() {
				if a.Key == "messaging.message.id" {
					msgs[a.Value.AsString()] = s
				}
			}
		}
	}
	if inv == nil || len(msgs) != 3 {
		t.Fatalf("want an invocation span and 3 record spans, got %d spans", len(rec.Ended()))
	}
	if got := inv.SpanContext().TraceID().String(); got != "5759e988bd862e3fe1be46a994272793" || inv.Parent().SpanID().String() != "53995c3f42cd8ad8" {
		t.Errorf("invocation span in trace %s under %s, want the invocation's X-Ray trace", got, inv.Parent().SpanID())
	}
	if inv.SpanKind() != trace.SpanKindConsumer || len(inv.Links()) != 2 {
		t.Errorf("invocation span kind %v with %d links, want consumer with one link per traced record", inv.SpanKind(), len(inv.Links()))
	}
	wantLink := map[string]string{"m0": "0af7651916cd43dd8448eb211c80319c", "m1": "6759e9880d862e3fe1be46a994272794", "m2": ""}
	for id, want := range wantLink {
		s := msgs[id]
		if s.Parent().SpanID() != inv.SpanContext().SpanID() || s.SpanContext().TraceID() != inv.SpanContext().TraceID() {
			t.Errorf("%s: not a child of the invocation span", id)
		}
		var got string
		if l := s.Links(); len(l) == 1 {
			got = l[0].SpanContext.TraceID().String()
		} else if len(l) > 1 {
			got = "several"
		}
		if got != want {
			t.Errorf("%s: linked to %q, want %q", id, got, want)
		}
	}
	if ev := msgs["m1"].Events(); len(ev) != 1 || ev[0].Name != "reported as a batch item failure" {
		t.Errorf("retried record's events %v", ev)
	}
}

// TestTracingOffStartsNothing: without a provider the core gets no span, and
// an invocation header changes nothing.
func TestTracingOffStartsNothing(t *testing.T) {
	core := handlers.Func(func(ctx context.Context, m consumer.Message) consumer.Outcome {
		if m.Span != nil {
			t.Error("a span with tracing off")
		}
		return consumer.Outcome{Kind: consumer.Done}
	})
	(&Handler{Core: core}).Handle(WithInvocationTrace(context.Background(), invocationHeader), event("arn:q", [2]string{"", "ok"}))
}

func TestQueueName(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sqs:us-east-1:100010001000:src.fifo":        "src.fifo",
		"https://sqs.us-east-1.amazonaws.com/100010001000/q": "q",
		"http://127.0.0.1:4100/100010001000/q":               "q",
	} {
		if got := queueName(in); got != want {
			t.Errorf("queueName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInvocationHeaderDecidesSampling: with the SDK's default (parent-based)
// sampler, the invocation's header decides what is recorded, as
// docs/operations.md says for each tracing mode.
func TestInvocationHeaderDecidesSampling(t *testing.T) {
	tests := []struct {
		name, header string
		recorded     bool
		joins        string // the invocation's trace when the spans join it; "" = a new trace
	}{
		{"Active, sampled", invocationHeader, true, "5759e988bd862e3fe1be46a994272793"},
		{"not sampled", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", false, "5759e988bd862e3fe1be46a994272793"},
		{"PassThrough naming only the trace", "Root=1-5759e988-bd862e3fe1be46a994272793", true, ""},
		{"no header", "", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			var traceID string
			core := handlers.Func(func(ctx context.Context, m consumer.Message) consumer.Outcome {
				traceID = m.Span.SpanContext().TraceID().String()
				return consumer.Outcome{Kind: consumer.Done}
			})
			(&Handler{Core: core, TracerProvider: tp}).Handle(WithInvocationTrace(context.Background(), tc.header), event("arn:q", [2]string{"", "ok"}))
			if got := len(rec.Ended()) == 2; got != tc.recorded {
				t.Errorf("recorded %v (%d spans), want %v", got, len(rec.Ended()), tc.recorded)
			}
			const invocationTrace = "5759e988bd862e3fe1be46a994272793"
			if joined := traceID == invocationTrace; joined != (tc.joins != "") {
				t.Errorf("record's trace %s, joined the invocation's %v, want %v", traceID, joined, tc.joins != "")
			}
		})
	}
}
