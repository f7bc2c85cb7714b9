package casesim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
)

// TestTextAttributes: CreateField stores attributes.text.isMultiline and
// ListFields and BatchGetField return it; text attributes on a non-Text
// field, or without isMultiline, are refused.
func TestTextAttributes(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	d := aws.String(demoDomain)
	out, err := h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("notes"), Type: types.FieldTypeText,
		Attributes: &types.FieldAttributesMemberText{Value: types.TextAttributes{IsMultiline: aws.Bool(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	multiline := func(a types.FieldAttributes) bool {
		m, ok := a.(*types.FieldAttributesMemberText)
		return ok && aws.ToBool(m.Value.IsMultiline)
	}
	lf, err := h.client.ListFields(ctx, &connectcases.ListFieldsInput{DomainId: d})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range lf.Fields {
		if aws.ToString(f.FieldId) == aws.ToString(out.FieldId) {
			found = multiline(f.Attributes)
		} else if f.Attributes != nil {
			t.Errorf("field %s has attributes %v, created without", aws.ToString(f.Name), f.Attributes)
		}
	}
	if !found {
		t.Error("ListFields does not return notes with isMultiline true")
	}
	bg, err := h.client.BatchGetField(ctx, &connectcases.BatchGetFieldInput{DomainId: d, Fields: []types.FieldIdentifier{{Id: out.FieldId}}})
	if err != nil || len(bg.Fields) != 1 || !multiline(bg.Fields[0].Attributes) {
		t.Errorf("BatchGetField: %+v, %v; want isMultiline true", bg, err)
	}
	var ve *types.ValidationException
	_, err = h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("n2"), Type: types.FieldTypeNumber,
		Attributes: &types.FieldAttributesMemberText{Value: types.TextAttributes{IsMultiline: aws.Bool(false)}}})
	if !errors.As(err, &ve) {
		t.Errorf("text attributes on a Number field: %v, want ValidationException", err)
	}
	// The SDK checks isMultiline itself; a hand-written client may not.
	_, err = h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("n3"), Type: types.FieldTypeText},
		withBody(`{"name":"n3","type":"Text","attributes":{"text":{}}}`))
	if !errors.As(err, &ve) {
		t.Errorf("text attributes without isMultiline: %v, want ValidationException", err)
	}
}

// TestTextLengthInBytes: text limits count UTF-8 bytes (the stricter
// reading of the model's "characters"), and casebridge's contract check
// draws the line at the same place, so the two never disagree.
func TestTextLengthInBytes(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	for _, tc := range []struct {
		field, value string
		ok           bool
	}{
		{"reason", strings.Repeat("a", 4100), true},
		{"reason", strings.Repeat("a", 4097) + "日", true},   // 4100 bytes
		{"reason", strings.Repeat("a", 4098) + "日", false},  // 4101 bytes, 4099 characters
		{"reason", strings.Repeat("日", 1367), false},        // 4101 bytes, 1367 characters
		{"summary", strings.Repeat("é", 1500), true},        // 3000 bytes
		{"summary", strings.Repeat("é", 1500) + "a", false}, // 3001 bytes
		{"summary", strings.Repeat("a", 2999) + "é", false}, // 3001 bytes, 3000 characters
	} {
		_, err := h.client.UpdateCase(ctx, update(fv(tc.field, str(tc.value))))
		var ve *types.ValidationException
		if tc.ok && err != nil || !tc.ok && !errors.As(err, &ve) {
			t.Errorf("%s with %d bytes: err = %v, want ok=%v", tc.field, len(tc.value), err, tc.ok)
		}
		if tc.field != "reason" {
			continue // the contract knows no field types or names, only the general limit
		}
		m := contract.Message{CaseID: demoCase1, Fields: []contract.Field{{ID: tc.field, Value: contract.StringValue(tc.value)}}}
		if cerr := m.Validate(); (cerr == nil) != tc.ok {
			t.Errorf("%s with %d bytes: contract says %v, simulator ok=%v", tc.field, len(tc.value), cerr, tc.ok)
		}
	}
}
