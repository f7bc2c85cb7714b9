package worker

import (
	"sync"
	"time"
)

// callMeter counts events per second over the last minute: UpdateCase
// successes and throttles (the rate the instance gets from the shared quota,
// and whether the quota limits it), or messages deleted (how fast the queue
// drains; more than calls when coalescing merges them).
type callMeter struct {
	now func() time.Time

	mu        sync.Mutex
	slots     [meterWindow]meterSlot
	startedAt time.Time
}

const meterWindow = 60 // seconds

type meterSlot struct {
	sec                  int64 // unix second this slot counts
	successes, throttles int
}

func newCallMeter(now func() time.Time) *callMeter {
	return &callMeter{now: now, startedAt: now()}
}

func (m *callMeter) add(successes, throttles int) {
	sec := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.slots[sec%meterWindow]
	if s.sec != sec {
		*s = meterSlot{sec: sec}
	}
	s.successes += successes
	s.throttles += throttles
}

// window sums the last minute (or the time since start, if shorter).
func (m *callMeter) window() (successes, throttles int, span time.Duration) {
	now := m.now()
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.slots {
		if s.sec > sec-meterWindow && s.sec <= sec {
			successes += s.successes
			throttles += s.throttles
		}
	}
	span = min(now.Sub(m.startedAt), meterWindow*time.Second)
	return successes, throttles, max(span, time.Second)
}

// successRate is successes per second over the last minute.
func (m *callMeter) successRate() float64 {
	ok, _, span := m.window()
	return float64(ok) / span.Seconds()
}

// throttled reports whether any call of the last minute was throttled.
func (m *callMeter) throttled() bool {
	_, th, _ := m.window()
	return th > 0
}

// throttledShare is the share of the last minute's calls that were
// throttled, and how many calls that is of.
func (m *callMeter) throttledShare() (share float64, calls int) {
	ok, th, _ := m.window()
	if ok+th == 0 {
		return 0, 0
	}
	return float64(th) / float64(ok+th), ok + th
}
