package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	cases "github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

type rule struct {
	name        string
	domain      string // "" = the deployment's default domain
	when        *expr
	caseID      *expr // nil when lookup is used
	lookupField string
	lookupValue *expr
	set         []setField // sorted by id
	performedBy cases.UserUnion
}

type expr struct {
	where    string
	prg      cel.Program
	constant ref.Val // its value when it reads no event; nil: evaluate prg
	// loops: it has a comprehension (all, exists, map, filter…), the
	// only place CEL checks for cancellation; only then is setting up a
	// cancellable evaluation worth its cost.
	loops bool
	// path: it is only member selections on event (event.detail.amount,
	// event['detail-type']), the commonest expression by far. Where every
	// member is there and the value is a string, number, bool or null, it
	// is read straight from the decoded event; anywhere else CEL runs it,
	// so every error is CEL's own.
	path []string
	// guard: it is a conjunction of member tests (has(), == a literal),
	// the shape of most conditions; decided without CEL where it can be.
	guard guard
}

// setField is one field to set: a constant, or an expression per event.
type setField struct {
	id       string
	constant cases.FieldValueUnion
	expr     *expr
}

// Lookup is the search that must find the case before the update can be
// sent: the one case in DomainID whose FieldID equals Value.
type Lookup struct {
	DomainID string // "" = the deployment's default domain
	FieldID  string
	Value    cases.FieldValueUnion
}

// Result is one mapped event. Input is complete except, when Lookup is
// set, for CaseId (nil), which the lookup supplies; DomainId is nil when
// the rule names no domain and the file has no default.
type Result struct {
	Rule   string
	Input  *connectcases.UpdateCaseInput
	Lookup *Lookup
}

// Map runs the rules on one event (the body as the publisher sent it,
// envelopes already unwrapped): the first rule whose condition is true
// maps it. Every error is a *MapError.
func (s *Set) Map(ctx context.Context, event []byte) (Result, error) {
	ev, err := s.reads.decodeEvent(event)
	if err != nil {
		return Result{}, &MapError{Code: CodeInvalidEvent, Err: err}
	}
	vars := map[string]any{"event": ev}
	for _, r := range s.rules {
		v, err := r.when.eval(ctx, r.name, vars)
		if err != nil {
			return Result{}, err
		}
		if b, ok := v.Value().(bool); !ok {
			return Result{}, &MapError{Code: CodeExpressionFailed, Rule: r.name, Expr: "when", Err: fmt.Errorf("result is %s, not bool", v.Type())}
		} else if b {
			return r.apply(ctx, vars)
		}
	}
	return Result{}, &MapError{Code: CodeNoRuleMatched, Err: errors.New("no rule's condition is true for this event")}
}

func (r *rule) apply(ctx context.Context, vars map[string]any) (Result, error) {
	in := &connectcases.UpdateCaseInput{PerformedBy: r.performedBy, Fields: make([]cases.FieldValue, 0, len(r.set))}
	// The input's strings, in one allocation instead of one each: field
	// ids, then the domain.
	strs := make([]string, len(r.set)+1)
	if r.domain != "" {
		strs[len(r.set)] = r.domain
		in.DomainId = &strs[len(r.set)]
	}
	res := Result{Rule: r.name, Input: in}
	if r.caseID != nil {
		v, err := r.caseID.eval(ctx, r.name, vars)
		if err != nil {
			return Result{}, err
		}
		id, ok := v.Value().(string)
		if !ok || id == "" {
			return Result{}, &MapError{Code: CodeUnconvertibleValue, Rule: r.name, Expr: "caseId", Err: fmt.Errorf("case id must be a non-empty string, got %s", v.Type())}
		}
		in.CaseId = aws.String(id)
	} else {
		fv, err := r.lookupValue.value(ctx, r.name, vars)
		if err != nil {
			return Result{}, err
		}
		if _, empty := fv.(*cases.FieldValueUnionMemberEmptyValue); empty {
			// Searching for "no value" would match every case without one.
			return Result{}, &MapError{Code: CodeUnconvertibleValue, Rule: r.name, Expr: "lookup.value", Err: errors.New("lookup value is null")}
		}
		res.Lookup = &Lookup{DomainID: r.domain, FieldID: r.lookupField, Value: fv}
	}
	for i, f := range r.set {
		v := f.constant
		if f.expr != nil {
			var err error
			if v, err = f.expr.value(ctx, r.name, vars); err != nil {
				return Result{}, err
			}
		}
		strs[i] = f.id
		in.Fields = append(in.Fields, cases.FieldValue{Id: &strs[i], Value: v})
	}
	return res, nil
}

