package bench

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/testkit/fifosqs"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

type hotResult struct {
	events, applied int
	rate            float64 // events deleted per second
	calls           int     // successful UpdateCase calls
	drained         bool
	elapsed         time.Duration
}

var statuses = [...]string{"open", "pending", "closed"}

// hotEvents makes n events over cases cases: event j of a case always sets
// priority = j, every third also sets status, every fifth reason, so merged
// calls must keep the later value of each field to end right. It returns the
// entries in send order and each case's expected final values.
func hotEvents(n, cases int) ([]sqstypes.SendMessageBatchRequestEntry, map[string]map[string]map[string]any) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, n)
	want := make(map[string]map[string]map[string]any, cases)
	for c := range cases {
		want[caseID(c)] = map[string]map[string]any{
			"title": {"stringValue": "bench case " + strconv.Itoa(c)}, "status": {"stringValue": "open"}}
	}
	for i := range n {
		c, j := caseID(i%cases), i/cases
		body := `{"caseId":"` + c + `","eventId":"e-` + strconv.Itoa(i) + `","fields":{"priority":` + strconv.Itoa(j)
		want[c]["priority"] = map[string]any{"doubleValue": float64(j)}
		if j%3 == 0 {
			s := statuses[(j/3)%3]
			body += `,"status":"` + s + `"`
			want[c]["status"] = map[string]any{"stringValue": s}
		}
		if j%5 == 0 {
			body += `,"reason":"r-` + strconv.Itoa(j) + `"`
			want[c]["reason"] = map[string]any{"stringValue": "r-" + strconv.Itoa(j)}
		}
		entries[i] = sqstypes.SendMessageBatchRequestEntry{MessageBody: aws.String(body + `}}`),
			MessageGroupId: aws.String(c), MessageDeduplicationId: aws.String("e-" + strconv.Itoa(i))}
	}
	return entries, want
}

// hotCases sends n events over cases cases and lets the worker with
// CASEBRIDGE_COALESCE=on apply them against a simulator limited to r calls/s,
// for at most limit.
//
// With fifo true the queue is a FIFO queue (group = case id) on fifosqs, which
// hands out several messages of a group per receive and locks the group while
// any is in flight, as SQS does; goaws gives one message per group and keeps a
// single group lock, so merging could not show against it. With fifo false
// the same events go to a standard queue on goaws behind sqsproxy; order is
// not defined then, so final values are not compared.
func (e *env) hotCases(ctx context.Context, n, cases int, r float64, limit time.Duration, fifo bool) (hotResult, error) {
	res := hotResult{events: n}
	q, err := e.hotQueues(ctx, fifo)
	if err != nil {
		return res, err
	}
	defer q.close()
	endpoint, url, dlq := q.endpoint, q.url, q.dlq
	entries, want := hotEvents(n, cases)
	if !fifo {
		for i := range entries {
			entries[i].MessageGroupId, entries[i].MessageDeduplicationId = nil, nil
		}
	}
	if err := preload(ctx, testbed.NewSQSClient(endpoint), url, entries); err != nil {
		return res, err
	}
	if err := e.setFaults(ctx, faults{Rate: r, Burst: 2}); err != nil {
		return res, err
	}
	defer func() { _ = e.setFaults(context.WithoutCancel(ctx), faults{}) }()
	base, err := e.updates(ctx)
	if err != nil {
		return res, err
	}
	// Merging needs several events per case waiting at once: with 100 hot
	// cases that takes a wide in-flight window (held messages cost little
	// memory). On FIFO the server's group lock keeps each group in order.
	env := []string{"CASEBRIDGE_COALESCE=on", "CASEBRIDGE_MAX_IN_FLIGHT=1000"}
	name := "hot-standard" // the log's name under --keep
	if fifo {
		name = "hot-fifo"
	}
	w, err := e.startWorker(ctx, name, endpoint, url, dlq, env...)
	if err != nil {
		return res, err
	}
	defer w.stop(10 * time.Second)
	// Progress is the worker's own delete count, the same measure on both
	// servers (goaws's counts for a FIFO queue do not fall as messages are
	// deleted).
	t0 := time.Now()
	deleted := 0
	for time.Since(t0) < limit && deleted < n {
		if err := retry.Sleep(ctx, 250*time.Millisecond); err != nil {
			return res, err
		}
		if v, err := w.metric(ctx, e.http, "casebridge_deletes_total"); err == nil {
			deleted = int(v)
		}
	}
	res.elapsed = time.Since(t0)
	res.applied, res.drained = min(deleted, n), deleted >= n
	res.rate = float64(res.applied) / res.elapsed.Seconds()
	if c, err := e.updates(ctx); err == nil {
		res.calls = c.minus(base).OK
	}
	if dl, err := q.depth(ctx, dlq); err != nil || dl != 0 {
		return res, fmt.Errorf("%d events dead-lettered (%v); worker log: %s", dl, err, w.last(1500))
	}
	if !res.drained || !fifo {
		return res, nil // the rate is the finding; final values only mean something once all are applied, in order
	}
	for c, fields := range want {
		got, err := e.caseValues(ctx, c)
		if err != nil {
			return res, err
		}
		if !reflect.DeepEqual(got, fields) {
			return res, fmt.Errorf("case %s ends with %v, want %v (as applied one by one in order)", c, got, fields)
		}
	}
	return res, nil
}

// hotQueue is where one hot-case run's queue and DLQ live.
type hotQueue struct {
	endpoint, url, dlq string
	client             *sqs.Client
	close              func()
}

// hotQueues creates the run's queue and DLQ: FIFO ones on a fresh fifosqs,
// standard ones on goaws behind sqsproxy.
func (e *env) hotQueues(ctx context.Context, fifo bool) (*hotQueue, error) {
	if !fifo {
		px, endpoint, err := sqsproxy.Start(e.goaws.Endpoint)
		if err != nil {
			return nil, err
		}
		q := &hotQueue{endpoint: endpoint, client: e.sqs, close: func() { _ = px.Close() }}
		if q.url, err = e.queue(ctx, "hot"); err == nil {
			q.dlq, err = e.queue(ctx, "hot-dlq")
		}
		if err != nil {
			q.close()
			return nil, err
		}
		return q, nil
	}
	srv, endpoint, err := fifosqs.Start()
	if err != nil {
		return nil, err
	}
	q := &hotQueue{endpoint: endpoint, client: testbed.NewSQSClient(endpoint), close: func() { _ = srv.Close() }}
	create := func(name string) (string, error) {
		// 10 s as on goaws: the worker's heartbeat keeps longer work invisible.
		out, err := q.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
			Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "10"}})
		if err != nil {
			return "", fmt.Errorf("create queue %s: %w", name, err)
		}
		return aws.ToString(out.QueueUrl), nil
	}
	if q.url, err = create("hot.fifo"); err == nil {
		q.dlq, err = create("hot-dlq.fifo")
	}
	if err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

// depth returns the messages on a queue of q's server not deleted yet.
func (q *hotQueue) depth(ctx context.Context, url string) (int, error) {
	return queueDepth(ctx, q.client, url)
}
