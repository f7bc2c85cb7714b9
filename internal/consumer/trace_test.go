package consumer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/casebridge/casebridge/internal/quota"
)

const fieldValueMarker = "SNTL-core-value"

// tracedCore is a core whose spans, and the test's own message spans, go to one recorder.
func tracedCore(t *testing.T, cases CasesAPI, dlq QueueSender, coalesce bool, log *zap.Logger) (*Core, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	core, err := New(Options{Cases: cases, DLQ: dlq, DLQURL: "dlq", TracerProvider: tp, Logger: log, Coalesce: coalesce,
		Limiter:     quota.NewLimiter(quota.LimiterConfig{Ceiling: 1000, InitialRate: 1000}),
		BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return core, rec, tp.Tracer("transport")
}

func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// noValues fails if any span's attribute or event holds a field value.
func noValues(t *testing.T, rec *tracetest.SpanRecorder) {
	t.Helper()
	for _, s := range rec.Ended() {
		text := fmt.Sprint(s.Attributes(), s.Events(), s.Status())
		if strings.Contains(text, fieldValueMarker) {
			t.Errorf("span %s carries a field value: %s", s.Name(), text)
		}
	}
}

// TestSpansAreChildrenOfTheMessageSpan: the limiter waits and each call
// (throttled, then applied) are children of the transport's message span, the
// outcome is on it, and the log line names its trace.
func TestSpansAreChildrenOfTheMessageSpan(t *testing.T) {
	zc, logs := observer.New(zap.InfoLevel)
	core, rec, tr := tracedCore(t, &fakeCases{script: []error{errThrottle, nil}}, &fakeDLQ{}, false, zap.New(zc))
	_, span := tr.Start(context.Background(), "message")
	out := core.Handle(context.Background(), Message{ID: "m1", Body: body("c1", "status", fieldValueMarker), Span: span})
	span.End()
	if out.Kind != Done {
		t.Fatalf("outcome %v/%s", out.Kind, out.Reason)
	}
	msg := span.SpanContext()
	calls := spansNamed(rec, SpanUpdateCase)
	if len(calls) != 2 || attr(calls[0], string(AttrClass)) != "throttle" || attr(calls[1], string(AttrClass)) != "ok" {
		t.Fatalf("UpdateCase spans %v, want a throttled one then an ok one", calls)
	}
	if got := attr(calls[1], string(AttrHTTPStatus)); got != "200" {
		t.Errorf("applied call's status %q, want 200", got)
	}
	waits := spansNamed(rec, SpanLimiterWait)
	if len(waits) != 2 {
		t.Errorf("%d limiter waits, want one per call", len(waits))
	}
	for _, s := range append(calls, waits...) {
		if s.Parent().SpanID() != msg.SpanID() || s.SpanContext().TraceID() != msg.TraceID() {
			t.Errorf("span %s is not a child of the message span", s.Name())
		}
	}
	ms := spansNamed(rec, "message")[0]
	if attr(ms, string(AttrOutcome)) != "applied" || attr(ms, string(AttrCaseID)) != "c1" || attr(ms, string(AttrAttempts)) != "2" {
		t.Errorf("message span attributes %v", ms.Attributes())
	}
	lines := logs.FilterMessage("message outcome").All()
	if len(lines) != 1 || lines[0].ContextMap()["traceId"] != msg.TraceID().String() {
		t.Errorf("log lines %v lack traceId %s", lines, msg.TraceID())
	}
	noValues(t, rec)
}

// TestDeadLetteredTraceEndsInTheDLQSend: a permanent rejection's trace has the
// call and then the DLQ send, with the reason and no error text.
func TestDeadLetteredTraceEndsInTheDLQSend(t *testing.T) {
	core, rec, tr := tracedCore(t, &fakeCases{script: []error{errValidation}}, &fakeDLQ{}, false, nil)
	_, span := tr.Start(context.Background(), "message")
	out := core.Handle(context.Background(), Message{ID: "m1", Body: body("c1", "priority", fieldValueMarker), Span: span})
	span.End()
	if out.Kind != DeadLettered {
		t.Fatalf("outcome %v/%s", out.Kind, out.Reason)
	}
	sends := spansNamed(rec, SpanDLQSend)
	if len(sends) != 1 || sends[0].Parent().SpanID() != span.SpanContext().SpanID() || attr(sends[0], string(AttrReason)) != "validation" {
		t.Fatalf("DLQ send spans %v", sends)
	}
	if ms := spansNamed(rec, "message")[0]; ms.Status().Description != "validation" {
		t.Errorf("message span status %v, want the reason", ms.Status())
	}
	noValues(t, rec)
}

// TestMergedCallLinksEveryMessage: a FIFO run sent as one call has one
// UpdateCase span, the first message's child, linked to every message.
func TestMergedCallLinksEveryMessage(t *testing.T) {
	core, rec, tr := tracedCore(t, &recordingCases{}, &fakeDLQ{}, true, nil)
	var msgs []Message
	for i := range 3 {
		_, span := tr.Start(context.Background(), "message")
		msgs = append(msgs, Message{ID: fmt.Sprint(i), Body: body("c", "status", fieldValueMarker), Span: span})
	}
	outs := core.HandleGroup(context.Background(), &Group{}, msgs)
	for i, m := range msgs {
		m.Span.End()
		if outs[i].Kind != Done {
			t.Errorf("message %d: %v", i, outs[i].Kind)
		}
	}
	calls := spansNamed(rec, SpanUpdateCase)
	if len(calls) != 1 {
		t.Fatalf("%d UpdateCase spans, want 1", len(calls))
	}
	if calls[0].Parent().SpanID() != msgs[0].Span.SpanContext().SpanID() {
		t.Error("the merged call is not the first message's child")
	}
	links := calls[0].Links()
	if len(links) != 3 || attr(calls[0], string(AttrCoalesced)) != "3" {
		t.Fatalf("links %v, want one per message", links)
	}
	for i, l := range links {
		if l.SpanContext.SpanID() != msgs[i].Span.SpanContext().SpanID() {
			t.Errorf("link %d is not message %d's span", i, i)
		}
	}
	noValues(t, rec)
}

// TestCoalescedWaitersLinkToTheCall: on a standard queue, messages merged
// while waiting for the limiter share one call span linked to each of them,
// and each follower's span names the leader.
func TestCoalescedWaitersLinkToTheCall(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck
	core := coalescingCore(t, &recordingCases{}, 4)
	core.tracer = tp.Tracer(tracerName)
	tr := tp.Tracer("transport")
	done := make(chan struct{})
	const n = 8
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			_, span := tr.Start(context.Background(), "message")
			core.Handle(context.Background(), Message{ID: fmt.Sprint(i), Body: body("c1", fmt.Sprintf("f%d", i), fieldValueMarker), Span: span})
			span.End()
		}()
	}
	for range n {
		<-done
	}
	linked, followers := 0, 0
	for _, c := range spansNamed(rec, SpanUpdateCase) {
		linked += len(c.Links())
	}
	for _, s := range spansNamed(rec, "message") {
		for _, e := range s.Events() {
			if e.Name == "coalesced" {
				followers++
			}
		}
	}
	if followers == 0 || linked < followers {
		t.Errorf("%d followers, %d links: merged calls must link every message they carry", followers, linked)
	}
	noValues(t, rec)
}

