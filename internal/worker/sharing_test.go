package worker

import (
	"context"
	"math"
	"testing"
)

// TestSharingWarnsWhenConsumersShareByThrottling: the worker estimates the
// consumers of its queue from the queue's in-flight count and the messages it
// holds, exposes the estimate, and warns, naming the setting that fixes it,
// only when several consumers share the queue and more than a tenth of its
// calls of the last minute were throttled.
func TestSharingWarnsWhenConsumersShareByThrottling(t *testing.T) {
	tests := []struct {
		name             string
		notVisible, held int
		ok, throttled    int // calls a second over the last minute
		wantConsumers    float64
		wantWarning      bool
	}{
		{"three consumers, a fifth throttled", 192, 64, 4, 1, 3, true},
		{"three consumers, a twentieth throttled", 192, 64, 19, 1, 3, false},
		{"alone, a fifth throttled", 70, 64, 4, 1, 1, false},
		{"holding nothing says nothing", 192, 0, 4, 1, math.NaN(), false},
		{"holding less than full says nothing", 192, 40, 4, 1, math.NaN(), false},
		{"two consumers, one holding more", 150, 80, 4, 1, 2, true}, // 1.9 rounds to 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, m, logs := newBacklogWorker(t, &backlogSQS{notVisible: tt.notVisible, retentionSecs: 3600})
			w.held.Store(int64(tt.held))
			lastMinute(&m.calls, func(c *callMeter) { c.add(tt.ok, tt.throttled) })
			w.checkBacklog(context.Background())
			if got := w.sharing.estimate(); got != tt.wantConsumers && !(math.IsNaN(got) && math.IsNaN(tt.wantConsumers)) {
				t.Errorf("consumers estimate %v, want %v", got, tt.wantConsumers)
			}
			warned := logs.FilterMessageSnippet("CASEBRIDGE_RATE_LIMIT").Len()
			if warned != map[bool]int{true: 1, false: 0}[tt.wantWarning] {
				t.Fatalf("%d sharing warnings, want warning=%v: %v", warned, tt.wantWarning, logs.All())
			}
			if !tt.wantWarning {
				return
			}
			if f := logs.All()[0].ContextMap(); f["consumersEstimate"] != int64(tt.wantConsumers) || f["heldHere"] != int64(tt.held) {
				t.Errorf("warning fields %v", f)
			}
			w.checkBacklog(context.Background())
			if n := logs.FilterMessageSnippet("CASEBRIDGE_RATE_LIMIT").Len(); n != 1 {
				t.Errorf("%d sharing warnings after a second check, want 1 within %v", n, warnEvery)
			}
		})
	}
}

func TestEstimateConsumers(t *testing.T) {
	for _, tt := range []struct{ notVisible, held, full, want int }{
		{0, 0, 0, 0}, {5, 0, 0, 0}, {0, 10, 10, 1}, {10, 10, 10, 1}, {29, 10, 10, 3}, {14, 10, 10, 1},
		{15, 10, 10, 2}, {30, 9, 10, 0}, {30, 12, 10, 3},
	} {
		if got := estimateConsumers(tt.notVisible, tt.held, tt.full); got != tt.want {
			t.Errorf("estimateConsumers(%d, %d, %d) = %d, want %d", tt.notVisible, tt.held, tt.full, got, tt.want)
		}
	}
}
