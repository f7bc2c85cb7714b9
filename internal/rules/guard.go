package rules

import (
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// guard is a condition of the shape almost every rule's `when` has, a
// conjunction of tests on the event's members:
//
//	event.?source.orValue('') == 'com.example.billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'
//	has(event.crm) && event.crm.kind == 'change'
//
// Every rule's condition runs on every event until one is true (and on
// every contract v1 message), so these are decided straight from the
// decoded event. Whenever a test meets anything but the plain case (a
// member missing where CEL raises an error, a value of another type than
// the literal), the decision is left to CEL, so the result and every error
// are CEL's own.
type guard []test

// test is one conjunct: has(path), or path == literal (path != literal),
// where path is plain (an error when missing) or, with orValue, optional.
type test struct {
	has      bool     // has(path): is the last member of path there?
	path     []string // members from the event's root
	optional int      // path[optional:] are optional members (.?k, [?'k']); len(path) if none
	orValue  any      // the default of an optional path
	literal  any      // string or bool
	negate   bool     // !=
}

// newGuard returns e as a guard, or nil when e has another shape.
func newGuard(e celast.Expr) guard {
	var g guard
	for _, c := range conjuncts(e, nil) {
		t, ok := newTest(c)
		if !ok {
			return nil
		}
		g = append(g, t)
	}
	return g
}

func conjuncts(e celast.Expr, out []celast.Expr) []celast.Expr {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd && len(e.AsCall().Args()) == 2 {
		return conjuncts(e.AsCall().Args()[1], conjuncts(e.AsCall().Args()[0], out))
	}
	return append(out, e)
}

func newTest(e celast.Expr) (test, bool) {
	if e.Kind() == celast.SelectKind && e.AsSelect().IsTestOnly() {
		path, ok := eventPath(e)
		return test{has: true, path: path, optional: len(path)}, ok && plainPath(e.AsSelect().Operand())
	}
	if e.Kind() != celast.CallKind {
		return test{}, false
	}
	call := e.AsCall()
	name := call.FunctionName()
	if (name != operators.Equals && name != operators.NotEquals) || len(call.Args()) != 2 {
		return test{}, false
	}
	side, lit := call.Args()[0], call.Args()[1]
	if side.Kind() == celast.LiteralKind {
		side, lit = lit, side
	}
	literal, ok := scalarLiteral(lit)
	if !ok {
		return test{}, false
	}
	t := test{literal: literal, negate: name == operators.NotEquals}
	if path, ok := eventPath(side); ok && len(path) > 0 && plainPath(side) {
		t.path, t.optional = path, len(path)
		return t, true
	}
	// path.orValue(default), path ending in optional members only.
	if side.Kind() != celast.CallKind {
		return test{}, false
	}
	or := side.AsCall()
	if or.FunctionName() != "orValue" || !or.IsMemberFunction() || len(or.Args()) != 1 {
		return test{}, false
	}
	def, ok := scalarLiteral(or.Args()[0])
	if !ok || !sameKind(def, literal) {
		return test{}, false
	}
	t.orValue = def
	opt := or.Target()
	var tail []string // the optional members, last first
	for opt.Kind() == celast.CallKind && isOptionalStep(opt.AsCall().FunctionName()) {
		args := opt.AsCall().Args()
		if len(args) != 2 || args[1].Kind() != celast.LiteralKind {
			return test{}, false
		}
		key, isString := args[1].AsLiteral().(types.String)
		if !isString {
			return test{}, false
		}
		tail = append(tail, string(key))
		opt = args[0]
	}
	head, ok := eventPath(opt)
	if !ok || len(tail) == 0 || !plainPath(opt) {
		return test{}, false
	}
	t.optional = len(head)
	t.path = head
	for i := len(tail) - 1; i >= 0; i-- {
		t.path = append(t.path, tail[i])
	}
	return t, true
}

func isOptionalStep(fn string) bool { return fn == operators.OptSelect || fn == operators.OptIndex }

// scalarLiteral is a string or bool literal's value.
func scalarLiteral(e celast.Expr) (any, bool) {
	if e.Kind() != celast.LiteralKind {
		return nil, false
	}
	switch v := e.AsLiteral().(type) {
	case types.String:
		return string(v), true
	case types.Bool:
		return bool(v), true
	}
	return nil, false
}

func sameKind(a, b any) bool {
	switch a.(type) {
	case string:
		_, ok := b.(string)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	}
	return false
}

// eval decides the condition on the decoded event; ok is false when CEL
// must decide it.
func (g guard) eval(event any) (result, ok bool) {
	for _, t := range g {
		r, ok := t.eval(event)
		if !ok {
			return false, false
		}
		if !r {
			return false, true // false && anything is false in CEL, errors included
		}
	}
	return true, true
}

func (t test) eval(event any) (result, ok bool) {
	v := event
walk:
	for i, name := range t.path {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return false, false // CEL's error (or its view of a non-map)
		}
		next, present := obj[name]
		switch {
		case present:
			v = next
		case t.has && i == len(t.path)-1:
			return false, true
		case i >= t.optional:
			v = t.orValue
			break walk
		default:
			return false, false // no such key: CEL's error
		}
	}
	if t.has {
		return true, true
	}
	if !sameKind(v, t.literal) {
		return false, false // another type: CEL's equality decides
	}
	return (v == t.literal) != t.negate, true
}
