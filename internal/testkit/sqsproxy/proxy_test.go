package sqsproxy_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// bed is goaws behind a proxy, with an SDK client pointed at the proxy.
type bed struct {
	proxy  *sqsproxy.Proxy
	client *sqs.Client
	// once is the same client with the SDK's retries off, so one call is one
	// attempt when a test counts failures.
	once         *sqs.Client
	std, dlq, ff string
}

func newBed(t *testing.T) *bed {
	t.Helper()
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{
		{Name: "work", VisibilityTimeout: 30},
		{Name: "work-dlq"},
		{Name: "work.fifo", VisibilityTimeout: 30},
	}})
	g, endpoint := s.Goaws, s.Endpoint
	return &bed{
		proxy:  s.Proxy,
		client: testbed.NewSQSClient(endpoint),
		once:   testbed.NewSQSClient(endpoint, func(o *sqs.Options) { o.RetryMaxAttempts = 1 }),
		std:    g.QueueURLT(t, "work"),
		dlq:    g.QueueURLT(t, "work-dlq"),
		ff:     g.QueueURLT(t, "work.fifo"),
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (b *bed) send(t *testing.T, queue, body string, group, dedup *string) string {
	t.Helper()
	out, err := b.client.SendMessage(testCtx(t), &sqs.SendMessageInput{
		QueueUrl: &queue, MessageBody: &body, MessageGroupId: group, MessageDeduplicationId: dedup,
		MessageAttributes: map[string]types.MessageAttributeValue{
			"source": {DataType: aws.String("String"), StringValue: aws.String("test <&>")},
		},
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return aws.ToString(out.MessageId)
}

// receiveOne receives exactly one message (waiting up to wait seconds) asking
// for all system attributes.
func (b *bed) receiveOne(t *testing.T, queue string, wait int32) types.Message {
	t.Helper()
	out, err := b.client.ReceiveMessage(testCtx(t), &sqs.ReceiveMessageInput{
		QueueUrl: &queue, WaitTimeSeconds: wait, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(out.Messages))
	}
	return out.Messages[0]
}

func TestReceiveCountIncrementsOnRedelivery(t *testing.T) {
	b := newBed(t)
	ctx := testCtx(t)
	// HTML-special characters: the proxy re-encodes JSON and must not change
	// the body or attributes the SDK checks MD5s of.
	body := `{"caseId":"<a&b>"}`
	id := b.send(t, b.std, body, nil, nil)

	var first string
	for want := 1; want <= 3; want++ {
		m := b.receiveOne(t, b.std, 5)
		if aws.ToString(m.MessageId) != id || aws.ToString(m.Body) != body {
			t.Fatalf("receive %d: got %s %q", want, aws.ToString(m.MessageId), aws.ToString(m.Body))
		}
		if got := m.Attributes["ApproximateReceiveCount"]; got != strconv.Itoa(want) {
			t.Fatalf("receive %d: ApproximateReceiveCount = %q", want, got)
		}
		if aws.ToString(m.MessageAttributes["source"].StringValue) != "test <&>" {
			t.Fatalf("message attribute changed: %+v", m.MessageAttributes)
		}
		if want == 1 {
			first = m.Attributes["ApproximateFirstReceiveTimestamp"]
		} else if got := m.Attributes["ApproximateFirstReceiveTimestamp"]; got != first {
			t.Fatalf("ApproximateFirstReceiveTimestamp moved from %s to %s", first, got)
		}
		// Release at once the first time, by visibility expiry the second.
		vis := int32(want - 1)
		if _, err := b.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &b.std, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: vis,
		}); err != nil {
			t.Fatalf("change visibility: %v", err)
		}
	}
}

func TestSystemAttributesOnlyWhenRequested(t *testing.T) {
	b := newBed(t)
	tests := []struct {
		name      string
		sys       []types.MessageSystemAttributeName
		legacy    []types.QueueAttributeName
		wantNames []string
	}{
		{name: "none requested", wantNames: nil},
		{name: "one", sys: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}, wantNames: []string{"ApproximateReceiveCount"}},
		{name: "legacy parameter", legacy: []types.QueueAttributeName{"SentTimestamp"}, wantNames: []string{"SentTimestamp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.send(t, b.std, tc.name, nil, nil)
			out, err := b.client.ReceiveMessage(testCtx(t), &sqs.ReceiveMessageInput{
				QueueUrl: &b.std, WaitTimeSeconds: 2,
				MessageSystemAttributeNames: tc.sys, AttributeNames: tc.legacy,
			})
			if err != nil || len(out.Messages) != 1 {
				t.Fatalf("receive: %v (%d messages)", err, len(out.Messages))
			}
			m := out.Messages[0]
			if len(m.Attributes) != len(tc.wantNames) {
				t.Fatalf("attributes %v, want exactly %v", m.Attributes, tc.wantNames)
			}
			for _, n := range tc.wantNames {
				if m.Attributes[n] == "" {
					t.Fatalf("attribute %s missing from %v", n, m.Attributes)
				}
			}
			if _, err := b.client.DeleteMessage(testCtx(t), &sqs.DeleteMessageInput{QueueUrl: &b.std, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFIFOAttributesAndBatchSend(t *testing.T) {
	b := newBed(t)
	ctx := testCtx(t)
	single := b.send(t, b.ff, "m1", aws.String("g1"), aws.String("d1"))
	batch, err := b.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &b.ff, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("m2"), MessageGroupId: aws.String("g1"), MessageDeduplicationId: aws.String("d2")},
		{Id: aws.String("b"), MessageBody: aws.String("m3"), MessageGroupId: aws.String("g1"), MessageDeduplicationId: aws.String("d3")},
	}})
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	if len(batch.Successful) != 2 || len(batch.Failed) != 0 {
		t.Fatalf("batch: %d successful, %d failed; want 2, 0", len(batch.Successful), len(batch.Failed))
	}
	wantIDs := []string{single, aws.ToString(batch.Successful[0].MessageId), aws.ToString(batch.Successful[1].MessageId)}

	var lastSeq string
	for i, body := range []string{"m1", "m2", "m3"} {
		m := b.receiveOne(t, b.ff, 5)
		a := m.Attributes
		if aws.ToString(m.Body) != body || aws.ToString(m.MessageId) != wantIDs[i] {
			t.Fatalf("message %d: got %s %q, want %s %q", i, aws.ToString(m.MessageId), aws.ToString(m.Body), wantIDs[i], body)
		}
		if a["MessageGroupId"] != "g1" || a["MessageDeduplicationId"] != "d"+strconv.Itoa(i+1) {
			t.Fatalf("message %d: attributes %v lack group g1 / dedup d%d", i, a, i+1)
		}
		if a["SequenceNumber"] <= lastSeq {
			t.Fatalf("message %d: SequenceNumber %q not after %q", i, a["SequenceNumber"], lastSeq)
		}
		lastSeq = a["SequenceNumber"]
		if _, err := b.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &b.ff, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFIFODeduplication(t *testing.T) {
	b := newBed(t)
	first := b.send(t, b.ff, "same", aws.String("g"), aws.String("evt-1"))
	again := b.send(t, b.ff, "same", aws.String("g"), aws.String("evt-1"))
	if first != again {
		t.Fatalf("duplicate send got MessageId %s, want the first %s", again, first)
	}
	m := b.receiveOne(t, b.ff, 2)
	if _, err := b.client.DeleteMessage(testCtx(t), &sqs.DeleteMessageInput{QueueUrl: &b.ff, ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	out, err := b.client.ReceiveMessage(testCtx(t), &sqs.ReceiveMessageInput{QueueUrl: &b.ff, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("after deleting the one message: %v, %d more messages (duplicate enqueued)", err, len(out.Messages))
	}
}

func TestFIFOVisibilityZeroReleasesGroup(t *testing.T) {
	b := newBed(t)
	id := b.send(t, b.ff, "x", aws.String("g"), aws.String("x1"))
	m := b.receiveOne(t, b.ff, 2)
	if _, err := b.client.ChangeMessageVisibility(testCtx(t), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &b.ff, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatal(err)
	}
	// goaws alone keeps the group locked forever here.
	m = b.receiveOne(t, b.ff, 5)
	if aws.ToString(m.MessageId) != id || m.Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("got %s count %s, want %s count 2", aws.ToString(m.MessageId), m.Attributes["ApproximateReceiveCount"], id)
	}
}

func TestChangeMessageVisibilityBatch(t *testing.T) {
	b := newBed(t)
	ctx := testCtx(t)
	id := b.send(t, b.std, "v", nil, nil)
	m := b.receiveOne(t, b.std, 2)
	out, err := b.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &b.std, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("1"), ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 0},
	}})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "0" ||
		len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "1" || !out.Failed[0].SenderFault {
		t.Fatalf("successful %+v failed %+v; want entry 0 ok, entry 1 failed by sender", out.Successful, out.Failed)
	}
	if again := b.receiveOne(t, b.std, 2); aws.ToString(again.MessageId) != id {
		t.Fatalf("message not visible again after batch visibility 0")
	}

	_, err = b.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &b.std, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("x"), ReceiptHandle: aws.String("h1")}, {Id: aws.String("x"), ReceiptHandle: aws.String("h2")},
	}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Fatalf("repeated ids: got %v, want BatchEntryIdsNotDistinct", err)
	}
}

