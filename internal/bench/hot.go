package bench

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/sqsproxy"
	"github.com/casebridge/casebridge/internal/testbed"
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

// hotCases sends n events over cases cases to a FIFO queue (group = case id)
// served by goaws behind sqsproxy, which keeps FIFO groups, and lets the
// worker with CASEBRIDGE_COALESCE=on apply them against a simulator limited
// to r calls/s, for at most limit.
//
// With fifo false the same events go to a standard queue: goaws hands out a
// FIFO group one message at a time (real SQS gives up to 10), so only there
// can merging show against it. Order is not defined then, so final values
// are not compared.
func (e *env) hotCases(ctx context.Context, n, cases int, r float64, limit time.Duration, fifo bool) (hotResult, error) {
	res := hotResult{events: n}
	suffix := ".fifo"
	if !fifo {
		suffix = ""
	}
	px, endpoint, err := sqsproxy.Start(e.goaws.Endpoint)
	if err != nil {
		return res, err
	}
	defer px.Close()
	url, err := e.queue(ctx, "hot"+suffix)
	if err != nil {
		return res, err
	}
	dlq, err := e.queue(ctx, "hot-dlq"+suffix)
	if err != nil {
		return res, err
	}
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
	env := []string{"CASEBRIDGE_COALESCE=on"}
	if !fifo {
		// Merging needs several events per case waiting at once: with 100 hot
		// cases that takes a wide in-flight window (held messages cost little
		// memory). Not on FIFO: goaws then lets two messages of a group be in
		// flight together (its one-lock-at-a-time quirk) and breaks their order.
		env = append(env, "CASEBRIDGE_MAX_IN_FLIGHT=1000")
	}
	w, err := e.startWorker(ctx, "hot", endpoint, url, dlq, env...)
	if err != nil {
		return res, err
	}
	defer w.stop(10 * time.Second)
	// Progress is the worker's own delete count: goaws's message counts for a
	// FIFO queue do not fall as messages are deleted.
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
	if dl, err := e.depth(ctx, dlq); err != nil || dl != 0 {
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
