package worker

import (
	"sync"
	"time"
)

// callMeter counts UpdateCase successes and throttles per second over the
// last minute: the rate the instance actually gets from the shared quota, and
// whether the quota is what limits it.
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

func (m *callMeter) record(success, throttle bool) {
	sec := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.slots[sec%meterWindow]
	if s.sec != sec {
		*s = meterSlot{sec: sec}
	}
	if success {
		s.successes++
	}
	if throttle {
		s.throttles++
	}
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

// successRate is successful UpdateCase calls per second over the last minute.
func (m *callMeter) successRate() float64 {
	ok, _, span := m.window()
	return float64(ok) / span.Seconds()
}

// throttled reports whether any call of the last minute was throttled.
func (m *callMeter) throttled() bool {
	_, th, _ := m.window()
	return th > 0
}