func TestDownCutsCallsAndRecovers(t *testing.T) {
	b := newBed(t)
	ctx := testCtx(t)
	id := b.send(t, b.std, "survives", nil, nil)
	// Take the message in flight so the long poll below has nothing to return.
	b.receiveOne(t, b.std, 2)

	// The longest long poll SQS allows: a poll that Down does not cut ends
	// (empty, or failed) only at its end, 20 s on; one that Down cuts fails at
	// once. Half the wait tells the two apart with room for a loaded machine.
	const wait = 20 * time.Second
	polled := make(chan error, 1)
	go func() {
		_, err := b.once.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &b.std, WaitTimeSeconds: int32(wait / time.Second)})
		polled <- err
	}()
	poll.WaitFor(t, 30*time.Second, "the long poll to reach the proxy", func() bool { return b.proxy.Calls("ReceiveMessage") == 2 })
	start := time.Now()
	b.proxy.Down(true)
	select {
	case err := <-polled:
		if err == nil {
			t.Fatal("long poll in flight survived Down")
		}
	case <-time.After(wait + 30*time.Second):
		t.Fatalf("long poll still open %v after Down", wait+30*time.Second)
	}
	if d := time.Since(start); d > wait/2 {
		t.Fatalf("long poll took %v to fail after Down (its wait was %v): Down did not cut it", d, wait)
	}
	if _, err := b.once.ListQueues(ctx, &sqs.ListQueuesInput{}); err == nil {
		t.Fatal("ListQueues succeeded while down")
	}
	if n := b.proxy.Calls("ListQueues"); n != 0 {
		t.Fatalf("Calls(ListQueues) = %d while down, want 0", n)
	}

	b.proxy.Down(false)
	if _, err := b.once.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("ListQueues after recovery: %v", err)
	}
	out, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &b.std, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	// Still in flight from the first receive: not visible, not lost.
	if out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "1" || out.Attributes["ApproximateNumberOfMessages"] != "0" {
		t.Fatalf("message %s not in flight across the outage: %v", id, out.Attributes)
	}
}

