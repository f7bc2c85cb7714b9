package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/handlers"
)

func recordingProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func TestMessageSpanParentIsThePublishers(t *testing.T) {
	const (
		w3cTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
		w3cParent = "00f067aa0ba902b7"
		xrayHdr   = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	)
	traceparent := sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("00-" + w3cTrace + "-" + w3cParent + "-01")}
	tests := []struct {
		name              string
		attrs             map[string]sqstypes.MessageAttributeValue
		sys               map[string]string
		wantTrace, wantPa string
	}{
		{"traceparent", map[string]sqstypes.MessageAttributeValue{TraceparentAttribute: traceparent}, nil, w3cTrace, w3cParent},
		{"AWSTraceHeader", nil, map[string]string{"AWSTraceHeader": xrayHdr}, "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"},
		{"traceparent wins", map[string]sqstypes.MessageAttributeValue{TraceparentAttribute: traceparent}, map[string]string{"AWSTraceHeader": xrayHdr}, w3cTrace, w3cParent},
		{"neither: a new trace", nil, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp, rec := recordingProvider(t)
			tr := newTracer(tp, "http://sqs/000000000000/orders")
			m := sqstypes.Message{MessageId: aws.String("m1"), MessageAttributes: tc.attrs, Attributes: tc.sys}
			span := tr.startMessage(m, consumer.Message{ID: "m1", ReceiveCount: 2}, time.Now())
			span.End()
			got := rec.Ended()[0]
			if tc.wantTrace == "" {
				if got.Parent().IsValid() {
					t.Errorf("parent %v, want none", got.Parent())
				}
				return
			}
			if got.SpanContext().TraceID().String() != tc.wantTrace || got.Parent().SpanID().String() != tc.wantPa || !got.Parent().IsRemote() {
				t.Errorf("trace %s parent %s, want %s %s", got.SpanContext().TraceID(), got.Parent().SpanID(), tc.wantTrace, tc.wantPa)
			}
			want := map[string]string{"messaging.destination.name": "orders", "messaging.message.id": "m1", "casebridge.receive_count": "2"}
			for _, kv := range got.Attributes() {
				if w, ok := want[string(kv.Key)]; ok && kv.Value.Emit() != w {
					t.Errorf("%s = %s, want %s", kv.Key, kv.Value.Emit(), w)
				}
			}
		})
	}
}

func TestTracingOffAsksForNoTraceHeader(t *testing.T) {
	var off *tracer
	if got := off.systemAttributes(nil); len(got) != 0 {
		t.Errorf("tracing off asks for %v", got)
	}
	if off.startMessage(sqstypes.Message{}, consumer.Message{}, time.Now()) != nil {
		t.Error("tracing off made a span")
	}
	on := newTracer(sdktrace.NewTracerProvider(), "q")
	if got := on.systemAttributes(nil); len(got) != 1 || got[0] != sqstypes.MessageSystemAttributeNameAWSTraceHeader {
		t.Errorf("tracing on asks for %v, want AWSTraceHeader", got)
	}
}

// TestEachDeleteIsItsMessagesChild: a batch of deletes ends one delete span
// per message, in that message's trace, then the message span; an entry SQS
// refuses ends in error.
func TestEachDeleteIsItsMessagesChild(t *testing.T) {
	tp, rec := recordingProvider(t)
	tr := newTracer(tp, "q")
	f := &fakeSQS{failOnce: map[string]bool{"rh-2": true}}
	d := newDeleter(f, "q", time.Hour, zap.NewNop(), nil)
	d.tracer = tr
	done := make(chan struct{})
	go func() { d.run(); close(done) }()
	for i := range 4 {
		msg := tr.startMessage(sqstypes.Message{}, consumer.Message{ID: fmt.Sprint(i)}, time.Now())
		d.delete(deleteEntry{receipt: fmt.Sprint("rh-", i), messageID: fmt.Sprint(i), span: tr.deleteSpan(msg), msgSpan: msg})
	}
	d.close()
	<-done
	parents := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.Name() == SpanMessage {
			parents[s.SpanContext().SpanID().String()] = true
		}
	}
	if len(parents) != 4 {
		t.Fatalf("%d message spans ended, want 4", len(parents))
	}
	deletes := 0
	for _, s := range rec.Ended() {
		if s.Name() != SpanDelete {
			continue
		}
		deletes++
		if !parents[s.Parent().SpanID().String()] {
			t.Errorf("delete span's parent %s is no message span", s.Parent().SpanID())
		}
		if s.Status().Code == codes.Error {
			t.Errorf("a delete retried to success ends in error: %v", s.Status())
		}
	}
	if deletes != 4 {
		t.Errorf("%d delete spans, want 4", deletes)
	}
}

// TestReleasedMessageSpanThroughRun: through Run, the handler is given the
// message's span (parented on the publisher's AWSTraceHeader), and a message
// given back to the queue ends its span with a released event.
func TestReleasedMessageSpanThroughRun(t *testing.T) {
	tp, rec := recordingProvider(t)
	q := &fifoSQS{fakeSQS: fakeSQS{changed: make(chan struct{}, 1)}, pending: []sqstypes.Message{{MessageId: aws.String("m"), ReceiptHandle: aws.String("rh"), Body: aws.String("{}"),
		Attributes: map[string]string{"ApproximateReceiveCount": "1",
			"AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}}}
	gotSpan := make(chan bool, 1)
	h := handlers.Func(func(_ context.Context, m consumer.Message) consumer.Outcome {
		gotSpan <- m.Span != nil && m.Span.IsRecording()
		return consumer.Outcome{Kind: consumer.RetryLater, Reason: "throttled", Delay: 2 * time.Second}
	})
	w, err := New(Options{SQS: q, QueueURL: "http://sqs/000000000000/src", Handler: h, TracerProvider: tp, WaitTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if !<-gotSpan {
		t.Error("the handler was given no recording span")
	}
	<-q.changed
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var msg sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == SpanMessage {
			msg = s
		}
	}
	if msg == nil {
		t.Fatal("no message span ended")
	}
	if msg.SpanContext().TraceID().String() != "5759e988bd862e3fe1be46a994272793" {
		t.Errorf("trace %s is not the publisher's", msg.SpanContext().TraceID())
	}
	if ev := msg.Events(); len(ev) != 1 || ev[0].Name != "released" {
		t.Errorf("events %v, want one released", ev)
	}
}
