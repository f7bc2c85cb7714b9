package lambdasqs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/testkit/handlers"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-lambda-go/events"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/retry"
)

// scriptedCore answers by body: "ok", "dead", "retry"; it records the order
// of calls, and each HandleGroup call's message ids.
type scriptedCore struct {
	mu      sync.Mutex
	seen    []string
	groups  [][]string
	barrier chan struct{} // if set, each call waits until closed
	started chan struct{} // if set, each call sends on it once running (before the barrier)
	running int
	peak    int
}

func (c *scriptedCore) Handle(ctx context.Context, m consumer.Message) consumer.Outcome {
	c.mu.Lock()
	c.seen = append(c.seen, m.ID)
	c.running++
	c.peak = max(c.peak, c.running)
	c.mu.Unlock()
	if c.started != nil {
		c.started <- struct{}{}
	}
	if c.barrier != nil {
		<-c.barrier
	}
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
	switch m.Body {
	case "ok":
		return consumer.Outcome{Kind: consumer.Done}
	case "dead":
		return consumer.Outcome{Kind: consumer.DeadLettered, Reason: contract.ReasonValidation}
	default:
		return consumer.Outcome{Kind: consumer.RetryLater, Reason: contract.ReasonThrottled, Delay: time.Second}
	}
}

// HandleGroup answers each message as Handle would: what a failure holds back
// is the real core's decision, tested there; here only the transport is.
func (c *scriptedCore) HandleGroup(ctx context.Context, _ *consumer.Group, msgs []consumer.Message) []consumer.Outcome {
	var ids []string
	outs := make([]consumer.Outcome, len(msgs))
	for i, m := range msgs {
		ids = append(ids, m.ID)
		outs[i] = c.Handle(ctx, m)
	}
	c.mu.Lock()
	c.groups = append(c.groups, ids)
	c.mu.Unlock()
	return outs
}

func event(arn string, recs ...[2]string) events.SQSEvent { // [2]string{group, body}
	var ev events.SQSEvent
	for i, r := range recs {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: r[1],
			EventSourceARN: arn, Attributes: map[string]string{"MessageGroupId": r[0], "ApproximateReceiveCount": "1"}})
	}
	return ev
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	sort.Strings(ids)
	return ids
}

func TestBatchItemFailures(t *testing.T) {
	tests := []struct {
		name string
		arn  string
		recs [][2]string
		want []string
	}{
		{"standard: only retries fail", "arn:aws:sqs:us-east-1:1:q", [][2]string{{"", "ok"}, {"", "retry"}, {"", "dead"}, {"", "retry"}}, []string{"m1", "m3"}},
		{"standard: all ok", "arn:aws:sqs:us-east-1:1:q", [][2]string{{"", "ok"}, {"", "dead"}}, nil},
		{"fifo: the core's outcome per record", "arn:aws:sqs:us-east-1:1:q.fifo",
			[][2]string{{"a", "ok"}, {"b", "ok"}, {"a", "retry"}, {"b", "ok"}, {"a", "ok"}, {"a", "dead"}, {"c", "retry"}},
			[]string{"m2", "m6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core := &scriptedCore{}
			h := &Handler{Core: core}
			resp, err := h.Handle(context.Background(), event(tc.arn, tc.recs...))
			if err != nil {
				t.Fatal(err)
			}
			if got := failedIDs(resp); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("failures %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFIFOHandsEachGroupToTheCoreInOrder(t *testing.T) {
	core := &scriptedCore{}
	h := &Handler{Core: core, MaxConcurrency: 1}
	h.Handle(context.Background(), event("arn:q.fifo", [2]string{"a", "ok"}, [2]string{"b", "ok"}, [2]string{"a", "retry"}, [2]string{"a", "ok"}))
	// one slot: group a in one call, in arrival order, then group b
	if got := fmt.Sprint(core.groups); got != "[[m0 m2 m3] [m1]]" {
		t.Errorf("group calls %s, want [[m0 m2 m3] [m1]]", got)
	}
}

func TestStandardRecordsRunConcurrently(t *testing.T) {
	core := &scriptedCore{barrier: make(chan struct{}), started: make(chan struct{}, 10)}
	h := &Handler{Core: core, MaxConcurrency: 4}
	done := make(chan struct{})
	go func() {
		recs := make([][2]string, 10)
		for i := range recs {
			recs[i] = [2]string{"", "ok"}
		}
		h.Handle(context.Background(), event("arn:q", recs...))
		close(done)
	}()
	// All four slots fill up while none can finish: proof of concurrency, bounded.
	timeout := time.After(30 * time.Second)
	for n := 0; n < 4; n++ {
		select {
		case <-core.started:
		case <-timeout:
			close(core.barrier)
			t.Fatalf("only %d records running at once after 30s, want 4: records do not run concurrently", n)
		}
	}
	close(core.barrier)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Handle did not return within 30s of its records being released")
	}
	if core.peak != 4 {
		t.Errorf("peak concurrency %d, want exactly the bound 4", core.peak)
	}
}

func TestBudgetEndsBeforeDeadline(t *testing.T) {
	var got time.Time
	core := handlers.Func(func(ctx context.Context, m consumer.Message) consumer.Outcome {
		got, _ = ctx.Deadline()
		return consumer.Outcome{Kind: consumer.Done}
	})
	dl := time.Now().Add(5 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	(&Handler{Core: core}).Handle(ctx, event("arn:q", [2]string{"", "x"}))
	if margin := dl.Sub(got); margin < 200*time.Millisecond || margin > 3*time.Second {
		t.Errorf("records got a deadline %v before the invocation's, want 200ms..3s", margin)
	}
}

func TestEMFLine(t *testing.T) {
	var e EMF
	e.ObserveOutcome(consumer.Outcome{Kind: consumer.Done})
	e.ObserveOutcome(consumer.Outcome{Kind: consumer.DeadLettered})
	e.ObserveRetryClass(retry.ClassThrottle)
	e.ObserveUpdateCase(12*time.Millisecond, "")
	var buf bytes.Buffer
	if err := e.Flush(&buf, "req-1", time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	aws, _ := line["_aws"].(map[string]any)
	if aws == nil || aws["Timestamp"].(float64) != 100000 || line["Applied"].(float64) != 1 || line["Throttles"].(float64) != 1 {
		t.Errorf("EMF line %s", buf.String())
	}
	buf.Reset()
	_ = e.Flush(&buf, "req-2", time.Unix(101, 0))
	if json.Unmarshal(buf.Bytes(), &line); line["Applied"].(float64) != 0 {
		t.Errorf("metrics not reset between invocations: %s", buf.String())
	}
}
