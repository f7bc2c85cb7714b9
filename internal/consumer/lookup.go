package consumer

import (
	"cmp"
	"context"
	"errors"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/rules"
)

// CaseFinder finds the one case whose field equals a value (a mapping
// rule's lookup). A *lookup.NotFoundError dead-letters the message as
// not-found, a *lookup.AmbiguousError as validation; other errors are
// judged like a failed call (a throttle or outage retries later).
type CaseFinder interface {
	Find(ctx context.Context, domainID, fieldID string, value types.FieldValueUnion) (string, error)
	// Forget drops a remembered answer that proved stale.
	Forget(domainID, fieldID string, value types.FieldValueUnion)
}

// caseLookup is the search that found (or must find) a request's case,
// with the field id and value as the catalog resolved them.
type caseLookup struct {
	domainID, fieldID string
	value             types.FieldValueUnion
}

var errNoFinder = errors.New("a mapping rule looks its case up, and the core has no case finder")

// resolve runs the Resolver, when there is one, over req's fields and over
// the lookup's field and value (converted exactly like a field the rule
// sets: a Number field is searched with a number). It returns the lookup
// to make, if any.
func (c *Core) resolve(ctx context.Context, req *request, l *rules.Lookup) (*caseLookup, error) {
	var lk *caseLookup
	if l != nil {
		lk = &caseLookup{domainID: l.DomainID, fieldID: l.FieldID, value: l.Value}
	}
	if c.o.Resolver == nil {
		return lk, nil
	}
	if req.rule == "" {
		in, err := c.o.Resolver.Resolve(ctx, req.in)
		if err != nil {
			return nil, err
		}
		req.in = in
		return lk, nil
	}
	in, err := c.o.Resolver.ResolveRule(ctx, req.in)
	if err != nil {
		return nil, err
	}
	req.in = in
	if lk == nil {
		return nil, nil
	}
	probe := &connectcases.UpdateCaseInput{DomainId: aws.String(lk.domainID),
		Fields: []types.FieldValue{{Id: aws.String(lk.fieldID), Value: lk.value}}}
	res, err := c.o.Resolver.ResolveRule(ctx, probe)
	if err != nil {
		var rej *contract.RejectionError
		if errors.As(err, &rej) {
			// Name the lookup, not "fields[0]" of a request the publisher never saw.
			return nil, &contract.RejectionError{Path: "lookup." + lk.fieldID, Rule: rej.Rule}
		}
		return nil, err
	}
	lk.fieldID, lk.value = aws.ToString(res.Fields[0].Id), res.Fields[0].Value
	return lk, nil
}

// findCase completes req with the case its lookup finds.
func (c *Core) findCase(ctx context.Context, req *request) error {
	if c.o.Finder == nil {
		return errNoFinder
	}
	ctx, span := c.tracer.Start(ctx, SpanLookup, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrDomainID.String(req.lookup.domainID), AttrLookupField.String(req.lookup.fieldID)))
	id, err := c.o.Finder.Find(ctx, req.lookup.domainID, req.lookup.fieldID, req.lookup.value)
	if err != nil {
		reason, _ := lookupOutcome(err)
		endWithError(span, true, cmp.Or(string(reason.Reason), "lookup failed"))
		return err
	}
	span.SetAttributes(AttrCaseID.String(id))
	span.End()
	in := *req.in
	in.CaseId = aws.String(id)
	req.in = &in
	return nil
}

// forgetStale drops a cached lookup whose case the UpdateCase call could
// not find (deleted since): the next event for that key searches again.
func (c *Core) forgetStale(req request, out Outcome) {
	if req.lookup != nil && c.o.Finder != nil && out.Reason == contract.ReasonNotFound && out.Code != contract.CodeLookupNoMatch {
		c.o.Finder.Forget(req.lookup.domainID, req.lookup.fieldID, req.lookup.value)
	}
}

// lookupOutcome is the outcome of a lookup's answer that ends the message.
func lookupOutcome(err error) (Outcome, bool) {
	var nf *lookup.NotFoundError
	var amb *lookup.AmbiguousError
	switch {
	case errors.As(err, &nf):
		return Outcome{Kind: DeadLettered, Reason: contract.ReasonNotFound, Code: contract.CodeLookupNoMatch, Err: err}, true
	case errors.As(err, &amb):
		return Outcome{Kind: DeadLettered, Reason: contract.ReasonValidation, Code: contract.CodeAmbiguousLookup, Err: err}, true
	case errors.Is(err, errNoFinder):
		return Outcome{Kind: DeadLettered, Reason: contract.ReasonInvalidMessage, Err: err}, true
	}
	return Outcome{}, false
}

// mapFailure is the dead-letter outcome of a body that could not be mapped.
func mapFailure(err error) Outcome {
	reason, code := mapper.FailureReason(err)
	return Outcome{Kind: DeadLettered, Reason: reason, Code: code, Err: err}
}

// quotedOrNumber matches what an expression's error may quote from the
// event: a double-quoted string (Go's %q), or a number standing alone.
// CEL's single quotes name types ('string'), which the reader needs.
var quotedOrNumber = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|\b\d[\d.eE+-]*\b`)

// mapErrorText is a MapError for logs and the DLQ: its code, rule and
// expression, and its cause with anything that may be an event's value
// replaced (CEL quotes a value it could not convert, and field values may
// be personal data).
func mapErrorText(e *rules.MapError) string {
	s := "rules: " + string(e.Code)
	if e.Rule != "" {
		s += `: rule "` + e.Rule + `"`
	}
	if e.Expr != "" {
		s += " " + e.Expr
	}
	if e.Err == nil {
		return s
	}
	cause := e.Err.Error()
	if e.Code == rules.CodeExpressionFailed || e.Code == rules.CodeUnconvertibleValue {
		cause = quotedOrNumber.ReplaceAllString(cause, redactedMark)
	}
	return s + ": " + cause
}
