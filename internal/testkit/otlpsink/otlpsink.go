// Package otlpsink is an OTLP/HTTP trace endpoint for tests: it keeps every
// span exported to it, and every request body as sent, so a test can follow
// a trace and look for values that must never leave the process.
package otlpsink

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/casebridge/casebridge/internal/consumer"
)

// Sink is an http.Handler for POST /v1/traces (protobuf). The zero value is ready.
type Sink struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   strings.Builder
}

// ServeHTTP keeps the spans of one export request.
func (s *Sink) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var in coltracepb.ExportTraceServiceRequest
	if err != nil || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &in) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.raw.Write(body)
	for _, rs := range in.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			s.spans = append(s.spans, ss.Spans...)
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Trace returns the spans received so far that belong to trace id.
func (s *Sink) Trace(id trace.TraceID) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range s.spans {
		if ID(sp.TraceId) == id.String() {
			out = append(out, sp)
		}
	}
	return out
}

// Take returns the spans received since the last Take and forgets them.
func (s *Sink) Take() []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.spans
	s.spans = nil
	return out
}

// JSON renders every span received so far, one line each (protojson), for a
// test to search with context; Contains searches the bytes as they were sent.
func (s *Sink) JSON() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, sp := range s.spans {
		line, err := protojson.Marshal(sp)
		if err != nil {
			line = []byte(err.Error())
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Contains reports whether any request body held text, byte for byte.
func (s *Sink) Contains(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.raw.String(), text)
}

// ParentOf is the span context a received SQS message's W3C trace attributes
// (traceparent, tracestate) name, as a consumer reads them.
func ParentOf(m sqstypes.Message) trace.SpanContext {
	c := propagation.MapCarrier{}
	for k, v := range m.MessageAttributes {
		c[k] = aws.ToString(v.StringValue)
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), c))
}

// Attr is a span attribute's value as text ("" when the span has none).
func Attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v := kv.Value.GetStringValue(); v != "" {
				return v
			}
			return strconv.FormatInt(kv.Value.GetIntValue(), 10)
		}
	}
	return ""
}

// ID is a span or trace id as the otel API prints it.
func ID(b []byte) string { return hex.EncodeToString(b) }

// ByID indexes spans by span id.
func ByID(spans []*tracepb.Span) map[string]*tracepb.Span {
	m := make(map[string]*tracepb.Span, len(spans))
	for _, s := range spans {
		m[ID(s.SpanId)] = s
	}
	return m
}

// Descends reports whether s leads back to ancestor through its parents
// (s itself excluded) among the spans of byID.
func Descends(byID map[string]*tracepb.Span, s, ancestor *tracepb.Span) bool {
	p := byID[ID(s.ParentSpanId)]
	for hops := 0; p != nil && hops < 16; hops++ {
		if p == ancestor {
			return true
		}
		p = byID[ID(p.ParentSpanId)]
	}
	return false
}

// ThrottledAttempt reports whether s is an UpdateCase attempt the service
// throttled, and fails t if such a span does not carry the 429 that made it
// one: a transport's trace test counts these to show a throttled attempt is
// visible in the trace, not only in the outcome.
func ThrottledAttempt(t testing.TB, s *tracepb.Span) bool {
	t.Helper()
	if s.Name != consumer.SpanUpdateCase || Attr(s, string(consumer.AttrClass)) != "throttle" {
		return false
	}
	if status := Attr(s, string(consumer.AttrHTTPStatus)); status != "429" {
		t.Errorf("throttled call's status %q, want 429", status)
	}
	return true
}
