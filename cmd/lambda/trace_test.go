package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lambdasqs"
	"github.com/casebridge/casebridge/internal/testkit/otlpsink"
)

// traceSentinel marks the traced records' field values: none may appear in
// any exported span.
const traceSentinel = "SNTL4b9e"

// traceHeaderShim stands between the bootstrap and the emulator's runtime
// API and gives each invocation the trace header Lambda gives it
// (Lambda-Runtime-Trace-Id on /runtime/invocation/next): the emulator reads
// X-Amzn-Trace-Id from the invoke request but, outside its Lambda Managed
// Instances mode (which only runs a bootstrap installed under /var/task or
// /opt), never hands it to the runtime. Everything else passes unchanged.
type traceHeaderShim struct {
	mu     sync.Mutex
	header string
}

func (s *traceHeaderShim) set(h string) {
	s.mu.Lock()
	s.header = h
	s.mu.Unlock()
}

// start serves the shim in front of the emulator's runtime API at upstream and
// returns its address.
func (s *traceHeaderShim) start(t *testing.T, upstream string) string {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	// The emulator is killed while the bootstrap waits for its next
	// invocation: that one broken poll is the test's end, not an error.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/runtime/invocation/next") && resp.Header.Get("Lambda-Runtime-Trace-Id") == "" {
			s.mu.Lock()
			resp.Header.Set("Lambda-Runtime-Trace-Id", s.header)
			s.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// tracedRig is the rig whose bootstrap talks to the emulator through the shim.
func tracedRig(t *testing.T, timeoutSecs int, extraEnv ...string) (*rig, *traceHeaderShim) {
	shim := &traceHeaderShim{}
	wrapper := filepath.Join(t.TempDir(), "bootstrap")
	r := newRigWith(t, timeoutSecs, func(runtimeAPI string) string {
		script := fmt.Sprintf("#!/bin/sh\nAWS_LAMBDA_RUNTIME_API=%s exec %s\n", shim.start(t, runtimeAPI), bootstrap)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return wrapper
	}, extraEnv...)
	return r, shim
}

// TestLambdaTracesEachRecord: the real bootstrap under the emulator, invoked
// with an X-Ray trace header as Lambda invokes it, and with records whose
// publishers' spans travel as traceparent or AWSTraceHeader, against a Cases
// simulator allowing 1 call/s, exports over OTLP/HTTP before the invocation
// returns. The invocation's span joins the invocation's trace and links to
// every publisher; each record's span is its child and links to its own
// publisher's span, and every span the core made for the record (limiter
// waits, UpdateCase attempts, one of them throttled with its 429, the DLQ send
// for the invalid record) leads back to the record's span. No field value is
// in any span, and the outcome log lines name the trace.
func TestLambdaTracesEachRecord(t *testing.T) {
	sink := &otlpsink.Sink{}
	otlp := httptest.NewServer(sink)
	defer otlp.Close()
	r, shim := tracedRig(t, 20, "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_SERVICE_NAME=casebridge-test")
	r.sim.SetFaults(casesim.Faults{Rate: 1, Burst: 1})

	tracer := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(xray.NewIDGenerator())).Tracer("test")
	const applied = 4
	var ev events.SQSEvent
	var published []trace.SpanContext // by record; the last record is dead-lettered
	for i := range applied + 1 {
		body := fmt.Sprintf(`{"caseId":%q,"fields":{"summary":"%s-%d"}}`, fmt.Sprintf("7a1d6c3e-0000-4000-8000-%012d", i+1), traceSentinel, i)
		if i == applied {
			body = fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-000000000001","feilds":{"summary":"%s-%d"}}`, traceSentinel, i)
		}
		rec := record(i, body)
		ctx, span := tracer.Start(context.Background(), "publish")
		span.End()
		published = append(published, span.SpanContext())
		carrier := propagation.MapCarrier{}
		if i%2 == 0 { // a Go publisher's traceparent attribute
			propagation.TraceContext{}.Inject(ctx, carrier)
			rec.MessageAttributes[consumer.TraceparentAttribute] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(carrier.Get("traceparent"))}
		} else { // SQS's AWSTraceHeader system attribute, from the sender's X-Ray context
			xray.Propagator{}.Inject(ctx, carrier)
			rec.Attributes["AWSTraceHeader"] = carrier.Get("X-Amzn-Trace-Id")
		}
		ev.Records = append(ev.Records, rec)
	}
	// The invocation's own trace, as Lambda's active tracing starts it.
	lambdaCtx, lambdaSpan := tracer.Start(context.Background(), "AWS::Lambda::Function")
	lambdaSpan.End()
	invocation := lambdaSpan.SpanContext()
	carrier := propagation.MapCarrier{}
	xray.Propagator{}.Inject(lambdaCtx, carrier)
	header := carrier.Get("X-Amzn-Trace-Id")
	shim.set(header)

	resp := r.sendWith(ev, http.Header{"X-Amzn-Trace-Id": {header}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v\n%s", ids(resp), r.stderr)
	}
	if r.sim.Stats()["UpdateCase"][429] == 0 {
		t.Fatalf("no call was throttled: the test does not cover a throttled attempt\n%s", r.stderr)
	}

	// The invocation has returned: its spans must be exported already.
	spans := sink.Trace(invocation.TraceID())
	byID := otlpsink.ByID(spans)
	var inv *tracepb.Span
	records := map[string]*tracepb.Span{}
	for _, s := range spans {
		switch s.Name {
		case "src process":
			inv = s
		case lambdasqs.SpanMessage:
			records[otlpsink.Attr(s, "messaging.message.id")] = s
		}
	}
	if inv == nil {
		t.Fatalf("no invocation span in the invocation's trace %s (%d spans)\n%s", invocation.TraceID(), len(spans), r.stderr)
	}
	if otlpsink.ID(inv.ParentSpanId) != invocation.SpanID().String() {
		t.Errorf("invocation span's parent %s, want the invocation's X-Ray segment %s", otlpsink.ID(inv.ParentSpanId), invocation.SpanID())
	}
	if len(inv.Links) != len(ev.Records) {
		t.Errorf("invocation span has %d links, want one per record (%d)", len(inv.Links), len(ev.Records))
	}
	throttled := 0
	for i, rec := range ev.Records {
		msg := records[rec.MessageId]
		if msg == nil || otlpsink.ID(msg.ParentSpanId) != otlpsink.ID(inv.SpanId) {
			t.Errorf("record %d: no span under the invocation's", i)
			continue
		}
		if len(msg.Links) != 1 || otlpsink.ID(msg.Links[0].TraceId) != published[i].TraceID().String() || otlpsink.ID(msg.Links[0].SpanId) != published[i].SpanID().String() {
			t.Errorf("record %d: links %v, want its publisher's span %s/%s", i, msg.Links, published[i].TraceID(), published[i].SpanID())
		}
		count := map[string]int{}
		for _, s := range spans {
			if !otlpsink.Descends(byID, s, msg) {
				continue // another record's, or the invocation's
			}
			count[s.Name]++
			if otlpsink.ThrottledAttempt(t, s) {
				throttled++
			}
		}
		if i < applied {
			if count[consumer.SpanLimiterWait] == 0 || count[consumer.SpanUpdateCase] == 0 || count[consumer.SpanDLQSend] != 0 || otlpsink.Attr(msg, "casebridge.outcome") != "applied" {
				t.Errorf("applied record %d: spans %v, outcome %q", i, count, otlpsink.Attr(msg, "casebridge.outcome"))
			}
		} else if count[consumer.SpanDLQSend] != 1 || count[consumer.SpanUpdateCase] != 0 || otlpsink.Attr(msg, "casebridge.outcome") != "dead-lettered" {
			t.Errorf("dead-lettered record: spans %v, outcome %q", count, otlpsink.Attr(msg, "casebridge.outcome"))
		}
	}
	if throttled == 0 {
		t.Error("no UpdateCase span is marked throttled")
	}
	t.Logf("%d spans in the invocation's trace, %d UpdateCase attempts throttled", len(spans), throttled)
	if sink.Contains(traceSentinel) {
		t.Error("a field value was exported in a span")
	}
	traceLine := `"traceId":"` + invocation.TraceID().String() + `"`
	if !r.stderr.Await(outputArrives, func(out string) bool { return strings.Count(out, traceLine) >= len(ev.Records) }) {
		t.Errorf("%d log lines name trace %s, want one per record", strings.Count(r.stderr.String(), traceLine), invocation.TraceID())
	}
}

