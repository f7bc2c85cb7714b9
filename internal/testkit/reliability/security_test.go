package reliability

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/testkit/otlpsink"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sentinel marks field values (and the performedBy claim, which the API marks
// sensitive) that must never show up in logs, metrics, spans or DLQ reasons.
const sentinel = "SNTL7f3a"

var sentinelRE = regexp.MustCompile(sentinel + `-\d+`)

// sentinelMessages reach every outcome: applied, invalid-message (several
// rules), validation (the service refuses the value), not-found.
func sentinelMessages() []msg {
	s := func(i int) string { return fmt.Sprintf("%s-%d", sentinel, i) }
	bodies := []struct {
		k    kind
		body string
	}{
		// The reason carries the marker, as in the fault tests; the other values are sentinels.
		{kValid, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"s-0","summary":%q,"title":%q,"owner":{"userArnValue":%q}},"performedBy":{"customEntity":%q}}`,
			caseID(0), s(1), s(2), s(3), s(4))},
		{kValidation, fmt.Sprintf(`{"caseId":%q,"fields":{"status":%q}}`, caseID(1), s(5))},
		{kValidation, fmt.Sprintf(`{"caseId":%q,"fields":{"priority":%q}}`, caseID(2), s(6))},
		{kInvalid, fmt.Sprintf(`{"caseId":%q,"fields":[{"id":"reason","value":{"stringValue":%q,"doubleValue":1}}]}`, caseID(3), s(7))},
		{kInvalid, fmt.Sprintf(`{"caseId":%q,"fields":{"summary":%q}}`, caseID(4), s(8)+strings.Repeat("x", 4100))},
		{kInvalid, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q},"performedBy":{"customEntity":%q}}`, caseID(0), s(9), s(10)+"<>")},
		{kInvalid, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":{"booleanValue":%q}}}`, caseID(1), s(11))},
		{kNotFound, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q}}`, missingCase, s(12))},
	}
	out := make([]msg, len(bodies))
	for i, b := range bodies {
		out[i] = msg{marker: fmt.Sprintf("s-%d", i), kind: b.k, body: b.body}
	}
	return out
}

// leakCheck collects sentinels found in logs, metrics, spans and DLQ reasons.
type leakCheck struct {
	t *testing.T
}

func (l *leakCheck) scan(where, text string) {
	l.t.Helper()
	for _, line := range strings.Split(text, "\n") {
		for _, m := range sentinelRE.FindAllString(line, -1) {
			l.t.Errorf("field value %s in %s: %s", m, where, tail(line, 400))
		}
	}
}

// spans scans every span exported to sink: each rendered span line, and the
// export requests' bytes as sent (a value in a bytes attribute would be
// base64 in the rendering). At least one span per message must have arrived,
// or the scan proves nothing.
func (l *leakCheck) spans(where string, sink *otlpsink.Sink, atLeast int) {
	l.t.Helper()
	rendered := sink.JSON()
	if n := strings.Count(rendered, "\n"); n < atLeast {
		l.t.Errorf("%s: %d spans exported, want at least %d (one per message)", where, n, atLeast)
	}
	l.scan(where, rendered)
	if sink.Contains(sentinel) {
		l.t.Errorf("field value in %s (the export requests' bytes)", where)
	}
}

// otlpEndpoint starts an OTLP/HTTP receiver for the test and returns the
// variable that points a binary's export at it.
func otlpEndpoint(t *testing.T) (*otlpsink.Sink, string) {
	sink := &otlpsink.Sink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	return sink, "OTEL_EXPORTER_OTLP_ENDPOINT=" + srv.URL
}

// TestNoFieldValuesInLogsMetricsSpansOrDLQReasons: messages whose field values
// (and performedBy claims) are sentinels go through the worker binary at debug
// level and through the Lambda under the emulator, both exporting spans to
// the test; no sentinel may appear in any log line, in /metrics, in the EMF
// output, in any exported span, or in a casebridge-error attribute. (The DLQ
// copy's body is the original message and holds them, by design.)
func TestNoFieldValuesInLogsMetricsSpansOrDLQReasons(t *testing.T) {
	msgs := sentinelMessages()
	t.Run("worker", func(t *testing.T) {
		w := newWorld(t, 5)
		w.send(msgs)
		sink, otlp := otlpEndpoint(t)
		p := w.startWorker("CASEBRIDGE_LOG_LEVEL=debug", otlp)
		w.waitEmpty(30 * time.Second)
		metrics := scrape(t, p.httpAddr)
		p.stop(t)
		dlq := w.drainDLQ()
		account(t, msgs, applied(w.sim), dlq)
		l := &leakCheck{t: t}
		l.scan("worker log", p.out.String())
		l.scan("/metrics", metrics)
		l.spans("worker spans", sink, len(msgs)) // after stop: SIGTERM flushes the last ones
		for k, ds := range dlq {
			for _, d := range ds {
				l.scan("DLQ reason of "+k, aws.ToString(d.attrs[contract.ErrorAttribute].StringValue))
			}
		}
	})
	t.Run("lambda", func(t *testing.T) {
		w := newWorld(t, 5)
		sink, otlp := otlpEndpoint(t)
		r := w.startLambda(5, "CASEBRIDGE_LOG_LEVEL=debug", otlp)
		w.send(msgs)
		dlq, _, _ := w.pollAndInvoke(t, r, 30*time.Second)
		account(t, msgs, applied(w.sim), dlq)
		l := &leakCheck{t: t}
		l.scan("Lambda output (logs and EMF)", r.out.String())
		l.spans("Lambda spans", sink, len(msgs)) // each invocation flushes before it returns
		for k, ds := range dlq {
			for _, d := range ds {
				l.scan("DLQ reason of "+k, aws.ToString(d.attrs[contract.ErrorAttribute].StringValue))
			}
		}
	})
}
