package main

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/rulecases"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestWorkerRunsTheExamples runs the worker binary with each rules file of
// examples/rules (and the field catalog on) against the simulator seeded
// with examples/casesim-seed.json: every sample event beside it is applied,
// or dead-lettered with the class and code rulecases expects, and nothing
// is left on the queue.
func TestWorkerRunsTheExamples(t *testing.T) {
	examples, err := rulecases.Examples()
	if err != nil || len(examples) == 0 {
		t.Fatalf("examples: %d, %v", len(examples), err)
	}
	for _, ex := range examples {
		t.Run(ex.Name, func(t *testing.T) {
			g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 10}, {Name: "dlq"}}})
			sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
			src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")
			c := testbed.NewSQSClient(g.Endpoint)
			byID := map[string]rulecases.Event{}
			wantApplied, wantDead := 0, 0
			for _, ev := range ex.Events {
				out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(ev.Body)})
				if err != nil {
					t.Fatal(err)
				}
				byID[aws.ToString(out.MessageId)] = ev
				if ev.Class == "" {
					wantApplied++
				} else {
					wantDead++
				}
			}
			startWorker(t, g.Endpoint, simURL, src, dlq, "CASEBRIDGE_RULES="+ex.Rules, "CASEBRIDGE_FIELD_CATALOG=on")
			dead := map[string]contract.DeadLetterRecord{}
			poll.WaitFor(t, 30*time.Second, "every sample applied or dead-lettered", func() bool {
				readDLQ(t, c, dlq, dead)
				return len(sim.AppliedUpdates())+len(dead) >= len(ex.Events)
			})
			poll.WaitFor(t, 10*time.Second, "the source queue to be empty", func() bool { return queueEmpty(t, c, src) })
			readDLQ(t, c, dlq, dead)
			if n := len(sim.AppliedUpdates()); n != wantApplied {
				t.Errorf("%d applied, want %d", n, wantApplied)
			}
			for _, rec := range dead {
				ev := byID[rec.SourceMessageID]
				if ev.Class != rec.Class || ev.Code != rec.Code {
					t.Errorf("%s dead-lettered %s/%s (%s), want %q/%q", ev.Name, rec.Class, rec.Code, rec.Message, ev.Class, ev.Code)
				}
			}
			if len(dead) != wantDead {
				t.Errorf("%d dead-lettered, want %d", len(dead), wantDead)
			}
		})
	}
}
