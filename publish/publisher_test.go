package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func receiveAll(t *testing.T, c *sqs.Client, url string, want int) []sqstypes.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []sqstypes.Message
	for len(got) < want {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("receive after %d of %d: %v", len(got), want, err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func TestPublisherSQS(t *testing.T) {
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "std"}, {Name: "q.fifo"}}})
	c := testbed.NewSQSClient(s.Endpoint)
	mp := mapper.New(mapper.Config{DefaultDomainID: "d"})
	ctx := context.Background()

	t.Run("standard", func(t *testing.T) {
		url := s.Goaws.QueueURLT(t, "std")
		p := NewSQS(c, url)
		m, _ := Update(caseID).Set("status", "closed").Message()
		if id, err := p.Send(ctx, m); err != nil || id == "" {
			t.Fatalf("Send = %q, %v", id, err)
		}
		var batch []*Message
		for i := range 23 {
			m, err := Update(caseID).Set("priority", i).Message()
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, m)
		}
		batch = append(batch, &Message{CaseID: caseID}) // no fields: refused, not sent
		res, err := p.SendBatch(ctx, batch)
		if res.Sent != 23 || res.Failed != 1 || !IsRejection(err) || !IsRejection(res.Results[23].Err) {
			t.Fatalf("SendBatch = %+v, %v", res, err)
		}
		got := receiveAll(t, c, url, 24)
		seen := map[float64]bool{}
		for _, r := range got {
			mapped, err := mp.Map([]byte(aws.ToString(r.Body)))
			if err != nil {
				t.Fatalf("mapper rejected %s: %v", aws.ToString(r.Body), err)
			}
			if v, ok := mapped.Input.Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue); ok {
				seen[v.Value] = true
			}
		}
		if len(got) != 24 || len(seen) != 23 {
			t.Errorf("received %d messages with %d distinct priorities, want 24 and 23", len(got), len(seen))
		}
	})

	t.Run("fifo", func(t *testing.T) {
		url := s.Goaws.QueueURLT(t, "q.fifo")
		p := NewSQS(c, url)
		a, _ := Update(caseID).Set("status", "pending").EventID("evt-a").Message()
		b, _ := Update("7a1d6c3e-0000-4000-8000-000000000002").Set("status", "closed").Message()
		if _, err := p.SendBatch(ctx, []*Message{a, b}); err != nil {
			t.Fatal(err)
		}
		got := receiveAll(t, c, url, 2)
		bodyB, _ := Encode(b)
		want := map[string]string{ // group → dedup id
			caseID:                                 "evt-a",
			"7a1d6c3e-0000-4000-8000-000000000002": DeduplicationID(b, bodyB),
		}
		for _, r := range got {
			g := r.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
			d := r.Attributes[string(sqstypes.MessageSystemAttributeNameMessageDeduplicationId)]
			if want[g] != d || d == "" {
				t.Errorf("group %q dedup %q, want dedup %q", g, d, want[g])
			}
			delete(want, g)
		}
		// Same content again: deduplicated by the content hash.
		if _, err := p.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 0 {
			t.Errorf("duplicate was delivered: %d messages, %v", len(out.Messages), err)
		}
	})
}

func TestPublisherSNS(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Topics: []testbed.Topic{{
		Name:          "case-events",
		Subscriptions: []testbed.Subscription{{QueueName: "from-sns", Raw: false}},
	}}})
	snsClient := sns.NewFromConfig(testbed.AWSConfig(""), func(o *sns.Options) { o.BaseEndpoint = aws.String(g.Endpoint) })
	topics, err := snsClient.ListTopics(context.Background(), &sns.ListTopicsInput{})
	if err != nil || len(topics.Topics) != 1 {
		t.Fatalf("ListTopics = %+v, %v", topics, err)
	}
	p := NewSNS(snsClient, aws.ToString(topics.Topics[0].TopicArn))
	m, _ := Update(caseID).Set("status", "closed").By(CustomEntity("billing")).Message()
	res, err := p.SendBatch(context.Background(), []*Message{m, m})
	if err != nil || res.Sent != 2 || res.Results[0].MessageID == "" {
		t.Fatalf("SendBatch = %+v, %v", res, err)
	}
	got := receiveAll(t, testbed.NewSQSClient(g.Endpoint), g.QueueURLT(t, "from-sns"), 2)
	mp := mapper.New(mapper.Config{DefaultDomainID: "d"})
	for _, r := range got {
		mapped, err := mp.Map([]byte(aws.ToString(r.Body)))
		if err != nil || mapped.Envelope != mapper.EnvelopeSNS || *mapped.Input.CaseId != caseID {
			t.Fatalf("Map(%s) = %+v, %v", aws.ToString(r.Body), mapped, err)
		}
	}
}

