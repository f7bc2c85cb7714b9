// Package lookup finds the one Connect case whose field equals a value, for
// mapping rules that name a case by an upstream key (an order number)
// rather than by its id. Its one job: (domain, field, value) → case id,
// through SearchCases with a field equalTo filter, paced to the operation's
// quota, retried when throttled, and cached.
//
// The cache remembers a found case for Options.TTL and a search that found
// none, or several, for the shorter Options.MissTTL: a case created after a
// miss is found once the miss expires, and a burst of events for one order
// costs one SearchCases call. Concurrent lookups of the same key share one
// search. Errors from the API come back as they are (classify them with
// internal/retry); a lookup that found no case is a *NotFoundError, one that
// found several an *AmbiguousError. Neither error's text holds the value.
package lookup

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim/awsquota"
	"github.com/casebridge/casebridge/internal/retry"
)

// SearchAPI is the one Connect Cases call a Finder makes.
type SearchAPI interface {
	SearchCases(ctx context.Context, in *connectcases.SearchCasesInput, optFns ...func(*connectcases.Options)) (*connectcases.SearchCasesOutput, error)
}

// Options configures a Finder. Zero fields take the defaults.
type Options struct {
	TTL        time.Duration // a found case is remembered this long (5m)
	MissTTL    time.Duration // no case, or several, is remembered this long (30s)
	MaxEntries int           // cache bound (10000); the oldest-expiring go first when full
	// Pace is SearchCases' token bucket; the zero value is AWS's default
	// quota (awsquota: 2/s, burst 10), shared by every lookup of the process.
	Pace awsquota.Quota
	// Share, when above 0, is this instance's share of the account's
	// SearchCases quota in calls/s (CASEBRIDGE_LOOKUP_RATE_LIMIT), in place
	// of Pace: the searches are paced one at a time, because instances that
	// each burst into the account's bucket of 10 empty it together.
	Share float64
	// Attempts bounds the calls of one search, the first included (6):
	// throttles and transient failures are retried with full-jitter backoff.
	Attempts    int
	BackoffBase time.Duration // 200ms
	BackoffMax  time.Duration // 5s
	// MaxWait bounds one shared search, retries and pacing included (30s),
	// and never outlasts the deadline of the caller that started it.
	MaxWait  time.Duration
	Observer Observer         // nil → none
	Logger   *zap.Logger      // nil → no logs
	Now      func() time.Time // the cache's clock
}

// Observer hears what a Finder does, for metrics.
type Observer interface {
	// ObserveLookup: one Find answered, from the cache or by a search
	// (its own or one it shared).
	ObserveLookup(cached bool)
	// ObserveSearch: one SearchCases call and its class ("" = success).
	ObserveSearch(c retry.Class)
}

type nopObserver struct{}

func (nopObserver) ObserveLookup(bool)        {}
func (nopObserver) ObserveSearch(retry.Class) {}

// NotFoundError: no case has the field equal to the value.
type NotFoundError struct {
	DomainID, FieldID string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("case lookup: no case in domain %s has field %s equal to the event's value", e.DomainID, e.FieldID)
}

// AmbiguousError: several cases have the field equal to the value, so
// which one to update is unknown; casebridge never updates several.
type AmbiguousError struct {
	DomainID, FieldID string
	Count             int // at least 2; the search stops counting early
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("case lookup: %d or more cases in domain %s have field %s equal to the event's value; refusing to choose", e.Count, e.DomainID, e.FieldID)
}

// Finder looks cases up; it is safe for concurrent use.
type Finder struct {
	api   SearchAPI
	o     Options
	pace  *rate.Limiter
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]entry
}

// entry is one remembered search: caseID when it found exactly one case,
// else count (0 or 2+).
type entry struct {
	caseID  string
	count   int
	expires time.Time
}