// TestLambdaSilentCollectorCostsAtMostTheFlushBound: a collector that accepts
// the export and never answers makes each invocation wait flushTimeout at
// most, never past its deadline: the batch is answered (not timed out, which
// would redeliver the applied record) and the failed export is logged.
func TestLambdaSilentCollectorCostsAtMostTheFlushBound(t *testing.T) {
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select { // hold the export until the test ends
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(release)
	r := newRig(t, 3, "OTEL_EXPORTER_OTLP_ENDPOINT="+silent.URL, "OTEL_EXPORTER_OTLP_TIMEOUT=30000")
	start := time.Now()
	resp := r.send(events.SQSEvent{Records: []events.SQSMessage{record(0, good(0))}})
	took := time.Since(start)
	if len(resp.BatchItemFailures) != 0 || len(r.sim.AppliedUpdates()) != 1 {
		t.Fatalf("failures %v, %d applied: the record's outcome must not depend on the collector", ids(resp), len(r.sim.AppliedUpdates()))
	}
	// send fails the test if the emulator timed the invocation out.
	if took < flushTimeout {
		t.Errorf("invocation took %v, less than the flush bound %v: the export was not held, the test proves nothing", took, flushTimeout)
	}
	if !r.stderr.WaitFor(outputArrives, "exporting the invocation's spans") {
		t.Errorf("the failed export is not logged:\n%s", r.stderr)
	}
}
