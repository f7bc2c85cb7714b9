package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	casestypes "github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// ceilingLoops drains url with conc minimal loops: ReceiveMessage(10), one
// UpdateCase per message (when cases is set), DeleteMessageBatch. No retries,
// no logging, no decoding beyond the case id and the one field the call needs:
// the most this machine can do for the work, against which the worker is judged.
func (e *env) ceilingLoops(ctx context.Context, url string, conc int, cases bool) (failures int64) {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 2*conc, conc
	})
	sq := testbed.NewSQSClient(e.goaws.Endpoint, func(o *sqs.Options) { o.HTTPClient = hc })
	cc := testbed.NewCasesClient(e.simURL, func(o *connectcases.Options) {
		o.HTTPClient, o.Retryer = hc, aws.NopRetryer{}
	})
	var fails atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
					MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					continue
				}
				del := make([]sqstypes.DeleteMessageBatchRequestEntry, 0, len(out.Messages))
				for i, m := range out.Messages {
					if cases && updateOne(ctx, cc, aws.ToString(m.Body)) != nil {
						fails.Add(1)
						continue // comes back after its visibility timeout
					}
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				if len(del) > 0 {
					if _, err := sq.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil {
						fails.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	return fails.Load()
}

func updateOne(ctx context.Context, cc *connectcases.Client, body string) error {
	var m struct {
		CaseID string `json:"caseId"`
		Fields struct {
			Priority float64 `json:"priority"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return err
	}
	_, err := cc.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(domainID), CaseId: aws.String(m.CaseID),
		Fields: []casestypes.FieldValue{{Id: aws.String("priority"), Value: &casestypes.FieldValueUnionMemberDoubleValue{Value: m.Fields.Priority}}}})
	return err
}

// ceiling runs the minimal loops over a fresh queue of n messages and returns
// the drain rate in messages/s.
func (e *env) ceiling(ctx context.Context, n, conc int, cases bool) (float64, error) {
	url, err := e.queue(ctx, fmt.Sprintf("ceiling-%d-%t", conc, cases))
	if err != nil {
		return 0, err
	}
	if err := preload(ctx, e.sqs, url, smallEntries(n)); err != nil {
		return 0, err
	}
	base, err := e.updates(ctx)
	if err != nil {
		return 0, err
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan int64, 1)
	from := time.Now()
	go func() { done <- e.ceilingLoops(lctx, url, conc, cases) }()
	start := time.Time{}
	if !cases {
		start = from
	}
	d, err := e.observeDrain(ctx, url, base, n, cases, start, drainTimeout(n))
	cancel()
	fails := <-done
	if err != nil {
		return 0, fmt.Errorf("%w (%d failed calls)", err, fails)
	}
	return d.rate(n), nil
}

// drainTimeout is generous: a drain slower than 100 messages/s is broken, not slow.
func drainTimeout(n int) time.Duration { return 30*time.Second + time.Duration(n)*10*time.Millisecond }
