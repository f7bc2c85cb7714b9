package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"golang.org/x/time/rate"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/retry"
)

// awsQuotas are the simulator's quotas at AWS's defaults, written out
// independently of DefaultPacing so that a wrong table fails the test.
var awsQuotas = map[string]casesim.Quota{
	"ListFields":       {Rate: 2, Burst: 5},
	"BatchGetField":    {Rate: 8, Burst: 25},
	"ListFieldOptions": {Rate: 6, Burst: 16},
}

// unpaced lets tests of the retries run at the simulator's speed.
var unpaced = Pacing{ListFields: Pace{Rate: math.Inf(1)}, BatchGetField: Pace{Rate: math.Inf(1)}, ListFieldOptions: Pace{Rate: math.Inf(1)}}

var catalogOps = []string{"ListFields", "BatchGetField", "ListFieldOptions"}

// selectSeed is a seed whose domains have n[i] SingleSelect fields each
// (three options apiece) plus one Text field.
func selectSeed(t *testing.T, n map[string]int) string {
	t.Helper()
	var sd casesim.Seed
	for id, count := range n {
		d := casesim.SeedDomain{ID: id, Name: id, Fields: []casesim.SeedField{{ID: id + "-title", Name: "Title", Type: "Text"}}}
		for i := range count {
			d.Fields = append(d.Fields, casesim.SeedField{ID: fmt.Sprintf("%s-s%02d", id, i), Name: fmt.Sprintf("Select %02d", i),
				Type: "SingleSelect", Options: []string{"a", "b", "c"}})
		}
		sd.Domains = append(sd.Domains, d)
	}
	b, err := json.Marshal(sd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// statuses sums the simulator's answers to the catalog's operations by status.
func statuses(s *sim) map[int]int {
	out := map[int]int{}
	for _, op := range catalogOps {
		for code, n := range s.Stats()[op] {
			out[code] += n
		}
	}
	return out
}

func checkLoaded(t *testing.T, c *Catalog, id string, selects int) {
	t.Helper()
	d, err := c.Domain(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range selects {
		if f, ok := d.Lookup(fmt.Sprintf("Select %02d", i)); !ok || len(f.Options) != 3 {
			t.Fatalf("%s: Select %02d = %+v, %v", id, i, f, ok)
		}
	}
}

// TestLoadPacedWithinQuota loads a domain of 40 SingleSelect fields, then a
// second of 10, against a simulator that enforces AWS's default quotas: the
// default pacing keeps the 429s to timing noise, for the second load too,
// which starts with the ListFieldOptions bucket the first one emptied.
func TestLoadPacedWithinQuota(t *testing.T) {
	s := startSimWith(t, casesim.Options{Quotas: awsQuotas}, selectSeed(t, map[string]int{"big": 40, "small": 10}))
	c := New(s.client, Options{})
	ctx := context.Background()
	for _, d := range []struct {
		id      string
		selects int
	}{{"big", 40}, {"small", 10}} {
		start := time.Now()
		if _, err := c.Domain(ctx, d.id); err != nil {
			t.Fatalf("load of %s: %v", d.id, err)
		}
		t.Logf("%s (%d SingleSelect fields) loaded in %v", d.id, d.selects, time.Since(start).Round(time.Millisecond))
		checkLoaded(t, c, d.id, d.selects)
	}
	st := statuses(s)
	t.Logf("catalog calls by status: %v; ListFieldOptions: %v", st, s.Stats()["ListFieldOptions"])
	if st[200] != 2+2+50 {
		t.Errorf("successful calls = %d, want 54 (2 ListFields, 2 BatchGetField, 50 ListFieldOptions)", st[200])
	}
	if st[429] > 3 {
		t.Errorf("%d throttled calls; pacing at the quota should leave at most a few", st[429])
	}
}

// TestLoadRetriesThrottles paces ListFieldOptions far above the
// simulator's quota, so the load meets throttles, and it still succeeds.
func TestLoadRetriesThrottles(t *testing.T) {
	s := startSimWith(t, casesim.Options{Quotas: map[string]casesim.Quota{"ListFieldOptions": {Rate: 20, Burst: 5}}},
		selectSeed(t, map[string]int{"big": 40}))
	c := New(s.client, Options{Pacing: Pacing{ListFieldOptions: Pace{Rate: math.Inf(1)}}})
	start := time.Now()
	if _, err := c.Domain(context.Background(), "big"); err != nil {
		t.Fatalf("load: %v", err)
	}
	checkLoaded(t, c, "big", 40)
	st := s.Stats()["ListFieldOptions"]
	t.Logf("loaded in %v; ListFieldOptions answers by status: %v", time.Since(start).Round(time.Millisecond), st)
	if st[429] == 0 || st[200] != 40 {
		t.Errorf("ListFieldOptions = %v, want some 429s and 40 successes", st)
	}
}

// TestLoadRetriesServerErrors: half of all calls answer 500; the load
// retries them and succeeds.
func TestLoadRetriesServerErrors(t *testing.T) {
	s := startSimWith(t, casesim.Options{RandSeed: 7, Faults: casesim.Faults{ErrorRate: 0.5, AllOperations: true}}, seed)
	c := New(s.client, Options{Pacing: unpaced})
	c.api.policy.base, c.api.policy.max = time.Millisecond, 10*time.Millisecond // the policy's shape, not its pace, is under test
	if _, err := c.Domain(context.Background(), dom); err != nil {
		t.Fatalf("load: %v", err)
	}
	st := statuses(s)
	if st[500] == 0 || st[200] != 4 {
		t.Errorf("calls by status = %v, want some 500s and 4 successes", st)
	}
}

// TestLoadRetryIsBounded: a service that always answers 500 gets the
// policy's attempts and no more, even from a client whose SDK retryer is
// on (the catalog turns it off for its calls).
func TestLoadRetryIsBounded(t *testing.T) {
	s := startSimWith(t, casesim.Options{Faults: casesim.Faults{ErrorRate: 1, AllOperations: true}}, seed)
	o := s.client.Options()
	o.Retryer = awsretry.NewStandard()
	c := New(connectcases.New(o), Options{Pacing: unpaced})
	c.api.policy.base, c.api.policy.max = time.Millisecond, time.Millisecond
	if _, err := c.Domain(context.Background(), dom); retry.Classify(context.Background(), err).Class != retry.ClassTransient {
		t.Fatalf("err = %v, want the service's 500", err)
	}
	if n := s.Stats()["ListFields"][500]; n != c.api.policy.attempts {
		t.Errorf("ListFields calls = %d, want %d", n, c.api.policy.attempts)
	}
}

// TestPermanentErrorsAreNotRetried: an unknown domain (404) and a denial
// (403) cost one call each.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name   string
		faults casesim.Faults
		domain string
		class  retry.Class
		status int
	}{
		{"not found", casesim.Faults{}, "no-such-domain", retry.ClassNotFound, 404},
		{"denied", casesim.Faults{DenyRate: 1, AllOperations: true}, dom, retry.ClassForbidden, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSimWith(t, casesim.Options{Faults: tt.faults}, seed)
			_, err := New(s.client, Options{}).Domain(context.Background(), tt.domain)
			if got := retry.Classify(context.Background(), err).Class; got != tt.class {
				t.Fatalf("err = %v (%s), want %s", err, got, tt.class)
			}
			if st := statuses(s); st[tt.status] != 1 || len(st) != 1 {
				t.Errorf("calls by status = %v, want one %d", st, tt.status)
			}
		})
	}
}