func TestQueueDepthCountsVisibleMessagesOnly(t *testing.T) {
	b := newBed(t)
	ctx := testCtx(t)
	b.send(t, b.std, "a", nil, nil)
	b.send(t, b.std, "b", nil, nil)
	if out, err := b.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &b.std, MaxNumberOfMessages: 1}); err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive one: %v", err)
	}
	tests := []struct {
		names []types.QueueAttributeName
		want  map[string]string
	}{
		{names: []types.QueueAttributeName{"ApproximateNumberOfMessages"}, want: map[string]string{"ApproximateNumberOfMessages": "1"}},
		{names: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}, want: map[string]string{"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "1"}},
	}
	for _, tc := range tests {
		out, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &b.std, AttributeNames: tc.names})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Attributes) != len(tc.want) {
			t.Fatalf("asked %v: got %v, want %v", tc.names, out.Attributes, tc.want)
		}
		for k, v := range tc.want {
			if out.Attributes[k] != v {
				t.Fatalf("asked %v: got %v, want %v", tc.names, out.Attributes, tc.want)
			}
		}
	}
}

func TestFailActionFailsExactlyN(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
		n      int
		sends  int
		failed int
	}{
		{name: "next two", status: 500, code: "InternalError", n: 2, sends: 4, failed: 2},
		{name: "throttled once", status: 400, code: "RequestThrottled", n: 1, sends: 3, failed: 1},
		{name: "until cleared", status: 503, code: "ServiceUnavailable", n: -1, sends: 3, failed: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t)
			ctx := testCtx(t)
			b.proxy.FailAction("SendMessage", "-dlq", tc.status, tc.code, tc.n)
			failed := 0
			for i := range tc.sends {
				_, err := b.once.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b.dlq, MessageBody: aws.String("dead " + strconv.Itoa(i))})
				if err == nil {
					continue
				}
				failed++
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
					t.Fatalf("send %d: error %v, want API error %s", i, err, tc.code)
				}
				// Other queues are untouched by a rule for the DLQ.
				if _, err := b.once.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b.std, MessageBody: aws.String("ok")}); err != nil {
					t.Fatalf("send to work queue: %v", err)
				}
			}
			if failed != tc.failed {
				t.Fatalf("%d of %d DLQ sends failed, want %d", failed, tc.sends, tc.failed)
			}
			if got, want := b.proxy.Calls("SendMessage"), tc.sends+tc.failed; got != want {
				t.Fatalf("Calls(SendMessage) = %d, want %d", got, want)
			}
			b.proxy.ClearFaults()
			if _, err := b.once.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b.dlq, MessageBody: aws.String("after")}); err != nil {
				t.Fatalf("send after ClearFaults: %v", err)
			}
			out, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &b.dlq, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages"}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := out.Attributes["ApproximateNumberOfMessages"], strconv.Itoa(tc.sends-tc.failed+1); got != want {
				t.Fatalf("DLQ holds %s messages, want %s (failed sends must not reach goaws)", got, want)
			}
		})
	}
}
