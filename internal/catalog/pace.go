package catalog

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/casebridge/casebridge/internal/casesim/awsquota"
	"github.com/casebridge/casebridge/internal/retry"
)

// Pace is one operation's token bucket: Rate calls per second on average,
// at most Burst at once.
type Pace struct {
	Rate  float64 // calls/s; math.Inf(1) = not paced
	Burst int     // 0 → 1
}

// Pacing holds the bucket of each operation the catalog calls. A Pace whose
// Rate is not above 0 takes that operation's default (DefaultPacing).
type Pacing struct {
	ListFields       Pace
	BatchGetField    Pace
	ListFieldOptions Pace
}

// DefaultPacing is AWS's default quota per account and Region for each
// operation, read from awsquota, the table the simulator's
// --quotas aws-default uses too, so the numbers live in one place. The quota is shared by every casebridge instance and every
// other caller in the account, so one process pacing at it can still meet
// throttles; those are retried (below), and Run's jitter keeps a fleet's
// refreshes apart. Lower it through Options.Pacing when the account's
// quota was lowered or other callers need a share.
func DefaultPacing() Pacing {
	pace := func(op string) Pace { q := awsquota.For(op); return Pace{Rate: q.Rate, Burst: q.Burst} }
	return Pacing{
		ListFields:       pace("ListFields"),
		BatchGetField:    pace("BatchGetField"),
		ListFieldOptions: pace("ListFieldOptions"),
	}
}

// retryPolicy bounds the retries of one call that was throttled or failed
// transiently.
type retryPolicy struct {
	attempts  int           // per call, the first one included
	base, max time.Duration // full-jitter exponential backoff
	budget    time.Duration // no retry would start later than this after the first attempt
}

// defaultRetryPolicy: the backoff sum is at most about 43s over 10
// attempts, so a start-up load outlasts a fleet's start-up burst of
// ListFieldOptions, and a call never waits past a minute (the context of a
// load triggered by a message bounds it sooner).
func defaultRetryPolicy() retryPolicy {
	return retryPolicy{attempts: 10, base: 200 * time.Millisecond, max: 10 * time.Second, budget: time.Minute}
}

// paced is the CasesAPI every load calls through: each request waits for
// its operation's token (the buckets belong to the Catalog, so concurrent
// loads and refreshes share them), and a throttle or transient failure is
// retried with backoff. Permanent failures (404, 403, 400) return at once.
type paced struct {
	api     CasesAPI
	policy  retryPolicy
	log     *zap.Logger
	lists   *rate.Limiter // ListFields
	gets    *rate.Limiter // BatchGetField
	options *rate.Limiter // ListFieldOptions
}

func newPaced(api CasesAPI, p Pacing, log *zap.Logger) *paced {
	d := DefaultPacing()
	return &paced{
		api: api, policy: defaultRetryPolicy(), log: log,
		lists:   limiter(p.ListFields, d.ListFields),
		gets:    limiter(p.BatchGetField, d.BatchGetField),
		options: limiter(p.ListFieldOptions, d.ListFieldOptions),
	}
}

func limiter(p, def Pace) *rate.Limiter {
	if !(p.Rate > 0) { // 0, negative or NaN

		p = def
	}
	if math.IsInf(p.Rate, 1) {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(p.Rate), max(p.Burst, 1))
}

// noSDKRetries turns the SDK's retryer off for the catalog's calls whatever
// the client was built with: its retries would bypass the buckets and add
// attempts on top of ours.
func noSDKRetries(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }

// with returns optFns plus noSDKRetries without writing into the caller's
// backing array (the paginators pass theirs).
func with(optFns []func(*connectcases.Options)) []func(*connectcases.Options) {
	return append(optFns[:len(optFns):len(optFns)], noSDKRetries)
}

func (p *paced) ListFields(ctx context.Context, in *connectcases.ListFieldsInput, optFns ...func(*connectcases.Options)) (*connectcases.ListFieldsOutput, error) {
	return call(ctx, p, p.lists, "ListFields", func() (*connectcases.ListFieldsOutput, error) {
		return p.api.ListFields(ctx, in, with(optFns)...)
	})
}

func (p *paced) BatchGetField(ctx context.Context, in *connectcases.BatchGetFieldInput, optFns ...func(*connectcases.Options)) (*connectcases.BatchGetFieldOutput, error) {
	return call(ctx, p, p.gets, "BatchGetField", func() (*connectcases.BatchGetFieldOutput, error) {
		return p.api.BatchGetField(ctx, in, with(optFns)...)
	})
}

func (p *paced) ListFieldOptions(ctx context.Context, in *connectcases.ListFieldOptionsInput, optFns ...func(*connectcases.Options)) (*connectcases.ListFieldOptionsOutput, error) {
	return call(ctx, p, p.options, "ListFieldOptions", func() (*connectcases.ListFieldOptionsOutput, error) {
		return p.api.ListFieldOptions(ctx, in, with(optFns)...)
	})
}

// call makes one paced request, retrying throttles and transient failures
// within the policy and ctx. It returns the last API error when it gives
// up, so the caller (a message's outcome, a refresh's log) sees what the
// service said rather than "retries exhausted".
func call[T any](ctx context.Context, p *paced, lim *rate.Limiter, op string, fn func() (T, error)) (T, error) {
	var zero T
	b := retry.NewBackoff(p.policy.base, p.policy.max)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		// Retries wait for a token too: they are calls against the same quota.
		if err := lim.Wait(ctx); err != nil {
			return zero, fmt.Errorf("waiting for the %s pace: %w", op, err)
		}
		out, err := fn()
		if err == nil {
			return out, nil
		}
		c := retry.Classify(ctx, err)
		if c.Class != retry.ClassThrottle && c.Class != retry.ClassTransient {
			return zero, err // permanent (404, 400), forbidden (403) or our own context ended
		}
		d, stop := retry.NextDelay(b, c)
		if stop || attempt >= p.policy.attempts || time.Since(start)+d > p.policy.budget {
			return zero, err
		}
		p.log.Debug("field catalog call failed; retrying", zap.String("operation", op),
			zap.String("class", string(c.Class)), zap.Int("attempt", attempt), zap.Duration("delay", d), zap.Error(err))
		if retry.Sleep(ctx, d) != nil {
			return zero, err
		}
	}
}
