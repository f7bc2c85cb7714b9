package fifosqs_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/fifosqs"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// start runs a server and creates one FIFO queue with the given visibility
// timeout (seconds) and extra attributes.
func start(t *testing.T, visibility int, extra map[string]string) (*sqs.Client, string) {
	t.Helper()
	srv, endpoint, err := fifosqs.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	client := testbed.NewSQSClient(endpoint)
	attrs := map[string]string{"FifoQueue": "true", "VisibilityTimeout": strconv.Itoa(visibility)}
	for k, v := range extra {
		attrs[k] = v
	}
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("q.fifo"), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return client, aws.ToString(out.QueueUrl)
}

// sendAll sends bodies with their groups, in order, ten per batch; the body
// is also the deduplication id.
func sendAll(t *testing.T, c *sqs.Client, url string, groups, bodies []string) {
	t.Helper()
	for len(bodies) > 0 {
		n := min(10, len(bodies))
		entries := make([]types.SendMessageBatchRequestEntry, n)
		for i := range n {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i]),
				MessageGroupId: aws.String(groups[i]), MessageDeduplicationId: aws.String(bodies[i])}
		}
		out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) > 0 || len(out.Successful) != n {
			t.Fatalf("batch: %d ok, failed %+v", len(out.Successful), out.Failed)
		}
		groups, bodies = groups[n:], bodies[n:]
	}
}

func receive(t *testing.T, c *sqs.Client, url string, max, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
		MaxNumberOfMessages: max, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

func bodies(ms []types.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = aws.ToString(m.Body)
	}
	return out
}

