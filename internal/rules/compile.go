// Package rules maps events that upstream systems send in their own shape
// (an EventBridge "Invoice Paid", a CRM change, a webhook) to Connect Cases
// UpdateCase calls, by declarative rules whose expressions are CEL
// (cel.dev/cel-go), compiled once at start with cost limits.
//
// Its one job: rules file + event bytes → the rule that matched and either
// the UpdateCaseInput to send, or the lookup (a case field's value) that
// must find the case first. It calls no AWS API.
//
// Both binaries compile the file CASEBRIDGE_RULES names at start
// (internal/app); internal/mapper runs the rules before contract v1, and
// the consumer finds a Lookup's case through internal/lookup. Values are
// converted here by their CEL type only (string → stringValue, number →
// doubleValue, bool → booleanValue, null → emptyValue, timestamp → RFC 3339
// stringValue); with the field catalog on, the consumer then converts them
// to their fields' types. docs/rules.md is the integrator's
// reference.
//
// Map decodes only the members of an event that some expression can
// observe, worked out from the checked expressions at compile time
// (reads.go); that, and reading plain member paths without running CEL,
// keeps a mapped event within 2× the cost of a contract v1 message.
//
// The file is JSON (the standard library's decoder, no new dependency):
//
//	{"defaultDomain": "…",
//	 "rules": [{
//	   "name": "invoice-paid",
//	   "when": "event.source == 'billing' && event['detail-type'] == 'Invoice Paid'",
//	   "domain": "…",
//	   "lookup": {"fieldId": "order_number", "value": "string(event.detail.orderNumber)"},
//	   "set": {"status": {"value": "closed"}, "amount": {"expr": "event.detail.amount"}, "reason": {"clear": true}},
//	   "performedBy": {"customEntity": "billing-system"}}]}
//
// A rule has "caseId" (an expression) or "lookup", never both. The event is
// the CEL variable `event` (dyn: the JSON body as maps, lists, doubles,
// strings, bools, null). A missing key is an error, as everywhere in CEL,
// also in a condition: a rule that reads a member only some events carry
// guards it with has(event.x) or event.?x.orValue(…). Treating the error as
// "no match" instead would let a misspelt key silently send every event to
// a later rule; as an error it dead-letters, naming the rule.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/ext"
)

// Limits bound what a rules file may ask for, so a hostile or careless file
// is refused at start with bounded memory instead of hurting every event.
const (
	MaxFileBytes   = 1 << 20 // the whole rules file
	MaxRules       = 1000
	MaxExprBytes   = 4096 // one expression, checked before CEL parses it
	MaxSetFields   = 220  // UpdateCase's own limit on fields
	maxRecursion   = 32   // CEL parser nesting (its default is 250)
	maxNameBytes   = 100
	MaxEventBytes  = 1 << 20    // largest body the consumer accepts; sizes the cost estimate
	MaxCost        = 10_000_000 // static worst case and run-time limit, per expression
	interruptCheck = 100        // comprehension iterations between context checks
)

type fileJSON struct {
	DefaultDomain string            `json:"defaultDomain"`
	Rules         []json.RawMessage `json:"rules"`
}

type ruleJSON struct {
	Name        string               `json:"name"`
	When        string               `json:"when"`
	Domain      string               `json:"domain"`
	CaseID      string               `json:"caseId"`
	Lookup      *lookupJSON          `json:"lookup"`
	Set         map[string]valueJSON `json:"set"`
	PerformedBy *performedByJSON     `json:"performedBy"`
}

type lookupJSON struct {
	FieldID string `json:"fieldId"`
	Value   string `json:"value"`
}

type valueJSON struct {
	Expr  string          `json:"expr"`
	Value json.RawMessage `json:"value"`
	Clear bool            `json:"clear"`
}

type performedByJSON struct {
	CustomEntity string `json:"customEntity"`
	UserArn      string `json:"userArn"`
}

// Set is a compiled rules file; it is immutable and safe for concurrent use.
type Set struct {
	rules []*rule
	reads *reads // the part of an event any rule can observe
}

