package dlqtool

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const (
	domain   = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	case1    = "7a1d6c3e-0000-4000-8000-000000000001"
	noSuch   = "7a1d6c3e-0000-4000-8000-0000000000ff"
	traceKey = "trace-id"
)

type bed struct {
	sqs    *testbed.SQS
	client *sqs.Client
	src    string
	dlq    string
}

// newBed dead-letters real messages through the real consumer core, with
// the Cases simulator answering, so the DLQ holds exactly what casebridge
// puts there: 2 invalid-message, 1 validation, 2 not-found.
func newBed(t *testing.T, fifo bool) *bed {
	t.Helper()
	suffix := ""
	if fifo {
		suffix = ".fifo"
	}
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src" + suffix}, {Name: "dlq" + suffix}}})
	b := &bed{sqs: s, client: testbed.NewSQSClient(s.Endpoint)}
	b.src, b.dlq = s.Goaws.QueueURLT(t, "src"+suffix), s.Goaws.QueueURLT(t, "dlq"+suffix)

	sim := casesim.New(casesim.Options{})
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.LoadSeedFile(filepath.Join(root, "examples", "casesim-seed.json")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	core, err := consumer.New(consumer.Options{
		Cases:  testbed.NewCasesClient(hs.URL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
		DLQ:    b.client,
		DLQURL: b.dlq,
	})
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		`not json`,
		`{"caseId":"` + case1 + `"}`,
		`{"domainId":"` + domain + `","caseId":"` + case1 + `","fields":{"nosuchfield":"x"}}`,
		`{"domainId":"` + domain + `","caseId":"` + noSuch + `","fields":{"status":"closed"}}`,
		`{"domainId":"` + domain + `","caseId":"` + noSuch + `","fields":{"status":"pending","summary":"secret"}}`,
	}
	// The Lambda records the queue's ARN, the worker its URL; use both.
	source := b.src
	if fifo {
		source = testbed.QueueARN("src" + suffix)
	}
	for i, body := range bodies {
		out := core.Handle(context.Background(), consumer.Message{
			ID: "src-" + strconv.Itoa(i), Body: body, SourceQueue: source, GroupID: "g-" + strconv.Itoa(i),
			Attributes: map[string]sqstypes.MessageAttributeValue{
				traceKey: {DataType: aws.String("String"), StringValue: aws.String("t-" + strconv.Itoa(i))},
			},
		})
		if out.Kind != consumer.DeadLettered {
			t.Fatalf("message %d: outcome %v %s %v", i, out.Kind, out.Reason, out.Err)
		}
	}
	return b
}

func (b *bed) visible(t *testing.T, url string) int {
	t.Helper()
	out, err := b.client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}

func (b *bed) tool() *Tool {
	return New(b.client, b.dlq, Options{Wait: time.Second, Hold: 30 * time.Second})
}

func TestStatsCountsAndRestoresVisibility(t *testing.T) {
	b := newBed(t, false)
	s, err := b.tool().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(s.ByCode)
	want := `[{"class":"invalid-message","count":2},{"class":"not-found","code":"ResourceNotFoundException","count":2},{"class":"validation","code":"ValidationException","count":1}]`
	if s.Total != 5 || s.Depth != 5 || string(got) != want || s.OldestFailure.IsZero() {
		t.Errorf("stats = %d %s (oldest %v), want 5 %s", s.Total, got, s.OldestFailure, want)
	}
	if n := b.visible(t, b.dlq); n != 5 {
		t.Errorf("%d messages visible after stats, want all 5", n)
	}
}

func TestPeek(t *testing.T) {
	b := newBed(t, false)
	ctx := context.Background()
	all, err := b.tool().Peek(ctx, PeekOptions{})
	if err != nil || len(all) != 5 {
		t.Fatalf("Peek = %d entries, %v", len(all), err)
	}
	var notFound int
	for _, e := range all {
		if e.Reason == nil || e.Reason.SourceQueue != b.src || e.Body != "" {
			t.Errorf("entry %+v: want a reason naming the source and no body", e)
		}
		if e.Reason.Class == contract.ReasonNotFound {
			notFound++
			if e.CaseID != noSuch || e.DomainID != domain || len(e.Fields) == 0 || e.Fields[0].ID != "status" || e.Fields[0].Value != nil {
				t.Errorf("not-found entry = %+v (values must be hidden)", e)
			}
		}
	}
	if notFound != 2 {
		t.Errorf("%d not-found entries, want 2", notFound)
	}
	some, err := b.tool().Peek(ctx, PeekOptions{Limit: 2, ShowValues: true})
	if err != nil || len(some) != 2 || some[0].Body == "" {
		t.Fatalf("Peek(limit 2, values) = %+v, %v", some, err)
	}
	if n := b.visible(t, b.dlq); n != 5 {
		t.Errorf("%d messages visible after peek, want all 5", n)
	}
}

func TestRedrive(t *testing.T) {
	b := newBed(t, false)
	ctx := context.Background()

	dry, err := b.tool().Redrive(ctx, RedriveOptions{Class: contract.ReasonNotFound, DryRun: true})
	if err != nil || dry.Matched != 2 || dry.Moved != 0 || dry.Scanned != 5 {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if n := b.visible(t, b.dlq); n != 5 {
		t.Fatalf("dry run changed the DLQ: %d visible", n)
	}

	// A failing send leaves the message on the DLQ.
	b.sqs.Proxy.FailAction("SendMessage", "/src", 500, "InternalError", 100)
	failed, err := b.tool().Redrive(ctx, RedriveOptions{Code: "ValidationException", Rate: 1000})
	b.sqs.Proxy.ClearFaults()
	if err != nil || failed.Failed != 1 || failed.Moved != 0 || len(failed.Failures) != 1 || failed.Failures[0].DeleteFailed {
		t.Fatalf("redrive with failing sends = %+v, %v", failed, err)
	}
	if n := b.visible(t, b.dlq); n != 5 {
		t.Fatalf("a failed send removed a message from the DLQ: %d visible", n)
	}

	var calls []Progress
	rep, err := b.tool().Redrive(ctx, RedriveOptions{Class: contract.ReasonNotFound, Limit: 1, Progress: func(p Progress) { calls = append(calls, p) }})
	if err != nil || rep.Moved != 1 || rep.Matched != 1 {
		t.Fatalf("redrive = %+v, %v", rep, err)
	}
	if len(calls) == 0 || calls[len(calls)-1] != rep.Progress {
		t.Errorf("progress calls %v, last should equal %+v", calls, rep.Progress)
	}
	if n := b.visible(t, b.dlq); n != 4 {
		t.Errorf("%d visible on the DLQ, want 4", n)
	}
	out, err := b.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.src), MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("source queue: %d messages, %v", len(out.Messages), err)
	}
	m := out.Messages[0]
	if _, has := m.MessageAttributes[contract.ErrorAttribute]; has {
		t.Error("redriven message still carries casebridge-error")
	}
	if c := aws.ToString(m.MessageAttributes[RedriveCountAttribute].StringValue); c != "1" {
		t.Errorf("redrive count = %q, want 1", c)
	}
	if tr := aws.ToString(m.MessageAttributes[traceKey].StringValue); tr != "t-3" && tr != "t-4" {
		t.Errorf("original attribute %s = %q, want kept", traceKey, tr)
	}
	if body := aws.ToString(m.Body); len(body) < 10 || body[:10] != `{"domainId` {
		t.Errorf("body changed: %s", body)
	}
}

