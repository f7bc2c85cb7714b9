package checkcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/rules"
)

// finder runs a rule's lookup (--lookup); nil checks offline.
type finder interface {
	Find(ctx context.Context, domainID, fieldID string, value types.FieldValueUnion) (string, error)
}

// compileRules reads and compiles the rules file, as the binaries do at
// start; nil when path is empty.
func compileRules(path string) (*rules.Set, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, rules.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return rules.Compile(data) // a *rules.CompileError names the rule and position
}

// newFinder searches through the Cases endpoint of the AWS settings, paced
// and retried as the binaries do.
func newFinder(ctx context.Context) (finder, error) {
	cl, err := clients.Load(ctx, 1)
	if err != nil {
		return nil, err
	}
	return lookup.New(cl.Cases, lookup.Options{}), nil
}

// check maps one body exactly as the consumer would (rules, then contract
// v1) and, with a finder, runs its lookup.
func check(ctx context.Context, m *mapper.Mapper, f finder, file string, body []byte) verdict {
	v := verdict{File: file, OK: true}
	mapped, err := m.MapEvent(ctx, body)
	if err != nil {
		v.OK, v.Error = false, err.Error()
		v.Reason, v.Code = mapper.FailureReason(err)
		return v
	}
	v.Rule, v.Request = mapped.Rule, render(mapped.Input)
	if mapped.Lookup == nil {
		return v
	}
	l := mapped.Lookup
	v.Search = &search{DomainID: l.DomainID, MaxResults: 2}
	v.Search.Filter.Field.EqualTo = field{ID: l.FieldID, Value: renderValue(l.Value)}
	if f == nil {
		return v
	}
	id, err := f.Find(ctx, l.DomainID, l.FieldID, l.Value)
	if err != nil {
		v.OK, v.Error = false, err.Error()
		v.Reason, v.Code = lookupReason(ctx, err)
		return v
	}
	v.Request.CaseID = id
	return v
}

// lookupReason is the class and code the consumer gives a failed lookup.
func lookupReason(ctx context.Context, err error) (contract.Reason, string) {
	var nf *lookup.NotFoundError
	var amb *lookup.AmbiguousError
	switch {
	case errors.As(err, &nf):
		return contract.ReasonNotFound, contract.CodeLookupNoMatch
	case errors.As(err, &amb):
		return contract.ReasonValidation, contract.CodeAmbiguousLookup
	}
	var cl retry.Classified
	if !errors.As(err, &cl) {
		cl = retry.Classify(ctx, err)
	}
	return contract.Reason(cl.Class), cl.Code
}

// search is the SearchCases request a lookup makes, in the API's JSON shape.
type search struct {
	DomainID string `json:"domainId"`
	Filter   struct {
		Field struct {
			EqualTo field `json:"equalTo"`
		} `json:"field"`
	} `json:"filter"`
	MaxResults int `json:"maxResults"`
}
