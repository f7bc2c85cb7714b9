package catalog

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// ResolveRule is Resolve for a mapping rule's result, which also turns a
// number or a boolean into the string a Text, Url or SingleSelect field
// takes (an order number read as a JSON number, say). Contract v1 messages
// keep Resolve's stricter checks: their publishers chose each value's
// member, and a number sent to a Text field is their mistake to hear of.
func (c *Catalog) ResolveRule(ctx context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error) {
	return c.resolveWith(ctx, in, true)
}

// widenToText converts v to a string for a field whose type takes only
// strings; convert then checks the result as usual (a SingleSelect
// option, for one). Numbers are written as JSON would (8842, not 8842.0).
func widenToText(f *Field, v types.FieldValueUnion) types.FieldValueUnion {
	switch f.Type {
	case types.FieldTypeText, types.FieldTypeUrl, types.FieldTypeSingleSelect:
	default:
		return v
	}
	switch x := v.(type) {
	case *types.FieldValueUnionMemberDoubleValue:
		return &types.FieldValueUnionMemberStringValue{Value: strconv.FormatFloat(x.Value, 'f', -1, 64)}
	case *types.FieldValueUnionMemberBooleanValue:
		return &types.FieldValueUnionMemberStringValue{Value: strconv.FormatBool(x.Value)}
	}
	return v
}