func TestRedriveIsRateBounded(t *testing.T) {
	b := newBed(t, false)
	start := time.Now()
	rep, err := b.tool().Redrive(context.Background(), RedriveOptions{Rate: 10})
	if err != nil || rep.Moved != 5 {
		t.Fatalf("redrive = %+v, %v", rep, err)
	}
	// Five sends at 10/s with a burst of one need at least 0.4s.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("5 messages at 10/s took %v", d)
	}
	if n := b.visible(t, b.src); n != 5 {
		t.Errorf("%d messages back on the source queue, want 5", n)
	}
}

func TestRedriveFIFOKeepsGroupAndResolvesARN(t *testing.T) {
	b := newBed(t, true)
	ctx := context.Background()
	// The Lambda records the source queue's ARN; --to is not needed.
	rep, err := b.tool().Redrive(ctx, RedriveOptions{Class: contract.ReasonValidation})
	if err != nil || rep.Moved != 1 {
		t.Fatalf("redrive = %+v, %v", rep, err)
	}
	out, err := b.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.src), WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("source: %d messages, %v", len(out.Messages), err)
	}
	if g := out.Messages[0].Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "g-2" {
		t.Errorf("group = %q, want the original g-2", g)
	}
}

func TestQueueURLFromARN(t *testing.T) {
	b := newBed(t, false)
	u, err := b.tool().queueURL(context.Background(), testbed.QueueARN("src"))
	if err != nil || u != b.src {
		t.Errorf("queueURL(arn) = %q, %v; want %q", u, err, b.src)
	}
	if _, err := b.tool().queueURL(context.Background(), "arn:aws:sns:us-east-1:1:topic"); err == nil {
		t.Error("an SNS ARN was accepted as a queue")
	}
}