func TestPublisherContext(t *testing.T) {
	const (
		w3c    = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		xrayH  = "Root=1-6759e988-0d862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=1"
		w3cID  = "0af7651916cd43dd8448eb211c80319c"
		xrayID = "6759e9880d862e3fe1be46a994272794"
	)
	str := func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	tests := []struct {
		name   string
		attrs  map[string]sqstypes.MessageAttributeValue
		header string
		want   string // trace id, "" for none
	}{
		{"traceparent wins over AWSTraceHeader", map[string]sqstypes.MessageAttributeValue{TraceparentAttribute: str(w3c)}, xrayH, w3cID},
		{"AWSTraceHeader alone", nil, xrayH, xrayID},
		{"a broken traceparent falls back to AWSTraceHeader", map[string]sqstypes.MessageAttributeValue{TraceparentAttribute: str("00-zz")}, xrayH, xrayID},
		{"a broken AWSTraceHeader is none", nil, "Root=nonsense", ""},
		{"nothing", map[string]sqstypes.MessageAttributeValue{"origin": str("billing")}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := PublisherContext(tc.attrs, tc.header)
			got := ""
			if sc.IsValid() {
				got = sc.TraceID().String()
			}
			if got != tc.want || (sc.IsValid() && !sc.IsRemote()) {
				t.Errorf("trace %q (remote %v), want %q", got, sc.IsRemote(), tc.want)
			}
		})
	}
}
