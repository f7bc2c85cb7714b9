package quota

import "time"

// Clock is the time source of the limiter and the circuit. Tests inject a
// fake one so that no test has to sleep.
type Clock interface {
	Now() time.Time
	// After behaves like time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func clockOrReal(c Clock) Clock {
	if c == nil {
		return realClock{}
	}
	return c
}
