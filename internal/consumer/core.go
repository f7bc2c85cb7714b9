package consumer

import (
	"cmp"

	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/smithy-go/middleware"
	goretry "github.com/sethvargo/go-retry"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/retry"
)

// Options configures a Core. Zero fields take the documented defaults.
type Options struct {
	Cases  CasesAPI    // required
	DLQ    QueueSender // required
	DLQURL string      // required

	Mapper *mapper.Mapper // nil → mapper.New(mapper.Config{})
	// Resolver, if set, prepares each mapped request before it waits for the
	// rate limit (the field catalog: names to ids, values to their field's
	// type). A *contract.RejectionError from it dead-letters the message as
	// validation without spending quota.
	Resolver Resolver
	// Finder finds the case of a request a mapping rule maps by a lookup
	// (the Mapper's rules); required when the rules have lookups.
	Finder  CaseFinder
	Limiter *quota.Limiter // shared by every message of the process; nil → no limit
	Circuit *quota.Circuit // access-denied circuit; nil → none
	Metrics Metrics        // nil → none
	// PerformedBy is the deployment's policy for the publisher's audit claim;
	// a message that breaks it is dead-lettered as forbidden.
	PerformedBy PerformedByPolicy
	Logger      *zap.Logger // nil → no logs
	// TracerProvider makes the core's spans; nil → the no-op provider (no
	// spans, no cost). The core only knows the otel API: the transport's
	// binary decides whether and where spans are exported.
	TracerProvider trace.TracerProvider

	// Coalesce merges requests for the same domain, case and performedBy that
	// wait for the limiter at the same time into one UpdateCase call.
	Coalesce bool

	MaxReceives          int           // config.DefaultMaxReceives: RetryLater at this receive count becomes retries-exhausted
	MaxTransientAttempts int           // 3: in-process tries for transient errors before RetryLater
	AttemptTimeout       time.Duration // 10s: one UpdateCase call
	BackoffBase          time.Duration // 100ms: first retry delay (full jitter)
	BackoffCap           time.Duration // 5s: per-attempt cap
	MinRetryDelay        time.Duration // 1s: smallest visibility for RetryLater (no hot redelivery loop)
	ForbiddenDelay       time.Duration // 30s: RetryLater delay after AccessDenied
	Now                  func() time.Time
}

// Core implements Handler with casebridge's error policy.
type Core struct {
	o      Options
	co     *coalescer // nil unless Options.Coalesce
	tracer trace.Tracer
}

