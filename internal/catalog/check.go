package catalog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// Resolve returns a copy of in whose field ids are the catalog's ids and
// whose values have the member their field type takes: a Number from a
// numeric string, a Boolean from "true"/"false", a User from an ARN string.
// in itself is not changed. A request the catalog refuses comes back as a
// *contract.RejectionError (the consumer dead-letters it as validation
// without spending quota); failing to load the catalog returns the load's
// error.
func (c *Catalog) Resolve(ctx context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error) {
	return c.resolveWith(ctx, in, false)
}

func (c *Catalog) resolveWith(ctx context.Context, in *connectcases.UpdateCaseInput, widen bool) (*connectcases.UpdateCaseInput, error) {
	domainID := aws.ToString(in.DomainId)
	d, err := c.Domain(ctx, domainID)
	if err != nil {
		return nil, err
	}
	out, err := resolve(d, in, widen)
	if errors.Is(err, errUnknown) {
		// Perhaps a field or option was added since the last load.
		if d, err = c.refreshIfStale(ctx, d); err != nil {
			return nil, err
		}
		out, err = resolve(d, in, widen)
	}
	var rej *rejection
	if errors.As(err, &rej) {
		return nil, &contract.RejectionError{Path: rej.path, Rule: rej.rule + " (field catalog)"}
	}
	return out, err
}

// rejection is a message the catalog refuses; unknown marks the kind a
// refresh might cure. Its text names paths, ids and types, never a value.
type rejection struct {
	path, rule string
	unknown    bool
}

func (r *rejection) Error() string { return r.path + ": " + r.rule }

func (r *rejection) Is(target error) bool { return r.unknown && target == errUnknown }

func reject(unknown bool, format string, args ...any) *rejection {
	return &rejection{rule: fmt.Sprintf(format, args...), unknown: unknown}
}

func resolve(d *Domain, in *connectcases.UpdateCaseInput, widen bool) (*connectcases.UpdateCaseInput, error) {
	out := *in
	out.Fields = make([]types.FieldValue, len(in.Fields))
	seen := make(map[string]int, len(in.Fields))
	for i, fv := range in.Fields {
		key := aws.ToString(fv.Id)
		f, ok := d.Lookup(key)
		if !ok {
			rej := reject(true, "no field with id or name %q in domain %s", key, d.ID)
			rej.path = fmt.Sprintf("fields[%d].id", i)
			return nil, rej
		}
		if j, dup := seen[f.ID]; dup {
			rej := reject(false, "%q is field %s, which fields[%d] already sets", key, f.ID, j)
			rej.path = fmt.Sprintf("fields[%d].id", i)
			return nil, rej
		}
		seen[f.ID] = i
		v := fv.Value
		if widen {
			v = widenToText(f, v)
		}
		v, rej := convert(f, v)
		if rej != nil {
			rej.path = fmt.Sprintf("fields[%d].value", i)
			return nil, rej
		}
		out.Fields[i] = types.FieldValue{Id: aws.String(f.ID), Value: v}
	}
	return &out, nil
}

// convert checks v against f's type and converts what the type allows.
func convert(f *Field, v types.FieldValueUnion) (types.FieldValueUnion, *rejection) {
	if _, empty := v.(*types.FieldValueUnionMemberEmptyValue); empty {
		return v, nil
	}
	wrong := func(member string) *rejection {
		return reject(false, "field %s (%s) has type %s, which does not take %s", f.ID, f.Name, f.Type, member)
	}
	switch f.Type {
	case types.FieldTypeNumber:
		switch x := v.(type) {
		case *types.FieldValueUnionMemberDoubleValue:
			return v, nil
		case *types.FieldValueUnionMemberStringValue:
			n, err := strconv.ParseFloat(strings.TrimSpace(x.Value), 64)
			if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
				return nil, reject(false, "field %s (%s) has type Number and the string is not a number", f.ID, f.Name)
			}
			return &types.FieldValueUnionMemberDoubleValue{Value: n}, nil
		}
		return nil, wrong(member(v))
	case types.FieldTypeBoolean:
		switch x := v.(type) {
		case *types.FieldValueUnionMemberBooleanValue:
			return v, nil
		case *types.FieldValueUnionMemberStringValue:
			switch x.Value {
			case "true":
				return &types.FieldValueUnionMemberBooleanValue{Value: true}, nil
			case "false":
				return &types.FieldValueUnionMemberBooleanValue{Value: false}, nil
			}
			return nil, reject(false, "field %s (%s) has type Boolean and takes the strings \"true\" and \"false\" only", f.ID, f.Name)
		}
		return nil, wrong(member(v))
	case types.FieldTypeUser:
		switch x := v.(type) {
		case *types.FieldValueUnionMemberUserArnValue:
			return v, nil
		case *types.FieldValueUnionMemberStringValue:
			if strings.HasPrefix(x.Value, "arn:") {
				return &types.FieldValueUnionMemberUserArnValue{Value: x.Value}, nil
			}
			return nil, reject(false, "field %s (%s) has type User and takes a user ARN", f.ID, f.Name)
		}
		return nil, wrong(member(v))
	case types.FieldTypeSingleSelect:
		x, ok := v.(*types.FieldValueUnionMemberStringValue)
		if !ok {
			return nil, wrong(member(v))
		}
		if len(f.Options) > 0 && !f.Options[x.Value] {
			// unknown: the option may have been added since the last load.
			return nil, reject(true, "field %s (%s) is a SingleSelect and the value is not one of its %d active options", f.ID, f.Name, len(f.Options))
		}
		return v, nil
	case types.FieldTypeText, types.FieldTypeUrl:
		if _, ok := v.(*types.FieldValueUnionMemberStringValue); !ok {
			return nil, wrong(member(v))
		}
		return v, nil
	default:
		// DateTime (whose wire form is unverified) and types newer than this
		// code: the service decides.
		return v, nil
	}
}

func member(v types.FieldValueUnion) string {
	switch v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return "stringValue"
	case *types.FieldValueUnionMemberDoubleValue:
		return "doubleValue"
	case *types.FieldValueUnionMemberBooleanValue:
		return "booleanValue"
	case *types.FieldValueUnionMemberUserArnValue:
		return "userArnValue"
	default:
		return fmt.Sprintf("%T", v)
	}
}
