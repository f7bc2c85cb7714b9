package lookup_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/casesim/awsquota"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const dom = "9b1e0c4d-1111-4222-8333-444455556666"

// seed is a domain whose cases carry an upstream key: order 8842 is one
// case, order 9000 two (a duplicate an agent created), order 1 none.
const seed = `{"domains":[{"id":"` + dom + `","name":"lookups",
 "fields":[{"name":"title","type":"Text"},{"name":"order_number","type":"Text"},{"name":"order_count","type":"Number"}],
 "templates":[{"id":"t","name":"t"}],
 "cases":[
  {"id":"c-8842","templateId":"t","fields":{"title":"a","order_number":"8842","order_count":8842}},
  {"id":"c-9000-a","templateId":"t","fields":{"title":"b","order_number":"9000"}},
  {"id":"c-9000-b","templateId":"t","fields":{"title":"c","order_number":"9000"}}]}]}`

func start(t *testing.T, opts casesim.Options) (*casesim.Server, string) {
	t.Helper()
	sim, url := testbed.StartCasesimT(t, opts)
	if err := sim.LoadSeed(strings.NewReader(seed)); err != nil {
		t.Fatal(err)
	}
	return sim, url
}

func str(s string) types.FieldValueUnion { return &types.FieldValueUnionMemberStringValue{Value: s} }

func searches(sim *casesim.Server) (ok, throttled int) {
	st := sim.Stats()["SearchCases"]
	return st[200], st[429]
}

// clock is a settable Now for TTL tests.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestFindAnswersAndCaches(t *testing.T) {
	sim, url := start(t, casesim.Options{})
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{TTL: time.Minute, MissTTL: 10 * time.Second, Now: clk.now})
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		field   string
		value   types.FieldValueUnion
		want    string
		errWant any
	}{
		{"hit", "order_number", str("8842"), "c-8842", nil},
		{"hit on a number field", "order_count", &types.FieldValueUnionMemberDoubleValue{Value: 8842}, "c-8842", nil},
		{"miss", "order_number", str("1"), "", &lookup.NotFoundError{}},
		{"ambiguous", "order_number", str("9000"), "", &lookup.AmbiguousError{}},
		// The string "8842" is not the number 8842: a different key, a different search.
		{"kind is part of the key", "order_count", str("8842"), "", &lookup.NotFoundError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := searches(sim)
			for i := range 2 { // the second asks the cache
				got, err := f.Find(ctx, dom, tc.field, tc.value)
				if got != tc.want {
					t.Errorf("try %d: case %q, want %q (err %v)", i, got, tc.want, err)
				}
				switch want := tc.errWant.(type) {
				case nil:
					if err != nil {
						t.Errorf("try %d: %v", i, err)
					}
				case *lookup.NotFoundError:
					if !errors.As(err, &want) || want.FieldID != tc.field {
						t.Errorf("try %d: err %v, want NotFoundError for %s", i, err, tc.field)
					}
				case *lookup.AmbiguousError:
					if !errors.As(err, &want) || want.Count != 2 {
						t.Errorf("try %d: err %v, want AmbiguousError counting 2", i, err)
					}
				}
				if err != nil && strings.Contains(err.Error(), "9000") {
					t.Errorf("error text holds the value: %v", err)
				}
			}
			if after, _ := searches(sim); after-before != 1 {
				t.Errorf("%d SearchCases calls for two finds, want 1 (the second from the cache)", after-before)
			}
		})
	}

	// A miss is remembered for MissTTL only; a hit for TTL.
	before, _ := searches(sim)
	clk.advance(11 * time.Second)
	if _, err := f.Find(ctx, dom, "order_number", str("1")); err == nil {
		t.Fatal("miss became a hit")
	}
	if _, err := f.Find(ctx, dom, "order_number", str("8842")); err != nil {
		t.Fatal(err)
	}
	if after, _ := searches(sim); after-before != 1 {
		t.Errorf("after 11s: %d searches, want 1 (the expired miss; the hit is still cached)", after-before)
	}
	clk.advance(time.Minute)
	if _, err := f.Find(ctx, dom, "order_number", str("8842")); err != nil {
		t.Fatal(err)
	}
	if after, _ := searches(sim); after-before != 2 {
		t.Errorf("after the TTL: %d searches, want 2 (the hit searched again)", after-before)
	}
	// Forget drops a stale hit.
	f.Forget(dom, "order_number", str("8842"))
	if _, err := f.Find(ctx, dom, "order_number", str("8842")); err != nil {
		t.Fatal(err)
	}
	if after, _ := searches(sim); after-before != 3 {
		t.Errorf("after Forget: %d searches, want 3", after-before)
	}
}