func del(t *testing.T, c *sqs.Client, url string, ms ...types.Message) {
	t.Helper()
	for _, m := range ms {
		if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}

// Several receivers over interleaved groups: each group is seen in send
// order, and never by two receivers at once.
func TestGroupOrderSeveralReceivers(t *testing.T) {
	c, url := start(t, 30, nil)
	const groups, per = 7, 40
	var gs, bs []string
	for i := range per {
		for g := range groups {
			gs, bs = append(gs, "g"+strconv.Itoa(g)), append(bs, fmt.Sprintf("g%d-%03d", g, i))
		}
	}
	sendAll(t, c, url, gs, bs)

	var mu sync.Mutex
	seen := map[string][]string{}
	inFlight := map[string]bool{}
	multi := 0 // receives that returned several messages of one group
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	// Every receiver gives up at the deadline: a lost message must fail the
	// test, not keep the receivers polling until go test's own timeout.
	deadline := time.Now().Add(60 * time.Second)
	for range 4 {
		wg.Go(func() {
			for {
				if time.Now().After(deadline) {
					mu.Lock()
					n := 0
					for _, s := range seen {
						n += len(s)
					}
					mu.Unlock()
					select {
					case errs <- fmt.Errorf("after 60s, %d of %d messages received", n, groups*per):
					default: // another receiver already said so
					}
					return
				}
				out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
					MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"MessageGroupId"}})
				if err != nil {
					errs <- err
					return
				}
				if len(out.Messages) == 0 {
					mu.Lock()
					done := len(seen) == groups && all(seen, per)
					mu.Unlock()
					if done {
						return
					}
					continue
				}
				byGroup := map[string]int{}
				mu.Lock()
				for _, m := range out.Messages {
					g := m.Attributes["MessageGroupId"]
					if byGroup[g] == 0 && inFlight[g] {
						errs <- fmt.Errorf("group %s handed to two receivers at once", g)
					}
					byGroup[g]++
					inFlight[g] = true
					seen[g] = append(seen[g], aws.ToString(m.Body))
				}
				for g, n := range byGroup {
					inFlight[g] = false // before the delete frees the group
					if n > 1 {
						multi++
					}
				}
				mu.Unlock()
				for _, m := range out.Messages {
					if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for g := range groups {
		got := seen["g"+strconv.Itoa(g)]
		if len(got) != per {
			t.Fatalf("group g%d: %d messages, want %d", g, len(got), per)
		}
		for i, b := range got {
			if want := fmt.Sprintf("g%d-%03d", g, i); b != want {
				t.Fatalf("group g%d position %d: %s, want %s (order %v)", g, i, b, want, got)
			}
		}
	}
	if multi == 0 {
		t.Error("no receive returned several messages of one group")
	}
}

func all(seen map[string][]string, n int) bool {
	for _, s := range seen {
		if len(s) != n {
			return false
		}
	}
	return true
}

// One receive fills from the oldest group first, in order, then the next;
// while they are in flight nothing more of either group comes out.
func TestBatchOfGroupInOneReceive(t *testing.T) {
	c, url := start(t, 30, nil)
	sendAll(t, c, url, []string{"a", "b", "a", "b", "a", "c", "a"}, []string{"a1", "b1", "a2", "b2", "a3", "c1", "a4"})
	got := bodies(receive(t, c, url, 5, 0))
	if want := []string{"a1", "a2", "a3", "a4", "b1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first receive %v, want %v", got, want)
	}
	got = bodies(receive(t, c, url, 10, 0))
	if want := []string{"c1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("second receive %v, want %v (b held while b1 is in flight)", got, want)
	}
}

func TestHoldBackUntilDeleted(t *testing.T) {
	c, url := start(t, 30, nil)
	sendAll(t, c, url, []string{"a", "a", "b"}, []string{"a1", "a2", "b1"})
	first := receive(t, c, url, 1, 0)
	if got := bodies(first); fmt.Sprint(got) != "[a1]" {
		t.Fatalf("got %v, want [a1]", got)
	}
	if got := bodies(receive(t, c, url, 10, 0)); fmt.Sprint(got) != "[b1]" {
		t.Fatalf("got %v, want [b1]: a2 must wait while a1 is in flight", got)
	}
	del(t, c, url, first...)
	if got := bodies(receive(t, c, url, 10, 0)); fmt.Sprint(got) != "[a2]" {
		t.Fatalf("after deleting a1 got %v, want [a2]", got)
	}
	attrs, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, h := attrs.Attributes["ApproximateNumberOfMessages"], attrs.Attributes["ApproximateNumberOfMessagesNotVisible"]; v != "0" || h != "2" {
		t.Fatalf("visible %s, not visible %s; want 0 and 2", v, h)
	}
}

// An expired message comes back first, with its receive count up; a long poll
// wakes for it; ChangeMessageVisibility 0 releases it at once; a stale
// receipt handle neither deletes nor extends.
func TestVisibilityExpiryAndRelease(t *testing.T) {
	c, url := start(t, 1, nil)
	sendAll(t, c, url, []string{"a", "a"}, []string{"a1", "a2"})
	first := receive(t, c, url, 1, 0)
	start := time.Now()
	// A long poll that does not wake for the expiry returns only at its end
	// (20 s); one that does, about 1 s in. Half the wait tells them apart
	// with room for a loaded machine.
	const wait = 20
	again := receive(t, c, url, 10, wait)
	if got := bodies(again); fmt.Sprint(got) != "[a1 a2]" {
		t.Fatalf("after expiry got %v, want [a1 a2]", got)
	}
	if d := time.Since(start); d > wait/2*time.Second {
		t.Errorf("long poll took %v to notice the expiry (timeout 1s, wait %d s)", d, wait)
	}
	if n := again[0].Attributes["ApproximateReceiveCount"]; n != "2" {
		t.Errorf("a1 receive count %s, want 2", n)
	}
	if n := again[1].Attributes["ApproximateReceiveCount"]; n != "1" {
		t.Errorf("a2 receive count %s, want 1", n)
	}
	// The first handle is stale now.
	del(t, c, url, first...)
	_, err := c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
		ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 30})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Fatalf("stale handle: err %v, want MessageNotInflight", err)
	}
	out, err := c.ChangeMessageVisibilityBatch(context.Background(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("a1"), ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("a2"), ReceiptHandle: again[1].ReceiptHandle, VisibilityTimeout: 0}}})
	if err != nil || len(out.Successful) != 2 {
		t.Fatalf("release: %v %+v", err, out)
	}
	third := receive(t, c, url, 10, 0)
	if got := bodies(third); fmt.Sprint(got) != "[a1 a2]" {
		t.Fatalf("after release got %v, want [a1 a2] (stale delete must not delete)", got)
	}
	if n := third[0].Attributes["ApproximateReceiveCount"]; n != "3" {
		t.Errorf("a1 receive count %s, want 3", n)
	}
	dout, err := c.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url),
		Entries: []types.DeleteMessageBatchRequestEntry{{Id: aws.String("x"), ReceiptHandle: third[0].ReceiptHandle}, {Id: aws.String("y"), ReceiptHandle: third[1].ReceiptHandle}}})
	if err != nil || len(dout.Successful) != 2 {
		t.Fatalf("delete batch: %v %+v", err, dout)
	}
	if got := receive(t, c, url, 10, 0); len(got) != 0 {
		t.Fatalf("queue not empty: %v", bodies(got))
	}
}

