package casesim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/time/rate"

	"github.com/casebridge/casebridge/internal/casesim/awsquota"
)

// Quota is a token bucket on one operation, as AWS's per-account quotas
// are: calls past it are answered 429 ThrottlingException like UpdateCase's
// Faults.Rate. Rate ≤ 0 means unlimited; Burst 0 becomes 1. It is the same
// type as awsquota.Quota so AWS's defaults need no conversion.
type Quota = awsquota.Quota

// Operations are the Cases API operations the simulator serves, in the
// order of docs/casesim.md; stats and quotas use these names.
var Operations = []string{
	"CreateDomain", "CreateField", "ListFields", "BatchGetField", "DeleteField",
	"BatchPutFieldOptions", "ListFieldOptions", "CreateTemplate",
	"CreateCase", "GetCase", "UpdateCase", "SearchCases",
}

// QuotaPresetAWSDefault names AWS's published default quotas.
const QuotaPresetAWSDefault = "aws-default"

// QuotaPreset returns a named set of quotas for every simulated operation:
// "aws-default" (AWS's published defaults per account and Region, from
// awsquota) or "none" / "" (no quotas, the simulator's default so tests and
// benchmarks run at full speed unless they ask for the real regime).
func QuotaPreset(name string) (map[string]Quota, error) {
	switch name {
	case "", "none":
		return map[string]Quota{}, nil
	case QuotaPresetAWSDefault:
		out := make(map[string]Quota, len(Operations))
		for _, op := range Operations {
			out[op] = awsquota.For(op)
		}
		return out, nil
	}
	return nil, fmt.Errorf("casesim: unknown quota preset %q (want %s or none)", name, QuotaPresetAWSDefault)
}

// ParseQuota reads OPERATION=RATE[:BURST], e.g. "GetCase=4:10". A missing
// burst is 1; rate 0 lifts the quota. The operation must be one the
// simulator serves, so a misspelt name fails instead of limiting nothing.
func ParseQuota(spec string) (string, Quota, error) {
	op, val, ok := strings.Cut(spec, "=")
	if !ok || op == "" || val == "" {
		return "", Quota{}, fmt.Errorf("casesim: quota %q: want OPERATION=RATE[:BURST]", spec)
	}
	if !knownOperation(op) {
		return "", Quota{}, fmt.Errorf("casesim: quota %q: unknown operation %q (one of %s)", spec, op, strings.Join(Operations, ", "))
	}
	rs, bs, hasBurst := strings.Cut(val, ":")
	r, err := strconv.ParseFloat(rs, 64)
	if err != nil || r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return "", Quota{}, fmt.Errorf("casesim: quota %q: rate must be a finite number ≥ 0", spec)
	}
	q := Quota{Rate: r, Burst: 1}
	if hasBurst {
		b, err := strconv.Atoi(bs)
		if err != nil || b < 1 {
			return "", Quota{}, fmt.Errorf("casesim: quota %q: burst must be an integer ≥ 1", spec)
		}
		q.Burst = b
	}
	return op, q, nil
}

func knownOperation(op string) bool {
	for _, o := range Operations {
		if o == op {
			return true
		}
	}
	return false
}

// newQuotaLimiters builds one bucket per limited operation; the map is not
// changed afterwards, so the request path reads it without a lock.
func newQuotaLimiters(qs map[string]Quota) map[string]*rate.Limiter {
	out := map[string]*rate.Limiter{}
	for op, q := range qs {
		if q.Rate > 0 && !math.IsNaN(q.Rate) {
			out[op] = rate.NewLimiter(rate.Limit(q.Rate), max(q.Burst, 1))
		}
	}
	return out
}

// Quotas returns the operations' quotas fixed at New (UpdateCase's
// Faults.Rate is separate and changeable: see Faults).
func (s *Server) Quotas() map[string]Quota {
	out := make(map[string]Quota, len(s.quotas))
	for op, l := range s.quotas {
		out[op] = Quota{Rate: float64(l.Limit()), Burst: l.Burst()}
	}
	return out
}
