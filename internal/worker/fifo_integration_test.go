package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/casesim"
)

// TestFIFOInterleavedGroupsOnAFaithfulServer: five interleaved groups (one per
// case) on an SQS server with real FIFO semantics (several messages of a group
// per receive, the group held while any is in flight), with and without
// coalescing: every case's updates are applied in its group's order, and every
// message is deleted.
func TestFIFOInterleavedGroupsOnAFaithfulServer(t *testing.T) {
	for _, coalesce := range []bool{false, true} {
		t.Run(fmt.Sprintf("coalesce=%v", coalesce), func(t *testing.T) {
			b := newFIFOBed(t, casesim.Faults{Rate: 40, Burst: 2, LatencyJitter: 3 * time.Millisecond})
			const n = 100
			b.sendPriorities(t, n, nil)
			b.run(t, b.simURL, coalesce, n)
			b.checkOrder(t)
			calls := len(b.sim.AppliedUpdates())
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