// New returns a Finder calling api.
func New(api SearchAPI, o Options) *Finder {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.MissTTL <= 0 {
		o.MissTTL = 30 * time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	switch {
	case o.Share > 0:
		o.Pace = awsquota.Quota{Rate: o.Share, Burst: 1}
	case !(o.Pace.Rate > 0):
		o.Pace = awsquota.For("SearchCases")
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 200 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	lim := rate.NewLimiter(rate.Limit(o.Pace.Rate), max(o.Pace.Burst, 1))
	if math.IsInf(o.Pace.Rate, 1) {
		lim = rate.NewLimiter(rate.Inf, 0)
	}
	return &Finder{api: api, o: o, pace: lim, cache: map[string]entry{}}
}

// Find returns the id of the one case in domainID whose field fieldID
// equals value. value must not be the empty value (it would match every
// case without one).
func (f *Finder) Find(ctx context.Context, domainID, fieldID string, value types.FieldValueUnion) (string, error) {
	k, err := key(domainID, fieldID, value)
	if err != nil {
		return "", err
	}
	if e, ok := f.cached(k); ok {
		f.o.Observer.ObserveLookup(true)
		return f.answer(domainID, fieldID, e)
	}
	ch := f.group.DoChan(k, func() (any, error) {
		// Shared by every caller waiting for this key, so it does not end
		// when the first caller goes away; it keeps that caller's deadline.
		sctx, cancel := f.sharedContext(ctx)
		defer cancel()
		e, err := f.search(sctx, domainID, fieldID, value)
		if err != nil {
			return nil, err
		}
		f.store(k, e)
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		f.o.Observer.ObserveLookup(false)
		return f.answer(domainID, fieldID, r.Val.(entry))
	case <-ctx.Done():
		return "", fmt.Errorf("case lookup: %w", ctx.Err())
	}
}

// Forget drops what the cache remembers for a key, for a caller that
// learned it is stale (the case it named no longer exists).
func (f *Finder) Forget(domainID, fieldID string, value types.FieldValueUnion) {
	if k, err := key(domainID, fieldID, value); err == nil {
		f.mu.Lock()
		delete(f.cache, k)
		f.mu.Unlock()
	}
}

func (f *Finder) answer(domainID, fieldID string, e entry) (string, error) {
	switch {
	case e.caseID != "":
		return e.caseID, nil
	case e.count == 0:
		return "", &NotFoundError{DomainID: domainID, FieldID: fieldID}
	default:
		return "", &AmbiguousError{DomainID: domainID, FieldID: fieldID, Count: e.count}
	}
}

// sharedContext is ctx without its cancellation, ending at ctx's deadline
// or after MaxWait, whichever is sooner (wall-clock time: Options.Now is
// the cache's clock only).
func (f *Finder) sharedContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl := time.Now().Add(f.o.MaxWait)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), dl)
}

// maxPages bounds the pages read to tell one case from several: the
// service may return fewer items than asked for along with a next token.
const maxPages = 5

