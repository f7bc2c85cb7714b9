package worker_test

import (
	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"fmt"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/worker"
)

// TestCoalescingUnderATightQuota: 40 updates to one case behind a 5 calls/s
// quota, coalescing on: far fewer calls than messages, every message deleted.
// (Standard queue only: goaws hands out a FIFO group one message at a time, so
// FIFO coalescing is proven against a fake with real SQS's batching instead:
// TestFIFOCoalescingMergesAGroupInOrder.)
func TestCoalescingUnderATightQuota(t *testing.T) {
	for _, fifo := range []bool{false} {
		t.Run(fmt.Sprintf("fifo=%v", fifo), func(t *testing.T) {
			b := newBed(t, fifo, 10)
			b.sim.SetFaults(casesim.Faults{Rate: 5, Burst: 1})
			var bodies []string
			for i := range 40 {
				bodies = append(bodies, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"m-%d","priority":%d}}`, caseID(0), i, i))
			}
			b.send(bodies)
			core, err := consumer.New(consumer.Options{Cases: b.cases, DLQ: b.sqs, DLQURL: b.dlq, Coalesce: true,
				Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID}), Limiter: quota.NewLimiter(quota.LimiterConfig{})})
			if err != nil {
				t.Fatal(err)
			}
			w, err := worker.New(worker.Options{SQS: b.sqs, QueueURL: b.src, Handler: core, WaitTime: 1, Coalesce: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			eventually(t, 60*time.Second, "queue drained", func() bool { return b.queueDepth() == 0 })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			calls := b.sim.Stats()["UpdateCase"]
			t.Logf("40 messages → UpdateCase by status %v", calls)
			if calls[200] >= 20 {
				t.Errorf("%d successful calls for 40 messages on one case: not coalesced", calls[200])
			}
			dead := map[string]dead{}
			b.drainDLQ(dead)
			if len(dead) != 0 {
				t.Errorf("%d dead-lettered, want 0", len(dead))
			}
		})
	}
}
