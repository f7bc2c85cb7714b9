package casesim

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// wireCaseFilter is the CaseFilter union as it travels; exactly one member.
type wireCaseFilter struct {
	AndAll []wireCaseFilter `json:"andAll,omitempty"`
	OrAll  []wireCaseFilter `json:"orAll,omitempty"`
	Not    *wireCaseFilter  `json:"not,omitempty"`
	Field  *wireFieldFilter `json:"field,omitempty"`
	Tag    *struct {
		EqualTo *struct {
			Key   *string `json:"key"`
			Value *string `json:"value"`
		} `json:"equalTo,omitempty"`
	} `json:"tag,omitempty"`
	// raw holds the members as sent: an empty andAll ([]) is a member that
	// was set, unlike an absent one, and a null member is set but invalid.
	raw map[string]json.RawMessage
}

func (f *wireCaseFilter) UnmarshalJSON(b []byte) error {
	type plain wireCaseFilter
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p.raw); err != nil {
		return err
	}
	*f = wireCaseFilter(p)
	return nil
}

// wireFieldFilter is the FieldFilter union: one comparison on one field.
type wireFieldFilter struct {
	EqualTo              *wireFieldValue `json:"equalTo,omitempty"`
	Contains             *wireFieldValue `json:"contains,omitempty"`
	GreaterThan          *wireFieldValue `json:"greaterThan,omitempty"`
	GreaterThanOrEqualTo *wireFieldValue `json:"greaterThanOrEqualTo,omitempty"`
	LessThan             *wireFieldValue `json:"lessThan,omitempty"`
	LessThanOrEqualTo    *wireFieldValue `json:"lessThanOrEqualTo,omitempty"`
}

// caseMatcher is a checked filter, ready to run against each case.
type caseMatcher func(values map[string]types.FieldValueUnion) bool

// compileFilter validates a CaseFilter against the domain and returns its
// matcher; path names the member in errors, as the service's messages do.
// The caller holds d.mu.
func (d *domain) compileFilter(f *wireCaseFilter, path string, depth int) (caseMatcher, *apiError) {
	if depth > maxFilterDepth {
		return nil, validationf("%s: filters nest deeper than %d", path, maxFilterDepth)
	}
	if n := len(f.raw); n != 1 {
		return nil, validationf("%s: union must set exactly one member (andAll, orAll, not, field, tag), got %d", path, n)
	}
	for name, v := range f.raw {
		if string(v) == "null" {
			return nil, validationf("%s.%s: union member is null", path, name)
		}
	}
	list := func(name string, fs []wireCaseFilter) ([]caseMatcher, *apiError) {
		if len(fs) > maxFilterList {
			return nil, validationf("%s.%s: %d entries, at most %d", path, name, len(fs), maxFilterList)
		}
		out := make([]caseMatcher, len(fs))
		for i := range fs {
			m, e := d.compileFilter(&fs[i], path+"."+name+"["+strconv.Itoa(i)+"]", depth+1)
			if e != nil {
				return nil, e
			}
			out[i] = m
		}
		return out, nil
	}
	switch {
	case f.raw["andAll"] != nil:
		ms, e := list("andAll", f.AndAll)
		if e != nil {
			return nil, e
		}
		return func(v map[string]types.FieldValueUnion) bool {
			for _, m := range ms {
				if !m(v) {
					return false
				}
			}
			return true
		}, nil
	case f.raw["orAll"] != nil:
		ms, e := list("orAll", f.OrAll)
		if e != nil {
			return nil, e
		}
		return func(v map[string]types.FieldValueUnion) bool {
			for _, m := range ms {
				if m(v) {
					return true
				}
			}
			return false
		}, nil
	case f.Not != nil:
		m, e := d.compileFilter(f.Not, path+".not", depth+1)
		if e != nil {
			return nil, e
		}
		return func(v map[string]types.FieldValueUnion) bool { return !m(v) }, nil
	case f.Field != nil:
		return d.compileFieldFilter(f.Field, path+".field")
	case f.Tag != nil:
		if f.Tag.EqualTo == nil || f.Tag.EqualTo.Key == nil {
			return nil, validationf("%s.tag.equalTo.key: required", path)
		}
		// Simulated cases carry no tags, so a tag filter matches none.
		return func(map[string]types.FieldValueUnion) bool { return false }, nil
	}
	return nil, validationf("%s: union member is null", path)
}

