package casesim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Faults configures the misbehaviour the simulator injects. The zero value
// injects nothing. Rate limits UpdateCase only. Latency, errors, denials and
// drops apply to UpdateCase only, so that test setup (CreateCase) and
// verification (GetCase) stay reliable, unless AllOperations is set.
//
// The order per call is: token bucket (429 at once, no latency, like a
// front-door limiter), then latency, then one uniform draw u that decides
// drop (u < DropRate), deny (u < DropRate+DenyRate), error
// (u < DropRate+DenyRate+ErrorRate), so each rate is the exact fraction of
// the calls that passed the limiter.
type Faults struct {
	Rate          float64       // UpdateCase calls/s allowed; 0 = unlimited
	Burst         int           // token bucket burst (0 → 1 when Rate > 0)
	Latency       time.Duration // fixed extra latency per call
	LatencyJitter time.Duration // extra random latency in [0, LatencyJitter)
	ErrorRate     float64       // fraction answered 500 InternalServerException
	RetryAfter    time.Duration // when > 0, 500s carry Retry-After (whole seconds, rounded up)
	DenyRate      float64       // fraction answered 403 AccessDeniedException
	DropRate      float64       // fraction of connections closed without an answer (hijack + close)
	AllOperations bool          // latency, errors, denials and drops hit every Cases operation
}

// faultsJSON is the wire form of Faults for GET/PUT /casesim/faults:
// durations as Go duration strings ("20ms").
type faultsJSON struct {
	Rate          float64 `json:"rate"`
	Burst         int     `json:"burst"`
	Latency       string  `json:"latency"`
	LatencyJitter string  `json:"latencyJitter"`
	ErrorRate     float64 `json:"errorRate"`
	RetryAfter    string  `json:"retryAfter"`
	DenyRate      float64 `json:"denyRate"`
	DropRate      float64 `json:"dropRate"`
	AllOperations bool    `json:"allOperations"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Rate: f.Rate, Burst: f.Burst,
		Latency: f.Latency.String(), LatencyJitter: f.LatencyJitter.String(),
		ErrorRate: f.ErrorRate, RetryAfter: f.RetryAfter.String(),
		DenyRate: f.DenyRate, DropRate: f.DropRate, AllOperations: f.AllOperations,
	})
}

// UnmarshalJSON reads durations as Go duration strings; absent members are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var durs [3]time.Duration
	for i, s := range []string{j.Latency, j.LatencyJitter, j.RetryAfter} {
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("casesim: faults: %w", err)
		}
		durs[i] = d
	}
	*f = Faults{
		Rate: j.Rate, Burst: j.Burst,
		Latency: durs[0], LatencyJitter: durs[1],
		ErrorRate: j.ErrorRate, RetryAfter: durs[2],
		DenyRate: j.DenyRate, DropRate: j.DropRate, AllOperations: j.AllOperations,
	}
	return nil
}

// Validate reports settings that cannot mean anything.
func (f Faults) Validate() error {
	for name, p := range map[string]float64{"ErrorRate": f.ErrorRate, "DenyRate": f.DenyRate, "DropRate": f.DropRate} {
		if p < 0 || p > 1 || math.IsNaN(p) {
			return fmt.Errorf("casesim: %s %v is not a fraction in [0, 1]", name, p)
		}
	}
	if f.ErrorRate+f.DenyRate+f.DropRate > 1+1e-9 {
		return fmt.Errorf("casesim: ErrorRate+DenyRate+DropRate = %v exceeds 1", f.ErrorRate+f.DenyRate+f.DropRate)
	}
	if f.Rate < 0 || math.IsNaN(f.Rate) || f.Burst < 0 {
		return fmt.Errorf("casesim: Rate %v and Burst %d must not be negative", f.Rate, f.Burst)
	}
	if f.Latency < 0 || f.LatencyJitter < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("casesim: durations must not be negative")
	}
	return nil
}

// clamped brings every setting into its valid range.
func (f Faults) clamped() Faults {
	frac := func(p float64) float64 {
		if math.IsNaN(p) || p < 0 {
			return 0
		}
		return math.Min(p, 1)
	}
	// Past a sum of 1 the draw order decides: drops, then denials, then errors.
	f.ErrorRate, f.DenyRate, f.DropRate = frac(f.ErrorRate), frac(f.DenyRate), frac(f.DropRate)
	if math.IsNaN(f.Rate) || f.Rate < 0 {
		f.Rate = 0
	}
	f.Burst = max(f.Burst, 0)
	f.Latency, f.LatencyJitter, f.RetryAfter = max(f.Latency, 0), max(f.LatencyJitter, 0), max(f.RetryAfter, 0)
	return f
}

// faultState is swapped atomically as a whole so the UpdateCase path reads
// a consistent configuration without taking a lock.
type faultState struct {
	f       Faults
	limiter *rate.Limiter // nil when unlimited
}

func newFaultState(f Faults, prev *faultState) *faultState {
	if f.Rate > 0 && f.Burst == 0 {
		f.Burst = 1
	}
	st := &faultState{f: f}
	if f.Rate > 0 {
		// Keep the old bucket when only other faults change, so flipping an
		// error rate mid-run does not hand out a fresh burst.
		if prev != nil && prev.limiter != nil && prev.f.Rate == f.Rate && prev.f.Burst == f.Burst {
			st.limiter = prev.limiter
		} else {
			st.limiter = rate.NewLimiter(rate.Limit(f.Rate), f.Burst)
		}
	}
	return st
}

func (f Faults) retryAfterSeconds() int {
	if f.RetryAfter <= 0 {
		return 0
	}
	return int((f.RetryAfter + time.Second - 1) / time.Second)
}
