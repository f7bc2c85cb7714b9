package catalog

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestWithConsumerCore wires the catalog the way the worker does (the core's
// CasesAPI is the decorator): named fields are applied by id, and a value
// of the wrong type is dead-lettered as validation with no UpdateCase call.
func TestWithConsumerCore(t *testing.T) {
	s := startSim(t)
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	sqsClient := testbed.NewSQSClient(g.Endpoint)
	dlq := g.QueueURLT(t, "dlq")
	cat := New(s.client, Options{Domains: []string{dom}})
	ctx := context.Background()
	if err := cat.Load(ctx); err != nil {
		t.Fatal(err)
	}
	core, err := consumer.New(consumer.Options{
		Cases: s.client, Resolver: cat, DLQ: sqsClient, DLQURL: dlq,
		Mapper: mapper.New(mapper.Config{DefaultDomainID: dom}),
	})
	if err != nil {
		t.Fatal(err)
	}

	out := core.Handle(ctx, consumer.Message{ID: "m1", Body: `{"caseId":"case-1","fields":{"Status":"closed","Priority":"7","Escalated":"true"}}`})
	if out.Kind != consumer.Done {
		t.Fatalf("named message: %v %s %v", out.Kind, out.Reason, out.Err)
	}
	if a := s.AppliedUpdates(); len(a) != 1 || aws.ToString(a[0].Fields[2].Id) != "f-esc" || show(a[0].Fields[2].Value) != "true" {
		t.Fatalf("applied = %+v", a)
	}

	calls := s.count("UpdateCase")
	out = core.Handle(ctx, consumer.Message{ID: "m2", Body: `{"caseId":"case-1","fields":{"Priority":"high"}}`, SourceQueue: "src"})
	if out.Kind != consumer.DeadLettered || out.Reason != contract.ReasonValidation || s.count("UpdateCase") != calls {
		t.Fatalf("bad value: %v %s, UpdateCase calls %d → %d", out.Kind, out.Reason, calls, s.count("UpdateCase"))
	}
	got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("DLQ: %+v, %v", got, err)
	}
	var reason contract.DeadLetterRecord
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].MessageAttributes[contract.ErrorAttribute].StringValue)), &reason); err != nil {
		t.Fatal(err)
	}
	if reason.Class != contract.ReasonValidation || reason.Code != "" || !strings.Contains(reason.Message, "field catalog") {
		t.Errorf("reason = %+v", reason)
	}
}