func (e *expr) eval(ctx context.Context, rule string, vars map[string]any) (ref.Val, error) {
	if e.constant != nil {
		return e.constant, nil
	}
	if v, ok := e.scalar(vars); ok {
		switch x := v.(type) {
		case string:
			return types.String(x), nil
		case float64:
			return types.Double(x), nil
		case bool:
			return types.Bool(x), nil
		}
		return types.NullValue, nil
	}
	if e.guard != nil {
		if b, ok := e.guard.eval(vars["event"]); ok {
			return types.Bool(b), nil
		}
	}
	var v ref.Val
	var err error
	if e.loops {
		v, _, err = e.prg.ContextEval(ctx, vars)
	} else {
		v, _, err = e.prg.Eval(vars)
	}
	if err != nil {
		return nil, &MapError{Code: CodeExpressionFailed, Rule: rule, Expr: e.where, Err: err}
	}
	return v, nil
}

// scalar reads a path expression's value from the decoded event, when it
// is there and a JSON scalar (decoded as string, float64, bool or nil).
func (e *expr) scalar(vars map[string]any) (any, bool) {
	if e.path == nil {
		return nil, false
	}
	v := vars["event"]
	for _, name := range e.path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
	}
	switch v.(type) {
	case string, float64, bool, nil:
		return v, true
	}
	return nil, false
}

// value evaluates e and converts its result to a Cases field value.
func (e *expr) value(ctx context.Context, rule string, vars map[string]any) (cases.FieldValueUnion, error) {
	if v, ok := e.scalar(vars); ok {
		switch x := v.(type) {
		case string:
			return &cases.FieldValueUnionMemberStringValue{Value: x}, nil
		case float64: // finite: the decoder refuses what a double can't hold
			return &cases.FieldValueUnionMemberDoubleValue{Value: x}, nil
		case bool:
			return &cases.FieldValueUnionMemberBooleanValue{Value: x}, nil
		}
		return emptyValue(), nil
	}
	v, err := e.eval(ctx, rule, vars)
	if err != nil {
		return nil, err
	}
	fv, err := toFieldValue(v)
	if err != nil {
		return nil, &MapError{Code: CodeUnconvertibleValue, Rule: rule, Expr: e.where, Err: err}
	}
	return fv, nil
}

// maxExactInt is the largest integer a double holds exactly; a larger int
// (an order number, say) would silently change on the way to Cases.
const maxExactInt = 1 << 53

// toFieldValue converts by CEL type alone; the consumer converts to the
// field catalog's types afterwards (see the package doc).
func toFieldValue(v ref.Val) (cases.FieldValueUnion, error) {
	switch x := v.(type) {
	case types.String:
		return &cases.FieldValueUnionMemberStringValue{Value: string(x)}, nil
	case types.Bool:
		return &cases.FieldValueUnionMemberBooleanValue{Value: bool(x)}, nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a finite number", f)
		}
		return &cases.FieldValueUnionMemberDoubleValue{Value: f}, nil
	case types.Int:
		if x > maxExactInt || x < -maxExactInt {
			return nil, fmt.Errorf("integer %d does not fit a double exactly", int64(x))
		}
		return &cases.FieldValueUnionMemberDoubleValue{Value: float64(x)}, nil
	case types.Uint:
		if x > maxExactInt {
			return nil, fmt.Errorf("integer %d does not fit a double exactly", uint64(x))
		}
		return &cases.FieldValueUnionMemberDoubleValue{Value: float64(x)}, nil
	case types.Null:
		return emptyValue(), nil
	case types.Timestamp:
		return &cases.FieldValueUnionMemberStringValue{Value: x.Time.UTC().Format(time.RFC3339Nano)}, nil
	}
	return nil, fmt.Errorf("a %s is not a Cases field value (string, number, bool or null)", v.Type())
}

func emptyValue() cases.FieldValueUnion { return &cases.FieldValueUnionMemberEmptyValue{} }

// constantValue reads a "value" constant: a JSON string, number, bool or
// null (null clears the field, like "clear": true).
func constantValue(raw json.RawMessage) (cases.FieldValueUnion, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		return &cases.FieldValueUnionMemberStringValue{Value: x}, nil
	case float64:
		return &cases.FieldValueUnionMemberDoubleValue{Value: x}, nil
	case bool:
		return &cases.FieldValueUnionMemberBooleanValue{Value: x}, nil
	case nil:
		return emptyValue(), nil
	}
	return nil, errors.New(`"value" must be a string, number, bool or null`)
}

func performedBy(p *performedByJSON) (cases.UserUnion, error) {
	switch {
	case p == nil:
		return nil, nil // the deployment's CASEBRIDGE_PERFORMED_BY_DEFAULT applies
	case (p.CustomEntity == "") == (p.UserArn == ""):
		return nil, errors.New(`"performedBy": exactly one of "customEntity" and "userArn"`)
	case p.UserArn != "":
		return &cases.UserUnionMemberUserArn{Value: p.UserArn}, nil
	}
	return &cases.UserUnionMemberCustomEntity{Value: p.CustomEntity}, nil
}
