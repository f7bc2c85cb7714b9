package worker_test

import (
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/fifosqs"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
)

// TestFIFOInterleavedGroupsOnAFaithfulServer: five interleaved groups (one per
// case) on an SQS server with real FIFO semantics (several messages of a group
// per receive, the group held while any is in flight), with and without
// coalescing: every case's updates are applied in its group's order, and every
// message is deleted.
func TestFIFOInterleavedGroupsOnAFaithfulServer(t *testing.T) {
	for _, coalesce := range []bool{false, true} {
		t.Run(fmt.Sprintf("coalesce=%v", coalesce), func(t *testing.T) {
			srv, endpoint, err := fifosqs.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			c := testbed.NewSQSClient(endpoint)
			ctx := context.Background()
			urls := map[string]string{}
			for _, name := range []string{"src.fifo", "dlq.fifo"} {
				out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
					Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "10"}})
				if err != nil {
					t.Fatal(err)
				}
				urls[name] = aws.ToString(out.QueueUrl)
			}
			sim, simURL := testbed.StartCasesimT(t, casesim.Options{Faults: casesim.Faults{Rate: 40, Burst: 2,
				LatencyJitter: 3 * time.Millisecond}})
			const n = 100
			for i := range n {
				body := fmt.Sprintf(`{"caseId":%q,"fields":{"priority":%d}}`, caseID(i), i)
				if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urls["src.fifo"]), MessageBody: aws.String(body),
					MessageGroupId: aws.String(caseID(i)), MessageDeduplicationId: aws.String(fmt.Sprint(i))}); err != nil {
					t.Fatal(err)
				}
			}
			core, err := consumer.New(consumer.Options{Cases: testbed.NewCasesClient(simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
				DLQ: c, DLQURL: urls["dlq.fifo"], Coalesce: coalesce,
				Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID}), Limiter: quota.NewLimiter(quota.LimiterConfig{})})
			if err != nil {
				t.Fatal(err)
			}
			w, err := worker.New(worker.Options{SQS: c, QueueURL: urls["src.fifo"], Handler: core, Coalesce: coalesce, WaitTime: 1})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- w.Run(runCtx) }()
			eventually(t, 60*time.Second, "every case at its last priority", func() bool {
				for k := range 5 {
					f, _ := sim.CaseFields(domainID, caseID(k))
					if doubleValue(f["priority"]) != float64(n-5+k) {
						return false
					}
				}
				return true
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for name, url := range urls {
				out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
					AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
				if err != nil {
					t.Fatal(err)
				}
				if v, nv := out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]; v != "0" || nv != "0" {
					t.Errorf("%s holds %s visible + %s in flight, want nothing left", name, v, nv)
				}
			}
			last := map[string]float64{}
			calls := 0
			for _, u := range sim.AppliedUpdates() {
				calls++
				for _, f := range u.Fields {
					if p, ok := doubleOf(f); ok {
						if prev, seen := last[u.CaseID]; seen && p <= prev {
							t.Errorf("case %s: priority %v applied after %v: group order broken", u.CaseID, p, prev)
						}
						last[u.CaseID] = p
					}
				}
			}
			t.Logf("%d messages in 5 interleaved groups: %d successful calls", n, calls)
			if coalesce && calls >= n/2 {
				t.Errorf("%d calls for %d messages with coalescing on a 40/s quota: not merged", calls, n)
			}
			if !coalesce && calls != n {
				t.Errorf("%d calls for %d messages without coalescing", calls, n)
			}
		})
	}
}