// search asks SearchCases for at most two matching cases: one is the
// answer, two are enough to refuse.
func (f *Finder) search(ctx context.Context, domainID, fieldID string, value types.FieldValueUnion) (entry, error) {
	in := &connectcases.SearchCasesInput{
		DomainId:   aws.String(domainID),
		MaxResults: aws.Int32(2),
		Filter: &types.CaseFilterMemberField{Value: &types.FieldFilterMemberEqualTo{
			Value: types.FieldValue{Id: aws.String(fieldID), Value: value},
		}},
	}
	var ids []string
	for page := 0; page < maxPages; page++ {
		out, err := f.call(ctx, in)
		if err != nil {
			return entry{}, err
		}
		for _, c := range out.Cases {
			if c != nil && aws.ToString(c.CaseId) != "" {
				ids = append(ids, aws.ToString(c.CaseId))
			}
		}
		if len(ids) >= 2 {
			return entry{count: max(len(ids), int(min(out.TotalCount, math.MaxInt32))), expires: f.o.Now().Add(f.o.MissTTL)}, nil
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
	if len(ids) == 1 {
		return entry{caseID: ids[0], count: 1, expires: f.o.Now().Add(f.o.TTL)}, nil
	}
	return entry{expires: f.o.Now().Add(f.o.MissTTL)}, nil
}

// noSDKRetries: the SDK's retryer would bypass the pace and add attempts
// on top of ours.
func noSDKRetries(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }

// call makes one paced SearchCases request, retrying throttles and
// transient failures. It gives up with the last API error, so the caller
// sees what the service said; a pace that cannot be had within ctx is a
// throttle (retry.Classified) for the caller to retry later.
func (f *Finder) call(ctx context.Context, in *connectcases.SearchCasesInput) (*connectcases.SearchCasesOutput, error) {
	b := retry.NewBackoff(f.o.BackoffBase, f.o.BackoffMax)
	for attempt := 1; ; attempt++ {
		if err := f.pace.Wait(ctx); err != nil {
			return nil, retry.Classified{Class: retry.ClassThrottle, Err: fmt.Errorf("case lookup: waiting for the SearchCases pace: %w", err)}
		}
		out, err := f.api.SearchCases(ctx, in, noSDKRetries)
		c := retry.Classify(ctx, err)
		f.o.Observer.ObserveSearch(c.Class)
		if err == nil {
			return out, nil
		}
		if c.Class != retry.ClassThrottle && c.Class != retry.ClassTransient {
			return nil, fmt.Errorf("case lookup: %w", err)
		}
		d, _ := retry.NextDelay(b, c)
		if attempt >= f.o.Attempts || !fits(ctx, time.Now().Add(d)) {
			return nil, fmt.Errorf("case lookup: %w", err)
		}
		f.o.Logger.Debug("SearchCases failed; retrying", zap.String("class", string(c.Class)),
			zap.Int("attempt", attempt), zap.Duration("delay", d), zap.Error(err))
		if retry.Sleep(ctx, d) != nil {
			return nil, fmt.Errorf("case lookup: %w", err)
		}
	}
}

func fits(ctx context.Context, t time.Time) bool {
	dl, ok := ctx.Deadline()
	return !ok || t.Before(dl)
}

func (f *Finder) cached(k string) (entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cache[k]
	if !ok {
		return entry{}, false
	}
	if !f.o.Now().Before(e.expires) {
		delete(f.cache, k)
		return entry{}, false
	}
	return e, true
}

func (f *Finder) store(k string, e entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cache[k]; !ok && len(f.cache) >= f.o.MaxEntries {
		f.evict()
	}
	f.cache[k] = e
}

// evict makes room: every expired entry goes, and if none had expired, the
// one that expires soonest (a scan: only a full cache pays for it).
func (f *Finder) evict() {
	now := f.o.Now()
	var soonest string
	var at time.Time
	for k, e := range f.cache {
		if !now.Before(e.expires) {
			delete(f.cache, k)
			continue
		}
		if soonest == "" || e.expires.Before(at) {
			soonest, at = k, e.expires
		}
	}
	if len(f.cache) >= f.o.MaxEntries && soonest != "" {
		delete(f.cache, soonest)
	}
}

// errEmptyValue: an empty value would match every case that has none. A
// rejection, so the message is dead-lettered rather than retried.
var errEmptyValue = &contract.RejectionError{Path: "lookup.value", Rule: "the value to look up is empty; it would match every case without one"}

// key is the cache key; the member's kind is part of it, since the string
// "42" and the number 42 match different cases.
func key(domainID, fieldID string, v types.FieldValueUnion) (string, error) {
	var s string
	switch x := v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		s = "s" + x.Value
	case *types.FieldValueUnionMemberDoubleValue:
		s = "d" + strconv.FormatFloat(x.Value, 'g', -1, 64)
	case *types.FieldValueUnionMemberBooleanValue:
		s = "b" + strconv.FormatBool(x.Value)
	case *types.FieldValueUnionMemberUserArnValue:
		s = "u" + x.Value
	default:
		return "", errEmptyValue
	}
	return domainID + "\x00" + fieldID + "\x00" + s, nil
}