func TestDeduplication(t *testing.T) {
	tests := []struct {
		name    string
		content bool
		dedupID *string
	}{
		{"explicit id", false, aws.String("evt-1")},
		{"content based", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, url := start(t, 30, map[string]string{"ContentBasedDeduplication": strconv.FormatBool(tt.content)})
			var ids []string
			for range 2 {
				out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url),
					MessageBody: aws.String("same"), MessageGroupId: aws.String("g"), MessageDeduplicationId: tt.dedupID})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, aws.ToString(out.MessageId))
			}
			if ids[0] != ids[1] {
				t.Errorf("duplicate got a new message id: %v", ids)
			}
			if got := receive(t, c, url, 10, 0); len(got) != 1 {
				t.Fatalf("%d messages on the queue, want 1", len(got))
			}
		})
	}
}

// The SDK checks the body MD5 of every send and receive; the attribute MD5 is
// compared here with an independent encoding of SQS's algorithm.
func TestMD5sAndMessageAttributes(t *testing.T) {
	c, url := start(t, 30, nil)
	attrs := map[string]types.MessageAttributeValue{
		"casebridge-error": {DataType: aws.String("String"), StringValue: aws.String(`{"class":"validation"}`)},
		"n":                {DataType: aws.String("Number"), StringValue: aws.String("42")},
		"bin":              {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
	}
	body := `{"caseId":"c-1","fields":{"status":"<closed> & ünïcode"}}`
	sent, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url),
		MessageBody: aws.String(body), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"), MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(sent.MD5OfMessageAttributes), attributesMD5(attrs); got != want {
		t.Fatalf("send MD5OfMessageAttributes %s, want %s", got, want)
	}
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"SequenceNumber", "MessageDeduplicationId"}})
	if err != nil {
		t.Fatal(err)
	}
	m := out.Messages[0]
	if aws.ToString(m.Body) != body || aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) {
		t.Fatalf("received %q md5 %s", aws.ToString(m.Body), aws.ToString(m.MD5OfMessageAttributes))
	}
	if string(m.MessageAttributes["bin"].BinaryValue) != "\x00\x01\x02\xff" || aws.ToString(m.MessageAttributes["n"].StringValue) != "42" {
		t.Fatalf("attributes changed: %+v", m.MessageAttributes)
	}
	if m.Attributes["SequenceNumber"] != aws.ToString(sent.SequenceNumber) || m.Attributes["MessageDeduplicationId"] != "d" || len(m.Attributes) != 2 {
		t.Fatalf("system attributes %v (sent sequence %s)", m.Attributes, aws.ToString(sent.SequenceNumber))
	}
}
