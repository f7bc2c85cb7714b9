package retry

import (
	"errors"
	"testing"
	"time"

	goretry "github.com/sethvargo/go-retry"
)

func TestNewBackoffBoundsAndCap(t *testing.T) {
	const base, cap, samples = 100 * time.Millisecond, 2 * time.Second, 2000
	// The n-th delay is uniform in [0, min(cap, base·2ⁿ)).
	for n := range 8 {
		ceiling := min(cap, base<<n)
		lo, hi := ceiling, time.Duration(0)
		for range samples {
			b := NewBackoff(base, cap)
			var d time.Duration
			for range n + 1 {
				d, _ = b.Next()
			}
			if d < 0 || d >= ceiling {
				t.Fatalf("attempt %d: delay %v outside [0, %v)", n, d, ceiling)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range (the chance that 2000
		// uniform draws all miss the bottom or top 10% is below 1e-90).
		if lo > ceiling/10 || hi < ceiling*9/10 {
			t.Errorf("attempt %d: delays span only [%v, %v] of [0, %v)", n, lo, hi, ceiling)
		}
	}
}

func TestNewBackoffDefaults(t *testing.T) {
	b := NewBackoff(0, 0)
	for range 100 {
		if d, stop := b.Next(); stop || d < 0 || d >= defaultBackoffBase {
			t.Fatalf("Next() = %v, %v; want [0, %v) and no stop", d, stop, defaultBackoffBase)
		}
	}
}

func TestNextDelayHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		wantMin    time.Duration
	}{
		{"no hint", 0, 0},
		{"hint above backoff", 3 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBackoff(10*time.Millisecond, 10*time.Millisecond)
			d, stop := NextDelay(b, Classified{Class: ClassTransient, RetryAfter: tt.retryAfter, Err: errors.New("x")})
			if stop || d < tt.wantMin || (tt.retryAfter == 0 && d >= 10*time.Millisecond) {
				t.Errorf("NextDelay = %v, %v", d, stop)
			}
		})
	}
	stopped := goretry.WithMaxRetries(0, goretry.NewConstant(time.Second))
	if _, stop := NextDelay(stopped, Classified{RetryAfter: time.Second}); !stop {
		t.Error("NextDelay ignored a stopped backoff")
	}
}