// Compile checks and compiles a rules file. Every error is a *CompileError.
func Compile(data []byte) (*Set, error) {
	if len(data) > MaxFileBytes {
		return nil, &CompileError{Index: -1, Err: fmt.Errorf("file is %d bytes, at most %d", len(data), MaxFileBytes)}
	}
	var f fileJSON
	if err := strictUnmarshal(data, &f); err != nil {
		return nil, fileError(data, err)
	}
	if len(f.Rules) == 0 {
		return nil, &CompileError{Index: -1, Err: errors.New(`"rules" is empty`)}
	}
	if len(f.Rules) > MaxRules {
		return nil, &CompileError{Index: -1, Err: fmt.Errorf("%d rules, at most %d", len(f.Rules), MaxRules)}
	}
	env, err := newEnv()
	if err != nil {
		return nil, &CompileError{Index: -1, Err: err}
	}
	offsets := ruleOffsets(data)
	s := &Set{reads: newReads()}
	names := map[string]bool{}
	for i, raw := range f.Rules {
		r, err := compileRule(env, s.reads, raw, f.DefaultDomain)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				ce = &CompileError{Err: err}
			}
			ce.Index = i
			if r != nil {
				ce.Rule = r.name
			}
			if i < len(offsets) {
				ce.Line, ce.Column = lineCol(data, offsets[i])
			}
			return nil, ce
		}
		if names[r.name] {
			return nil, &CompileError{Index: i, Rule: r.name, Err: errors.New("name used by an earlier rule")}
		}
		names[r.name] = true
		s.rules = append(s.rules, r)
	}
	return s, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key must not silently do nothing
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the top-level value")
	}
	return nil
}

func fileError(data []byte, err error) *CompileError {
	ce := &CompileError{Index: -1, Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		ce.Line, ce.Column = lineCol(data, se.Offset)
	case errors.As(err, &te):
		ce.Line, ce.Column = lineCol(data, te.Offset)
	}
	return ce
}

// ruleOffsets finds where each element of "rules" starts, for messages;
// it reads tokens only, so it costs no more than the decode that passed.
func ruleOffsets(data []byte) []int64 {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		if key != "rules" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil
		}
		var out []int64
		for dec.More() {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return out
			}
			// InputOffset is now just past the element; its start is
			// where the raw bytes began.
			end := dec.InputOffset()
			out = append(out, end-int64(len(skip)))
		}
		return out
	}
	return nil
}

func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.DynType),
		ext.Strings(),
		cel.OptionalTypes(), // event.?key.orValue(…): optional members without has() chains
		cel.ParserRecursionLimit(maxRecursion),
		cel.ParserExpressionSizeLimit(MaxExprBytes),
	)
}

