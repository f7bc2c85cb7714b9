package publish

import (
	"context"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/testkit/otlpsink"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestPublisherInjectsTraceContext: a publisher sending from inside a span
// (single messages and batches, through the real SDK to goaws) gives every
// message a traceparent naming that span, and its tracestate; without a span
// the messages carry no attributes at all.
func TestPublisherInjectsTraceContext(t *testing.T) {
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "traced"}, {Name: "plain"}}})
	c := testbed.NewSQSClient(s.Endpoint)
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background()) //nolint:errcheck

	ts, err := trace.ParseTraceState("vendor=abc")
	if err != nil {
		t.Fatal(err)
	}
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	})
	ctx, span := tp.Tracer("publisher").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "publish")
	defer span.End()

	msgs := func(n int) []*Message {
		var out []*Message
		for i := range n {
			m, err := Update(caseID).Set("priority", i).Message()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}

	url := s.Goaws.QueueURLT(t, "traced")
	p := NewSQS(c, url)
	if _, err := p.Send(ctx, msgs(1)[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendBatch(ctx, msgs(12)); err != nil {
		t.Fatal(err)
	}
	got := receiveAllAttrs(t, c, url, 13)
	for _, m := range got {
		sc := otlpsink.ParentOf(m)
		if sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() || !sc.IsSampled() {
			t.Errorf("message %s: parent %v, want the publisher's span %v", aws.ToString(m.MessageId), sc, span.SpanContext())
		}
		if got := sc.TraceState().Get("vendor"); got != "abc" {
			t.Errorf("tracestate vendor = %q, want abc", got)
		}
		if len(m.MessageAttributes) != 2 || aws.ToString(m.MessageAttributes[TraceparentAttribute].DataType) != "String" {
			t.Errorf("attributes %v, want traceparent and tracestate as String", m.MessageAttributes)
		}
	}

	url = s.Goaws.QueueURLT(t, "plain")
	p = NewSQS(c, url)
	if _, err := p.Send(context.Background(), msgs(1)[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendBatch(context.Background(), msgs(2)); err != nil {
		t.Fatal(err)
	}
	for _, m := range receiveAllAttrs(t, c, url, 3) {
		if len(m.MessageAttributes) != 0 {
			t.Errorf("untraced message has attributes %v", m.MessageAttributes)
		}
	}
}

func receiveAllAttrs(t *testing.T, c *sqs.Client, url string, want int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	for len(got) < want {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive after %d of %d: %v", len(got), want, err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("received %d of %d", len(got), want)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

// captureSQS and captureSNS keep the inputs a Publisher sends.
type captureSQS struct {
	single []*sqs.SendMessageInput
	batch  []*sqs.SendMessageBatchInput
}

func (c *captureSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	c.single = append(c.single, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (c *captureSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.batch = append(c.batch, in)
	return &sqs.SendMessageBatchOutput{}, nil
}

type captureSNS struct{ in []*sns.PublishInput }

func (c *captureSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	c.in = append(c.in, in)
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

func spanContext(t *testing.T) (context.Context, trace.Span) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) }) //nolint:errcheck
	return tp.Tracer("publisher").Start(context.Background(), "publish")
}

// TestTraceContextInputs: without a span (or with an invalid one) the SDK
// inputs have no MessageAttributes, as before tracing; with one, SNS
// publishes carry it too; a message whose attributes would take it past
// SQS's size limit is sent without them.
func TestTraceContextInputs(t *testing.T) {
	m, _ := Update(caseID).Set("status", "closed").Message()
	for name, ctx := range map[string]context.Context{
		"no span":      context.Background(),
		"invalid span": trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}),
	} {
		q := &captureSQS{}
		p := NewSQS(q, "https://sqs.example/q.fifo")
		if _, err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := p.SendBatch(ctx, []*Message{m}); err != nil {
			t.Fatal(err)
		}
		if q.single[0].MessageAttributes != nil || q.batch[0].Entries[0].MessageAttributes != nil {
			t.Errorf("%s: attributes added: %v %v", name, q.single[0].MessageAttributes, q.batch[0].Entries[0].MessageAttributes)
		}
		n := &captureSNS{}
		if _, err := NewSNS(n, "arn:aws:sns:us-east-1:1:t").Send(ctx, m); err != nil || n.in[0].MessageAttributes != nil {
			t.Errorf("%s: SNS attributes %v, %v", name, n.in[0].MessageAttributes, err)
		}
	}

	ctx, span := spanContext(t)
	defer span.End()
	n := &captureSNS{}
	if _, err := NewSNS(n, "arn:aws:sns:us-east-1:1:t").SendBatch(ctx, []*Message{m, m}); err != nil {
		t.Fatal(err)
	}
	for _, in := range n.in {
		tp := aws.ToString(in.MessageAttributes[TraceparentAttribute].StringValue)
		if !strings.Contains(tp, span.SpanContext().TraceID().String()) || aws.ToString(in.MessageAttributes[TraceparentAttribute].DataType) != "String" {
			t.Errorf("SNS traceparent %q, want trace %s", tp, span.SpanContext().TraceID())
		}
		if _, ok := in.MessageAttributes[TracestateAttribute]; ok {
			t.Error("tracestate sent though the span has none")
		}
	}

	// A body so big the attributes would not fit: sent without them.
	big := traceContext(ctx)
	if big.fits(0, MaxBatchBytes-big.size()+1) || !big.fits(0, MaxBatchBytes-big.size()) {
		t.Error("size limit misjudged")
	}
	if big.fits(MaxMessageAttributes-len(big)+1, 10) || !big.fits(MaxMessageAttributes-len(big), 10) {
		t.Error("attribute count limit misjudged")
	}
	if got := big.sqsAttributes(nil, MaxBatchBytes); got != nil {
		t.Errorf("oversized message got attributes %v", got)
	}
}

// TestChunksCountAttributes: a batch's size counts the trace attributes, so
// bodies that fit alone are split when their attributes do not.
func TestChunksCountAttributes(t *testing.T) {
	ctx, span := spanContext(t)
	defer span.End()
	tc := traceContext(ctx)
	half := strings.Repeat("x", MaxBatchBytes/2)
	plain := []entry{{body: half}, {body: half}}
	if got := chunks(plain); len(got) != 1 {
		t.Fatalf("untraced: %d chunks, want 1", len(got))
	}
	traced := []entry{{body: half, attrs: tc.sqsAttributes(nil, len(half))}, {body: half, attrs: tc.sqsAttributes(nil, len(half))}}
	if got := chunks(traced); len(got) != 2 {
		t.Errorf("traced: %d chunks, want 2", len(got))
	}
	if traced[0].size() != len(half)+tc.size() {
		t.Errorf("entry size %d, want %d", traced[0].size(), len(half)+tc.size())
	}
}
