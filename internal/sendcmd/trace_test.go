package sendcmd

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/publish"
)

// ctxSender records the span context each SendBatch call is given.
type ctxSender struct{ seen []trace.SpanContext }

func (s *ctxSender) SendBatch(ctx context.Context, msgs []*publish.Message) (publish.BatchResult, error) {
	s.seen = append(s.seen, trace.SpanContextFromContext(ctx))
	return publish.BatchResult{Results: make([]publish.Result, len(msgs)), Sent: len(msgs)}, nil
}

// TestSendLinesKeepsTraceContext: every batch is sent with the caller's ctx,
// so the publisher injects the caller's span into each message.
func TestSendLinesKeepsTraceContext(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	line := `{"caseId":"7a1d6c3e-0000-4000-8000-000000000001","fields":{"status":"closed"}}` + "\n"
	s := &ctxSender{}
	sum, err := SendLines(ctx, s, strings.NewReader(strings.Repeat(line, Chunk+1)), Chunk+1, io.Discard)
	if err != nil || sum.Sent != Chunk+1 || len(s.seen) != 2 {
		t.Fatalf("SendLines = %+v, %v; %d batches", sum, err, len(s.seen))
	}
	for i, got := range s.seen {
		if !got.Equal(sc) {
			t.Errorf("batch %d sent with span context %v, want the caller's %v", i, got, sc)
		}
	}
}
