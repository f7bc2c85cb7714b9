package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/casebridge/casebridge/internal/jsonpool"
)

// reads is the part of an event a rules file can observe, worked out from
// the checked expressions at compile time: a node is either read whole, or
// only through its members named in members (event.detail.orderNumber,
// event['detail-type'], event.?source, has(event.crm)). Decoding only that
// part is most of what makes a mapped event cheap: an EventBridge envelope
// carries a dozen members a rule never looks at.
//
// It is exact, not a guess: anything an expression could use to tell a
// member's absence from its presence (size(event.detail), 'k' in event,
// event.detail == {…}, a comprehension over it, a key computed at run
// time, event passed whole to a function) marks that value whole.
type reads struct {
	name    string // the member's name in its parent object
	whole   bool
	members map[string]*reads
}

// newReads returns the reads of nothing: decoding with it only checks the
// event is one JSON value.
func newReads() *reads { return &reads{} }

// add marks the value at path (member names from the event's root) whole.
func (r *reads) add(path []string) {
	if n := r.touch(path); n != nil {
		n.whole, n.members = true, nil
	}
}

// touch makes sure the member at path is decoded, if present, without
// reading its value (has() needs no more); it returns its node, or nil
// when a value on the way is already read whole.
func (r *reads) touch(path []string) *reads {
	n := r
	for _, name := range path {
		if n.whole {
			return nil
		}
		child := n.members[name]
		if child == nil {
			if n.members == nil {
				n.members = map[string]*reads{}
			}
			child = &reads{name: name}
			n.members[name] = child
		}
		n = child
	}
	if n.whole {
		return nil
	}
	return n
}

// addExpr adds what one checked expression reads; it reports whether the
// expression reads the event at all (one that doesn't is a constant).
func (r *reads) addExpr(e celast.Expr) bool {
	if path, ok := eventPath(e); ok {
		if e.Kind() == celast.SelectKind && e.AsSelect().IsTestOnly() {
			r.touch(path) // has(event.a.b): is b there?
		} else {
			r.add(path)
		}
		return true
	}
	used := false
	visit := func(children ...celast.Expr) {
		for _, c := range children {
			if r.addExpr(c) {
				used = true
			}
		}
	}
	switch e.Kind() {
	case celast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			visit(call.Target())
		}
		visit(call.Args()...)
	case celast.SelectKind:
		visit(e.AsSelect().Operand())
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		visit(c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result())
	case celast.ListKind:
		visit(e.AsList().Elements()...)
	case celast.MapKind:
		for _, entry := range e.AsMap().Entries() {
			visit(entry.AsMapEntry().Key(), entry.AsMapEntry().Value())
		}
	case celast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			visit(f.AsStructField().Value())
		}
	}
	return used
}

// eventPath reports whether e is the variable event itself or a chain of
// member selections on it by constant names, and returns those names. A
// comprehension variable that shadows event is taken for it too, which only
// makes the decoder read more.
func eventPath(e celast.Expr) ([]string, bool) {
	switch e.Kind() {
	case celast.IdentKind:
		return nil, e.AsIdent() == "event"
	case celast.SelectKind:
		s := e.AsSelect()
		if path, ok := eventPath(s.Operand()); ok {
			return append(path, s.FieldName()), true
		}
	case celast.CallKind:
		call := e.AsCall()
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
		default:
			return nil, false
		}
		args := call.Args()
		if call.IsMemberFunction() || len(args) != 2 || args[1].Kind() != celast.LiteralKind {
			return nil, false
		}
		key, isString := args[1].AsLiteral().(types.String)
		if !isString {
			return nil, false
		}
		if path, ok := eventPath(args[0]); ok {
			return append(path, string(key)), true
		}
	}
	return nil, false
}

// plainPath reports whether an event path is made of plain selections and
// indexes only: not has(), nor an optional one (whose value is an optional).
func plainPath(e celast.Expr) bool {
	for {
		switch e.Kind() {
		case celast.IdentKind:
			return true
		case celast.SelectKind:
			if e.AsSelect().IsTestOnly() {
				return false
			}
			e = e.AsSelect().Operand()
		case celast.CallKind:
			if e.AsCall().FunctionName() != operators.Index {
				return false
			}
			e = e.AsCall().Args()[0]
		default:
			return false
		}
	}
}

// decodeEvent decodes the part of b that r reads into the values CEL sees
// for JSON (map[string]any, []any, float64, string, bool, nil). The whole
// of b is still checked: it must be one JSON value, with valid UTF-8 and
// no duplicate names in any object (they would let a condition and a value
// read different copies). A number too large for a double is refused only
// where it is read.
func (r *reads) decodeEvent(b []byte) (any, error) {
	dec := jsonpool.Get(b)
	defer dec.Release()
	v, err := r.decode(dec.Decoder)
	if err != nil {
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level value")
		}
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	return v, nil
}

func (r *reads) decode(dec *jsontext.Decoder) (any, error) {
	if r.whole || dec.PeekKind() != '{' {
		return decodeValue(dec)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	obj := make(map[string]any, len(r.members))
	for dec.PeekKind() != '}' {
		// The raw name, not ReadToken's string: a skipped member then
		// costs no allocation.
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		name := []byte(raw[1 : len(raw)-1])
		if bytes.IndexByte(name, '\\') >= 0 {
			if name, err = jsontext.AppendUnquote(nil, raw); err != nil {
				return nil, err
			}
		}
		child := r.members[string(name)]
		if child == nil {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := child.decode(dec)
		if err != nil {
			return nil, err
		}
		obj[child.name] = v
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	return obj, nil
}

// decodeValue decodes one whole value as encoding/json v2 does into an
// any; a scalar, what rules read most, without its reflection.
func decodeValue(dec *jsontext.Decoder) (any, error) {
	if k := dec.PeekKind(); k == '{' || k == '[' {
		var v any
		err := jsonv2.UnmarshalDecode(dec, &v)
		return v, err
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), nil
	case '0':
		return tok.Float() // an error when out of a double's range
	case 't', 'f':
		return tok.Bool(), nil
	}
	return nil, nil // null
}