func (d *domain) compileFieldFilter(f *wireFieldFilter, path string) (caseMatcher, *apiError) {
	type cmp struct {
		name string
		v    *wireFieldValue
		ok   func(c int) bool
	}
	var set []cmp
	for _, c := range []cmp{
		{"equalTo", f.EqualTo, func(c int) bool { return c == 0 }},
		{"contains", f.Contains, nil},
		{"greaterThan", f.GreaterThan, func(c int) bool { return c > 0 }},
		{"greaterThanOrEqualTo", f.GreaterThanOrEqualTo, func(c int) bool { return c >= 0 }},
		{"lessThan", f.LessThan, func(c int) bool { return c < 0 }},
		{"lessThanOrEqualTo", f.LessThanOrEqualTo, func(c int) bool { return c <= 0 }},
	} {
		if c.v != nil {
			set = append(set, c)
		}
	}
	if len(set) != 1 {
		return nil, validationf("%s: union must set exactly one comparison, got %d", path, len(set))
	}
	c := set[0]
	path += "." + c.name
	if c.v.ID == nil || c.v.Value == nil {
		return nil, validationf("%s: id and value are required", path)
	}
	if e := checkLen(path+".id", *c.v.ID, 1, maxIDLen); e != nil {
		return nil, e
	}
	if _, n := c.v.Value.member(); n != 1 {
		return nil, validationf("%s.value: union must set exactly one member, got %d", path, n)
	}
	// An unknown field would match nothing; refusing it is the stricter
	// reading (guess), and it makes a misspelt lookup key fail loudly.
	fd := d.fields[*c.v.ID]
	if fd == nil || fd.deleted {
		return nil, validationf("%s.id: field %q does not exist in the domain", path, *c.v.ID)
	}
	id, want := *c.v.ID, c.v.Value.toSDK()
	if c.ok == nil { // contains: substring of a string value
		s, isStr := want.(*types.FieldValueUnionMemberStringValue)
		if !isStr {
			return nil, validationf("%s.value: contains takes stringValue", path)
		}
		return func(v map[string]types.FieldValueUnion) bool {
			got, ok := v[id].(*types.FieldValueUnionMemberStringValue)
			return ok && strings.Contains(got.Value, s.Value)
		}, nil
	}
	return func(v map[string]types.FieldValueUnion) bool {
		got, ok := v[id]
		if !ok {
			// No value: only equalTo emptyValue matches an unset field.
			_, empty := want.(*types.FieldValueUnionMemberEmptyValue)
			return empty && c.name == "equalTo"
		}
		r, comparable := compareUnion(got, want)
		return comparable && c.ok(r)
	}, nil
}

// compareUnion orders two values of the same member; values of different
// members are not comparable and never match.
func compareUnion(a, b types.FieldValueUnion) (int, bool) {
	switch x := a.(type) {
	case *types.FieldValueUnionMemberStringValue:
		if y, ok := b.(*types.FieldValueUnionMemberStringValue); ok {
			return strings.Compare(x.Value, y.Value), true
		}
	case *types.FieldValueUnionMemberDoubleValue:
		y, ok := b.(*types.FieldValueUnionMemberDoubleValue)
		if !ok || math.IsNaN(x.Value) || math.IsNaN(y.Value) {
			return 0, false
		}
		switch {
		case x.Value < y.Value:
			return -1, true
		case x.Value > y.Value:
			return 1, true
		}
		return 0, true
	case *types.FieldValueUnionMemberBooleanValue:
		y, ok := b.(*types.FieldValueUnionMemberBooleanValue)
		if !ok {
			return 0, false
		}
		// Booleans are equal or not, never ordered: unequal ones match no
		// comparison, so greaterThan false does not find true.
		return 0, x.Value == y.Value
	case *types.FieldValueUnionMemberUserArnValue:
		if y, ok := b.(*types.FieldValueUnionMemberUserArnValue); ok {
			return strings.Compare(x.Value, y.Value), true
		}
	case *types.FieldValueUnionMemberEmptyValue:
		_, ok := b.(*types.FieldValueUnionMemberEmptyValue)
		return 0, ok
	}
	return 0, false
}