func TestPacingDefaultsAndOverride(t *testing.T) {
	c := New(nil, Options{Pacing: Pacing{BatchGetField: Pace{Rate: 1, Burst: 2}, ListFields: Pace{Rate: math.Inf(1)}}})
	for _, tt := range []struct {
		name  string
		lim   *rate.Limiter
		limit rate.Limit
		burst int
	}{
		{"ListFields", c.api.lists, rate.Inf, 0},
		{"BatchGetField", c.api.gets, 1, 2},
		{"ListFieldOptions", c.api.options, 6, 16}, // zero Pace: AWS's default
	} {
		if tt.lim.Limit() != tt.limit || tt.lim.Burst() != tt.burst {
			t.Errorf("%s: %v/s burst %d, want %v burst %d", tt.name, tt.lim.Limit(), tt.lim.Burst(), tt.limit, tt.burst)
		}
	}
}

// TestRefreshIntervalsJittered checks the intervals Run waits, drawn from
// an injected source, and the spread of the default source; no sleeping.
func TestRefreshIntervalsJittered(t *testing.T) {
	const refresh = 4 * time.Minute
	lo, hi := 3*time.Minute, 5*time.Minute

	c := New(nil, Options{Refresh: refresh})
	minSeen, maxSeen := hi, lo
	for range 10000 {
		d := c.nextRefresh()
		if d < lo || d > hi {
			t.Fatalf("interval %v outside [%v, %v]", d, lo, hi)
		}
		minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
	}
	// 10000 uniform draws all missing the outer 5% at either end: p < 1e-200.
	if minSeen > lo+3*time.Second || maxSeen < hi-3*time.Second {
		t.Errorf("intervals span only [%v, %v] of [%v, %v]", minSeen, maxSeen, lo, hi)
	}

	// Run waits the drawn interval each time, refreshing in between.
	s := startSim(t)
	c = New(s.client, Options{Domains: []string{dom}, Refresh: refresh})
	draws := []float64{0, 0.5, 0.999}
	c.rand = func() float64 { u := draws[0]; draws = draws[1:]; return u }
	asked := make(chan time.Duration)
	fire := make(chan time.Time)
	c.after = func(d time.Duration) <-chan time.Time { asked <- d; return fire }
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	want := []time.Duration{lo, refresh, lo + time.Duration(0.999*float64(hi-lo))}
	for i, w := range want {
		if d := <-asked; d != w {
			t.Errorf("interval %d = %v, want %v", i, d, w)
		}
		if i < len(want)-1 {
			fire <- time.Time{}
		}
	}
	cancel()
	<-done
	if n := s.count("ListFields"); n != 3 {
		t.Errorf("ListFields calls = %d, want 3 (the load and two refreshes)", n)
	}
}