func compileRule(env *cel.Env, rd *reads, raw json.RawMessage, defaultDomain string) (*rule, error) {
	var rj ruleJSON
	if err := strictUnmarshal(raw, &rj); err != nil {
		// Name the rule even when its shape is wrong, if it has a name.
		var named struct{ Name string }
		_ = json.Unmarshal(raw, &named)
		return &rule{name: named.Name}, err
	}
	r := &rule{name: rj.Name, domain: rj.Domain}
	if r.domain == "" {
		r.domain = defaultDomain
	}
	switch {
	case rj.Name == "" || len(rj.Name) > maxNameBytes:
		return r, fmt.Errorf("name: 1..%d bytes required", maxNameBytes)
	case rj.When == "":
		return r, errors.New(`"when" is required (use "true" to match every event)`)
	case (rj.CaseID == "") == (rj.Lookup == nil):
		return r, errors.New(`exactly one of "caseId" and "lookup" is required`)
	case len(rj.Set) == 0 || len(rj.Set) > MaxSetFields:
		return r, fmt.Errorf(`"set": 1..%d fields required`, MaxSetFields)
	}
	var err error
	if r.when, err = compileExpr(env, rd, "when", rj.When, cel.BoolType); err != nil {
		return r, err
	}
	if rj.CaseID != "" {
		if r.caseID, err = compileExpr(env, rd, "caseId", rj.CaseID, cel.StringType); err != nil {
			return r, err
		}
	} else {
		if rj.Lookup.FieldID == "" || rj.Lookup.Value == "" {
			return r, errors.New(`"lookup" needs "fieldId" and "value"`)
		}
		r.lookupField = rj.Lookup.FieldID
		if r.lookupValue, err = compileExpr(env, rd, "lookup.value", rj.Lookup.Value, nil); err != nil {
			return r, err
		}
	}
	ids := make([]string, 0, len(rj.Set))
	for id := range rj.Set {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a stable field order in every UpdateCaseInput
	for _, id := range ids {
		fs, err := compileSet(env, rd, id, rj.Set[id])
		if err != nil {
			return r, err
		}
		r.set = append(r.set, fs)
	}
	if r.performedBy, err = performedBy(rj.PerformedBy); err != nil {
		return r, err
	}
	return r, nil
}

func compileSet(env *cel.Env, rd *reads, id string, v valueJSON) (setField, error) {
	where := "set." + id
	n := 0
	for _, has := range []bool{v.Expr != "", v.Value != nil, v.Clear} {
		if has {
			n++
		}
	}
	if id == "" || n != 1 {
		return setField{}, fmt.Errorf(`%s: a field id and exactly one of "expr", "value", "clear": true`, where)
	}
	fs := setField{id: id}
	switch {
	case v.Clear:
		fs.constant = emptyValue()
	case v.Value != nil:
		c, err := constantValue(v.Value)
		if err != nil {
			return setField{}, fmt.Errorf("%s: %w", where, err)
		}
		fs.constant = c
	default:
		p, err := compileExpr(env, rd, where, v.Expr, nil)
		if err != nil {
			return setField{}, err
		}
		fs.expr = p
		if p.constant != nil {
			if c, err := toFieldValue(p.constant); err == nil {
				fs.constant, fs.expr = c, nil
			}
		}
	}
	return fs, nil
}

// compileExpr parses, checks and plans one expression, and adds what it
// reads of an event to rd; want (nil: any) is the result type it must be
// able to have.
func compileExpr(env *cel.Env, rd *reads, where, src string, want *cel.Type) (*expr, error) {
	if len(src) > MaxExprBytes {
		// Refused before CEL sees it: parsing is what costs memory.
		return nil, &CompileError{Expr: where, Err: fmt.Errorf("expression is %d bytes, at most %d", len(src), MaxExprBytes)}
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		ce := &CompileError{Expr: where, Err: errors.New(strings.TrimSpace(iss.Err().Error()))}
		if errs := iss.Errors(); len(errs) > 0 {
			ce.ExprLine, ce.ExprCol = errs[0].Location.Line(), errs[0].Location.Column()+1
		}
		return nil, ce
	}
	if want != nil && !ast.OutputType().IsAssignableType(want) && ast.OutputType() != cel.DynType {
		return nil, &CompileError{Expr: where, Err: fmt.Errorf("result is %s, want %s", ast.OutputType(), want)}
	}
	est, err := env.EstimateCost(ast, eventSize{})
	if err != nil {
		return nil, &CompileError{Expr: where, Err: fmt.Errorf("estimating cost: %w", err)}
	}
	if est.Max > MaxCost {
		return nil, &CompileError{Expr: where, Err: fmt.Errorf("worst-case cost %d over a %d-byte event exceeds %d", est.Max, MaxEventBytes, MaxCost)}
	}
	prg, err := env.Program(ast, cel.CostLimit(MaxCost), cel.InterruptCheckFrequency(interruptCheck),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &CompileError{Expr: where, Err: err}
	}
	checked := ast.NativeRep()
	e := &expr{where: where, prg: prg,
		loops: len(celast.MatchDescendants(celast.NavigateAST(checked), celast.KindMatcher(celast.ComprehensionKind))) > 0}
	if path, ok := eventPath(checked.Expr()); ok && len(path) > 0 && plainPath(checked.Expr()) {
		e.path = path
	}
	e.guard = newGuard(checked.Expr())
	if !rd.addExpr(checked.Expr()) {
		// It reads no event, so it has one value: computed once here. One
		// that fails keeps failing on every event, as written.
		if v, _, err := prg.Eval(map[string]any{}); err == nil {
			e.constant = v
		}
	}
	return e, nil
}

// eventSize bounds every string, list and map in an event by the largest
// body the consumer accepts, so the static estimate is a real upper bound
// instead of "unbounded".
type eventSize struct{}

func (eventSize) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: MaxEventBytes}
}

func (eventSize) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
