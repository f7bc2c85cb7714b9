package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/casebridge/casebridge/internal/testkit/otlpsink"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/publish"
)

// TestSendTracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, `casebridge send`
// (one message, and --file) exports one span and every message it sends
// carries that span as its traceparent; without it (or with
// OTEL_SDK_DISABLED) the messages carry no attributes.
func TestSendTracing(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "updates"}}})
	toolsAWS(t, g.Endpoint)
	c := testbed.NewSQSClient(g.Endpoint)
	url := g.QueueURLT(t, "updates")
	sink := &otlpsink.Sink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(`{"caseId":"`+toolsCase+`","fields":{"status":"open"}}`+"\n"+`{"caseId":"`+toolsCase+`","fields":{"status":"closed"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runs := map[string][]string{
		"single": {"send", "--queue", url, "--case", toolsCase, "status=closed"},
		"file":   {"send", "--queue", url, "--file", file},
	}
	want := map[string]int{"single": 1, "file": 2}

	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	for name, args := range runs {
		if code, _, stderr := toolsRun(t, "", args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		spans := sink.Take()
		if len(spans) != 1 || spans[0].Name != SpanSend || spans[0].Kind != tracepb.Span_SPAN_KIND_PRODUCER {
			t.Fatalf("%s: exported %d spans %v, want one %q producer span", name, len(spans), spans, SpanSend)
		}
		for _, m := range toolsDrain(t, c, url, want[name]) {
			sc := otlpsink.ParentOf(m)
			if otlpsink.ID(spans[0].TraceId) != sc.TraceID().String() || otlpsink.ID(spans[0].SpanId) != sc.SpanID().String() {
				t.Errorf("%s: message's traceparent %v, want the send's span %x/%x", name, sc, spans[0].TraceId, spans[0].SpanId)
			}
		}
	}

	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": ""},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_SDK_DISABLED": "true"},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		for name, args := range runs {
			if code, _, stderr := toolsRun(t, "", args...); code != 0 {
				t.Fatalf("%s %v: exit %d: %s", name, env, code, stderr)
			}
			for _, m := range toolsDrain(t, c, url, want[name]) {
				if _, ok := m.MessageAttributes[publish.TraceparentAttribute]; ok || len(m.MessageAttributes) != 0 {
					t.Errorf("%s %v: untraced send's message has attributes %v", name, env, m.MessageAttributes)
				}
			}
		}
		if spans := sink.Take(); len(spans) != 0 {
			t.Errorf("%v: %d spans exported with tracing off", env, len(spans))
		}
	}
}