// TestConcurrentFindsShareOneSearch: a burst of events for one order costs
// one SearchCases call.
func TestConcurrentFindsShareOneSearch(t *testing.T) {
	sim, url := start(t, casesim.Options{})
	sim.SetFaults(casesim.Faults{Latency: 50 * time.Millisecond}) // keep the first search in flight while the rest arrive
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if id, err := f.Find(context.Background(), dom, "order_number", str("8842")); err != nil || id != "c-8842" {
				errs <- fmt.Errorf("%q %v", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok, _ := searches(sim); ok != 1 {
		t.Errorf("%d SearchCases calls for 20 concurrent finds of one key, want 1", ok)
	}
}

// TestThrottlesAreRetried: behind a quota tighter than the pace, throttled
// searches are retried until they succeed.
func TestThrottlesAreRetried(t *testing.T) {
	sim, url := start(t, casesim.Options{Quotas: map[string]casesim.Quota{"SearchCases": {Rate: 5, Burst: 1}}})
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{Pace: awsquota.Quota{Rate: math.Inf(1)}, BackoffBase: 20 * time.Millisecond, Attempts: 50})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			// Distinct keys: six searches; only the first one is not a miss.
			_, err := f.Find(context.Background(), dom, "order_number", str(fmt.Sprint(8842+i)))
			var nf *lookup.NotFoundError
			if err != nil && !errors.As(err, &nf) {
				t.Errorf("find %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	ok, throttled := searches(sim)
	if ok != 6 || throttled == 0 {
		t.Errorf("%d searches answered, %d throttled: want 6 answered after some throttles", ok, throttled)
	}
}

// TestPacedToTheQuota: at AWS's default pace (2/s, burst 10), twelve
// searches cannot finish in under 0.9s, and the simulator enforcing the
// same quota throttles at most one of them (pacing at exactly the quota,
// a request may reach the server a hair before its bucket refilled; that
// throttle is retried).
func TestPacedToTheQuota(t *testing.T) {
	sim, url := start(t, casesim.Options{Quotas: map[string]casesim.Quota{"SearchCases": awsquota.For("SearchCases")}})
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{})
	t0 := time.Now()
	for i := range 12 {
		if _, err := f.Find(context.Background(), dom, "order_number", str(fmt.Sprint(i))); err == nil {
			t.Fatalf("order %d found", i)
		}
	}
	if d := time.Since(t0); d < 900*time.Millisecond {
		t.Errorf("12 searches in %v: not paced at 2/s after a burst of 10", d)
	}
	if ok, throttled := searches(sim); ok != 12 || throttled > 1 {
		t.Errorf("%d answered, %d throttled; want 12 and at most 1", ok, throttled)
	}
}

// TestFleetSharesTheSearchQuota: three instances' Finders search one
// account's quota at once. Each pacing at the whole quota bursts into the
// account's bucket together with the others and is throttled; each given an
// exact share (Share = 0.95 × quota ÷ 3, CASEBRIDGE_LOOKUP_RATE_LIMIT) is
// paced one search at a time and is not (at most one throttle, a request a
// hair early). Every search is answered either way.
func TestFleetSharesTheSearchQuota(t *testing.T) {
	quota := awsquota.Quota{Rate: 30, Burst: 10} // a raised quota: the test takes about a second
	const instances, each = 3, 12
	tests := []struct {
		name          string
		opts          lookup.Options
		wantThrottles bool // else at most one
	}{
		{"each at the whole quota", lookup.Options{Pace: quota}, true},
		{"exact shares", lookup.Options{Share: 0.95 * quota.Rate / instances}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, url := start(t, casesim.Options{Quotas: map[string]casesim.Quota{"SearchCases": quota}})
			opts := tt.opts
			opts.BackoffBase, opts.Attempts = 20*time.Millisecond, 50
			var wg sync.WaitGroup
			for i := range instances {
				f := lookup.New(testbed.NewCasesClient(url), opts)
				for k := range each {
					wg.Go(func() {
						_, err := f.Find(context.Background(), dom, "order_number", str(fmt.Sprintf("%d-%d", i, k)))
						var nf *lookup.NotFoundError
						if !errors.As(err, &nf) {
							t.Errorf("instance %d search %d: %v, want no case found", i, k, err)
						}
					})
				}
			}
			wg.Wait()
			ok, throttled := searches(sim)
			t.Logf("%d searches answered, %d throttled", ok, throttled)
			if ok != instances*each {
				t.Errorf("%d searches answered, want %d", ok, instances*each)
			}
			if tt.wantThrottles && throttled == 0 {
				t.Error("no search throttled: the fleet did not overrun the account's bucket, so the test shows nothing")
			}
			if !tt.wantThrottles && throttled > 1 {
				t.Errorf("%d searches throttled, want at most 1", throttled)
			}
		})
	}
}

// TestPermanentErrorsAreNotRetried: a field the domain lacks is the rule's
// mistake; it comes back at once, classified as validation.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	sim, url := start(t, casesim.Options{})
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{})
	_, err := f.Find(context.Background(), dom, "no_such_field", str("x"))
	if c := retry.Classify(context.Background(), err); c.Class != retry.ClassValidation {
		t.Errorf("err %v classified %q, want validation", err, c.Class)
	}
	if st := sim.Stats()["SearchCases"]; st[400] != 1 {
		t.Errorf("calls by status %v, want one 400", st)
	}
}