// New checks opts and fills in defaults.
func New(opts Options) (*Core, error) {
	if opts.Cases == nil || opts.DLQ == nil || opts.DLQURL == "" {
		return nil, errors.New("consumer: Cases, DLQ and DLQURL are required")
	}
	if opts.Mapper == nil {
		opts.Mapper = mapper.New(mapper.Config{})
	}
	if opts.Metrics == nil {
		opts.Metrics = nopMetrics{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	opts.MaxReceives = cmp.Or(opts.MaxReceives, config.DefaultMaxReceives)
	opts.MaxTransientAttempts = cmp.Or(opts.MaxTransientAttempts, 3)
	opts.AttemptTimeout = cmp.Or(opts.AttemptTimeout, 10*time.Second)
	opts.BackoffBase = cmp.Or(opts.BackoffBase, 100*time.Millisecond)
	opts.BackoffCap = cmp.Or(opts.BackoffCap, 5*time.Second)
	opts.MinRetryDelay = cmp.Or(opts.MinRetryDelay, time.Second)
	opts.ForbiddenDelay = cmp.Or(opts.ForbiddenDelay, 30*time.Second)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	c := &Core{o: opts, tracer: opts.TracerProvider.Tracer(tracerName)}
	if opts.Coalesce {
		c.co = newCoalescer()
	}
	return c, nil
}

// Handle decides one message's fate. ctx's deadline is the message's time budget
// (the worker: receipt + CASEBRIDGE_MAX_HOLD; the Lambda: the invocation deadline
// less a margin): in-process retries stop when the next wait would pass it.
func (c *Core) Handle(ctx context.Context, m Message) Outcome {
	start := c.o.Now()
	out := c.handle(withMessageSpan(ctx, m), m)
	out.Duration = c.o.Now().Sub(start)
	c.o.Metrics.ObserveOutcome(out)
	annotate(m, out)
	c.log(m, out)
	return out
}

func (c *Core) handle(ctx context.Context, m Message) Outcome {
	req, early := c.prepare(ctx, m)
	if early != nil {
		return *early
	}
	return c.settle(ctx, m, req, c.apply(ctx, req.in, nil))
}

// Resolver prepares a mapped request for the call (see Options.Resolver).
type Resolver interface {
	// Resolve prepares a contract v1 message's request.
	Resolve(ctx context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error)
	// ResolveRule prepares a mapping rule's request, converting its values
	// to their fields' types more widely (a number to a Text field's string).
	ResolveRule(ctx context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error)
}

// request is a message made ready for UpdateCase.
type request struct {
	in      *connectcases.UpdateCaseInput
	eventID string
	rule    string      // the mapping rule that mapped it; "" for contract v1
	lookup  *caseLookup // how its case was found, if by a lookup
}

// prepare maps m, applies the performedBy policy and the resolver. When m
// ends there (dead-lettered, or kept on the queue) it returns that outcome;
// no quota has been spent on it.
func (c *Core) prepare(ctx context.Context, m Message) (request, *Outcome) {
	mapped, err := c.o.Mapper.MapEvent(ctx, []byte(m.Body))
	if err != nil {
		out := c.deadLetter(ctx, m, mapFailure(err))
		return request{}, &out
	}
	req := request{in: mapped.Input, eventID: mapped.EventID, rule: mapped.Rule}
	if err := c.o.PerformedBy.apply(req.in); err != nil {
		out := c.settle(ctx, m, req, Outcome{Kind: DeadLettered, Reason: contract.ReasonForbidden, Err: err})
		return request{}, &out
	}
	lk, err := c.resolve(ctx, &req, mapped.Lookup)
	if err == nil && lk != nil {
		// Last, so a request refused for its values or its performedBy
		// spends no SearchCases quota either.
		req.lookup = lk
		err = c.findCase(ctx, &req)
	}
	if err == nil {
		return req, nil
	}
	out := c.prepareFailure(ctx, err)
	out = c.settle(ctx, m, req, out)
	return request{}, &out
}

// prepareFailure judges an error met while preparing a request: a
// rejection is the message's (validation), a lookup's answer has its own
// outcome, and anything else (the catalog or SearchCases throttled,
// unreachable, denied, or no such domain) is judged like a failed call.
func (c *Core) prepareFailure(ctx context.Context, err error) Outcome {
	if out, ok := lookupOutcome(err); ok {
		return out
	}
	var rej *contract.RejectionError
	if errors.As(err, &rej) {
		return Outcome{Kind: DeadLettered, Reason: contract.ReasonValidation, Err: err}
	}
	var cl retry.Classified
	if !errors.As(err, &cl) {
		cl = retry.Classify(ctx, err)
	}
	cl = stopped(ctx, cl)
	out := Outcome{Kind: DeadLettered, Reason: contract.Reason(cl.Class), Err: cl.Err, Code: cl.Code}
	if !cl.Class.Permanent() {
		out = c.retryLater(out, cl, retry.NewBackoff(c.o.BackoffBase, c.o.BackoffCap))
	}
	return out
}

// settle turns what became of m's request into m's outcome: permanent
// failures and exhausted retries go to the DLQ.
func (c *Core) settle(ctx context.Context, m Message, req request, out Outcome) Outcome {
	out.Err = scrub(out.Err, req.in)
	out.CaseID = aws.ToString(req.in.CaseId)
	out.DomainID = aws.ToString(req.in.DomainId)
	out.EventID = req.eventID
	out.Rule = req.rule
	c.forgetStale(req, out)
	switch {
	case out.Kind == Done:
		return out
	case out.Kind == DeadLettered: // permanent: validation, not-found, forbidden
		return c.deadLetter(ctx, m, out)
	case out.Reason == contract.ReasonCanceled:
		// Our own shutdown or deadline, not the message's fault: never exhausts it.
		return out
	case m.ReceiveCount >= c.o.MaxReceives:
		out.Reason = contract.ReasonRetriesExhausted
		return c.deadLetter(ctx, m, out)
	default:
		return out
	}
}

// apply calls UpdateCase until it succeeds, fails permanently, or the policy says
// to give the message back to the queue. A waiting message holds only its own
// goroutine, so it never blocks others.
// links, if any, are the messages a merged request carries (see call).
func (c *Core) apply(ctx context.Context, in *connectcases.UpdateCaseInput, links []trace.Link) Outcome {
	backoff := retry.NewBackoff(c.o.BackoffBase, c.o.BackoffCap)
	var out Outcome
	var last retry.Classified // the last call's answer
	transient := 0
	for {
		cl, ok := c.attempt(ctx, in, links)
		if !ok {
			// The shared limiter cannot give this message a slot within its budget.
			if out.Attempts > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The budget ran out: report the last call's error, the one
				// out.Code comes from, not the wait's end ("context deadline
				// exceeded"): a DLQ reason's code and message go together.
				cl.Err = last.Err
			}
			return c.retryLater(out, stopped(ctx, cl), backoff)
		}
		out.Attempts++
		if cl.Class == retry.ClassCanceled && errors.Is(ctx.Err(), context.DeadlineExceeded) && out.Attempts > 1 {
			// The budget ran out during this call: that says nothing about the
			// service, so the answer before it stands (a throttled message stays
			// throttled, not transient with the SDK's cancel text).
			return c.retryLater(out, stopped(ctx, last), backoff)
		}
		cl = stopped(ctx, cl)
		last = cl
		c.o.Metrics.ObserveRetryClass(cl.Class)
		out.Err, out.Code = cl.Err, cl.Code
		switch cl.Class {
		case "":
			out.Kind = Done
			return out
		case retry.ClassValidation, retry.ClassNotFound:
			out.Kind, out.Reason = DeadLettered, contract.Reason(cl.Class)
			return out
		case retry.ClassForbidden:
			// The deployment's fault, not the message's: give it back for a while.
			out.Kind, out.Reason, out.Delay = RetryLater, contract.ReasonForbidden, c.o.ForbiddenDelay
			return out
		case retry.ClassCanceled:
			return c.retryLater(out, cl, backoff)
		case retry.ClassThrottle:
			// The limiter already heard of it (call); back off below.
		default: // transient
			transient++
			if transient >= c.o.MaxTransientAttempts {
				return c.retryLater(out, cl, backoff)
			}
		}
		wait, _ := retry.NextDelay(backoff, cl) // never stops: bounded by the budget instead
		if !c.fits(ctx, wait) {
			return c.retryLater(out, cl, backoff)
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return c.retryLater(out, stopped(ctx, cl), backoff)
		}
	}
}

// attempt makes one UpdateCase attempt for in: alone, or merged with the
// requests for the same case waiting for the limiter when coalescing is on.
// ok is false when no limiter slot came within the budget (no call made).
func (c *Core) attempt(ctx context.Context, in *connectcases.UpdateCaseInput, links []trace.Link) (cl retry.Classified, ok bool) {
	if c.co == nil {
		return c.attemptAlone(ctx, in, links)
	}
	cl, ok, merged := c.co.do(ctx, in, links, c.waitSlot, c.call)
	if ok && merged && cl.Class.Permanent() {
		// A neighbour's bad field must never dead-letter this message: try it alone.
		return c.attemptAlone(ctx, in, nil)
	}
	return cl, ok
}

func (c *Core) attemptAlone(ctx context.Context, in *connectcases.UpdateCaseInput, links []trace.Link) (retry.Classified, bool) {
	if err := c.waitSlot(ctx); err != nil {
		return retry.Classified{Class: retry.ClassThrottle, Err: err}, false
	}
	return c.call(ctx, in, links), true
}

// waitSlot waits for the shared limiter, in a span of its own: time spent
// here is the quota's doing, which is the first thing asked of a slow message.
func (c *Core) waitSlot(ctx context.Context) error {
	if c.o.Limiter == nil {
		return nil
	}
	ctx, span := c.tracer.Start(ctx, SpanLimiterWait)
	err := c.o.Limiter.Wait(ctx)
	endWithError(span, err != nil, "no slot within the budget")
	return err
}

// call makes one UpdateCase call and tells the shared limiter and the
// access-denied circuit how it went (once per call, however many messages it carries).
// Its span is a child of ctx's message span and, when the call carries merged
// messages, is linked to every one of them (links).
func (c *Core) call(ctx context.Context, in *connectcases.UpdateCaseInput, links []trace.Link) retry.Classified {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	if len(links) > 0 {
		opts = append(opts, trace.WithLinks(links...), trace.WithAttributes(AttrCoalesced.Int(len(links))))
	}
	ctx, span := c.tracer.Start(ctx, SpanUpdateCase, opts...)
	actx, cancel := context.WithTimeout(ctx, c.o.AttemptTimeout)
	defer cancel()
	t0 := c.o.Now()
	res, err := c.o.Cases.UpdateCase(actx, in)
	cl := retry.Classify(ctx, err)
	var meta middleware.Metadata
	if res != nil {
		meta = res.ResultMetadata
	}
	endCall(span, meta, err, cl)
	c.o.Metrics.ObserveUpdateCase(c.o.Now().Sub(t0), cl.Class)
	if c.o.Circuit != nil {
		c.o.Circuit.Record(cl.Class)
	}
	if c.o.Limiter != nil {
		switch cl.Class {
		case "":
			c.o.Limiter.OnSuccess()
		case retry.ClassThrottle:
			c.o.Limiter.OnThrottle()
		}
	}
	return cl
}

// fits reports whether waiting d still leaves the message inside its budget.
func (c *Core) fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || c.o.Now().Add(d).Before(dl)
}

func (c *Core) retryLater(out Outcome, cl retry.Classified, b goretry.Backoff) Outcome {
	out.Kind = RetryLater
	out.Reason = retryReason(cl.Class)
	if cl.Err != nil {
		out.Err = cl.Err
	}
	d, _ := retry.NextDelay(b, cl)
	out.Delay = max(d, c.o.MinRetryDelay)
	return out
}

// stopped tells a shutdown (ctx canceled: not the message's fault, never counts
// toward exhaustion) from a spent budget (deadline: the last error stands).
func stopped(ctx context.Context, cl retry.Classified) retry.Classified {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		cl.Class = retry.ClassCanceled
	case cl.Class == retry.ClassCanceled:
		cl.Class = retry.ClassTransient
	}
	return cl
}

func retryReason(cl retry.Class) contract.Reason {
	switch cl {
	case retry.ClassThrottle:
		return contract.ReasonThrottled
	case retry.ClassCanceled:
		return contract.ReasonCanceled
	case retry.ClassForbidden:
		return contract.ReasonForbidden
	default:
		return contract.ReasonTransient
	}
}
