package worker

import (
	"testing"
	"time"
)

func TestCallMeterRateAndThrottles(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m := newCallMeter(func() time.Time { return now })
	for range 30 { // 2 successes a second for 15 s
		m.add(1, 0)
		now = now.Add(500 * time.Millisecond)
	}
	if r := m.successRate(); r < 1.9 || r > 2.1 {
		t.Errorf("rate %.2f/s over the first 15 s, want 2", r)
	}
	if m.throttled() {
		t.Error("throttled with no throttle recorded")
	}
	m.add(0, 1)
	if !m.throttled() {
		t.Error("a throttle in the last minute not seen")
	}
	now = now.Add(61 * time.Second)
	if r := m.successRate(); r != 0 || m.throttled() {
		t.Errorf("after a silent minute: rate %.2f, throttled %v; want 0, false", r, m.throttled())
	}
}

func TestBacklogEstimate(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		depth     int
		rate      float64
		oldestAge time.Duration
		wantDrain time.Duration
		wantRisk  bool
	}{
		{"empty queue", 0, 2, time.Hour, 0, false},
		{"a day's worth at 2/s, fresh", 172_800, 2, time.Hour, day, false},
		{"a day's worth at 2/s, 13.5 days old", 172_800, 2, 13*day + 12*time.Hour, day, true},
		{"nothing gets through", 10, 0, time.Minute, time.Duration(1<<63 - 1), true},
		{"no message seen since the last check", 10, 0, 0, time.Duration(1<<63 - 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := estimateBacklog(tt.depth, tt.rate, 14*day, tt.oldestAge)
			if e.drain != tt.wantDrain || e.atRisk() != tt.wantRisk {
				t.Errorf("drain %v, at risk %v; want %v, %v", e.drain, e.atRisk(), tt.wantDrain, tt.wantRisk)
			}
		})
	}
}