// TestPaceWaitPastTheDeadlineIsAThrottle: a lookup whose turn would come
// after the caller's deadline returns at once as a throttle, for the
// caller to retry later.
func TestPaceWaitPastTheDeadlineIsAThrottle(t *testing.T) {
	_, url := start(t, casesim.Options{})
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{Pace: awsquota.Quota{Rate: 0.01, Burst: 1}})
	if _, err := f.Find(context.Background(), dom, "order_number", str("1")); err == nil {
		t.Fatal("order 1 found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t0 := time.Now()
	_, err := f.Find(ctx, dom, "order_number", str("2"))
	var cl retry.Classified
	if !errors.As(err, &cl) || cl.Class != retry.ClassThrottle {
		t.Errorf("err %v, want a throttle", err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("took %v: should give up at once rather than wait for a turn past the deadline", d)
	}
}

// counter is an Observer that counts.
type counter struct {
	mu       sync.Mutex
	cached   int
	searched int
	classes  map[retry.Class]int
}

func (c *counter) ObserveLookup(cached bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached {
		c.cached++
	} else {
		c.searched++
	}
}

func (c *counter) ObserveSearch(cl retry.Class) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.classes == nil {
		c.classes = map[retry.Class]int{}
	}
	c.classes[cl]++
}

// TestObserverHearsCacheAndSearches: the metrics hooks see each answer's
// source and each SearchCases call's class, throttles included.
func TestObserverHearsCacheAndSearches(t *testing.T) {
	sim, url := start(t, casesim.Options{Quotas: map[string]casesim.Quota{"SearchCases": {Rate: 5, Burst: 1}}})
	obs := &counter{}
	f := lookup.New(testbed.NewCasesClient(url), lookup.Options{Observer: obs, Pace: awsquota.Quota{Rate: math.Inf(1)}, BackoffBase: 20 * time.Millisecond, Attempts: 50})
	for _, order := range []string{"8842", "8842", "9000", "1", "8842"} {
		_, _ = f.Find(context.Background(), dom, "order_number", str(order))
	}
	ok, throttled := searches(sim)
	if obs.cached != 2 || obs.searched != 3 || obs.classes[""] != ok || obs.classes[retry.ClassThrottle] != throttled || ok != 3 {
		t.Errorf("observed %d cached, %d searched, calls %v; the simulator answered %d ok, %d throttled", obs.cached, obs.searched, obs.classes, ok, throttled)
	}
}

// TestEmptyValueIsRefused: an empty value would match every case without
// one; it is refused as the message's fault, with no search.
func TestEmptyValueIsRefused(t *testing.T) {
	sim, url := start(t, casesim.Options{})
	_, err := lookup.New(testbed.NewCasesClient(url), lookup.Options{}).Find(context.Background(), dom, "order_number", &types.FieldValueUnionMemberEmptyValue{})
	var rej *contract.RejectionError
	if !errors.As(err, &rej) {
		t.Errorf("err %v, want a rejection", err)
	}
	if ok, _ := searches(sim); ok != 0 {
		t.Errorf("%d searches, want none", ok)
	}
}