// flakySQS fails chosen entries of SendMessageBatch a number of times; it
// checks the retry policy (which entries are sent again), which no local SQS
// server can be made to exercise.
type flakySQS struct {
	mu        sync.Mutex
	failTimes map[string]int  // body → remaining failures
	sender    map[string]bool // body → failures are the sender's fault
	calls     [][]string      // bodies per call
}

func (f *flakySQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, errors.New("not used")
}

func (f *flakySQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	var bodies []string
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		bodies = append(bodies, body)
		if f.failTimes[body] > 0 {
			f.failTimes[body]--
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("boom"), SenderFault: f.sender[body]})
		}
	}
	f.calls = append(f.calls, bodies)
	return out, nil
}

func TestSendBatchRetriesOnlyFailedEntries(t *testing.T) {
	var msgs []*Message
	var bodies []string
	for i := range 3 {
		m, _ := Update(caseID).Set("n", i).Message()
		b, _ := Encode(m)
		msgs, bodies = append(msgs, m), append(bodies, string(b))
	}
	f := &flakySQS{
		failTimes: map[string]int{bodies[1]: 2, bodies[2]: 1},
		sender:    map[string]bool{bodies[2]: true},
	}
	p := NewSQS(f, "https://sqs.example/q", WithRetry(5, time.Millisecond, time.Millisecond))
	res, err := p.SendBatch(context.Background(), msgs)
	if res.Sent != 2 || res.Failed != 1 || res.Results[1].Err != nil {
		t.Fatalf("SendBatch = %+v, %v", res, err)
	}
	var ee *EntryError
	if !errors.As(err, &ee) || !ee.SenderFault {
		t.Errorf("err = %v, want the sender-fault entry error", err)
	}
	want := [][]string{bodies, {bodies[1]}, {bodies[1]}}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Errorf("calls = %d %v, want %d (all, then only the retryable failed entry twice)", len(f.calls), f.calls, len(want))
	}

	// Attempts are bounded.
	f = &flakySQS{failTimes: map[string]int{bodies[0]: 100}}
	p = NewSQS(f, "https://sqs.example/q", WithRetry(3, time.Millisecond, time.Millisecond))
	if res, err := p.SendBatch(context.Background(), msgs[:1]); err == nil || len(f.calls) != 3 || res.Failed != 1 {
		t.Errorf("after 3 attempts: %+v, %v, %d calls", res, err, len(f.calls))
	}
}

func TestChunks(t *testing.T) {
	var es []entry
	for range 25 {
		es = append(es, entry{body: "x"})
	}
	es = append(es, entry{body: string(make([]byte, MaxBatchBytes))})
	got := chunks(es)
	if len(got) != 4 || len(got[0]) != 10 || len(got[2]) != 5 || len(got[3]) != 1 {
		t.Errorf("chunk sizes: %d chunks", len(got))
	}
}

func TestFIFOIDs(t *testing.T) {
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct{ in, wantPrefix string }{
		{caseID, caseID},
		{string(long), "case-"},
		{"has space", "case-"},
		{"ünïcode", "case-"},
	}
	for _, tt := range tests {
		got := GroupID(&Message{CaseID: tt.in})
		if len(got) > 128 || got[:len(tt.wantPrefix)] != tt.wantPrefix || !fifoChars(got) {
			t.Errorf("GroupID(%q) = %q", tt.in, got)
		}
	}
}
