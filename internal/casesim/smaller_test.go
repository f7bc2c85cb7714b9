package casesim_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// TestClientTokenReuse: the same clientToken on the same request is a
// retry and gets the same case; on a different request it is 409
// ConflictException, not silently the first case.
func TestClientTokenReuse(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	in := func(title string) *connectcases.CreateCaseInput {
		return &connectcases.CreateCaseInput{DomainId: aws.String(demoDomain), TemplateId: aws.String("tmpl-default"),
			ClientToken: aws.String("tok-1"), Fields: []types.FieldValue{fv("title", str(title))}}
	}
	first, err := h.client.CreateCase(ctx, in("a"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.client.CreateCase(ctx, in("a"))
	if err != nil || *again.CaseId != *first.CaseId {
		t.Errorf("retry: %v, %v; want case %s", again, err, *first.CaseId)
	}
	var ce *types.ConflictException
	if _, err := h.client.CreateCase(ctx, in("b")); !errors.As(err, &ce) {
		t.Errorf("same token, other title: %v, want ConflictException", err)
	}
}

// TestCatalogModelChecks: names with line breaks fail the model's .*[\S]
// pattern; ListFieldOptions takes at most one values entry;
// BatchPutFieldOptions refuses a deleted field.
func TestCatalogModelChecks(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	d := aws.String(demoDomain)
	var ve *types.ValidationException
	if _, err := h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("two\nlines"), Type: types.FieldTypeText}); !errors.As(err, &ve) {
		t.Errorf("field name with a line break: %v, want ValidationException", err)
	}
	if _, err := h.client.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String("a\r\nb")}); !errors.As(err, &ve) {
		t.Errorf("template name with a line break: %v, want ValidationException", err)
	}
	opts := func(values ...string) error {
		_, err := h.client.ListFieldOptions(ctx, &connectcases.ListFieldOptionsInput{DomainId: d, FieldId: aws.String("status"), Values: values})
		return err
	}
	if err := opts("open"); err != nil {
		t.Errorf("one values entry: %v", err)
	}
	if err := opts("open", "closed"); !errors.As(err, &ve) {
		t.Errorf("two values entries: %v, want ValidationException", err)
	}
	if _, err := h.client.DeleteField(ctx, &connectcases.DeleteFieldInput{DomainId: d, FieldId: aws.String("status")}); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.BatchPutFieldOptions(ctx, &connectcases.BatchPutFieldOptionsInput{DomainId: d, FieldId: aws.String("status"),
		Options: []types.FieldOption{{Name: aws.String("x"), Value: aws.String("x"), Active: aws.Bool(true)}}})
	if !errors.As(err, &ve) {
		t.Errorf("options on a deleted field: %v, want ValidationException", err)
	}
}

// TestTemplateAndOptionChecks: CreateTemplate enforces its description
// length, at most 100 requiredFields and no field twice; BatchPutFieldOptions
// checks the .*[\S] pattern of names and values and reports a value
// repeated within the batch in errors, applying the rest.
func TestTemplateAndOptionChecks(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	ctx := context.Background()
	d := aws.String(demoDomain)
	var ve *types.ValidationException
	tmpl := func(name, desc string, req ...string) error {
		in := &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String(name), Description: aws.String(desc)}
		for _, id := range req {
			in.RequiredFields = append(in.RequiredFields, types.RequiredField{FieldId: aws.String(id)})
		}
		_, err := h.client.CreateTemplate(ctx, in)
		return err
	}
	if err := tmpl("long", strings.Repeat("d", 256)); !errors.As(err, &ve) {
		t.Errorf("256-character description: %v, want ValidationException", err)
	}
	if err := tmpl("many", "", slices.Repeat([]string{"title"}, 101)...); !errors.As(err, &ve) {
		t.Errorf("101 requiredFields: %v, want ValidationException", err)
	}
	if err := tmpl("twice", "", "title", "title"); !errors.As(err, &ve) {
		t.Errorf("a required field twice: %v, want ValidationException", err)
	}
	if err := tmpl("fine", strings.Repeat("d", 255), "title", "status"); err != nil {
		t.Errorf("valid template: %v", err)
	}

	put := func(opts ...[2]string) (*connectcases.BatchPutFieldOptionsOutput, error) {
		in := &connectcases.BatchPutFieldOptionsInput{DomainId: d, FieldId: aws.String("status")}
		for _, o := range opts {
			in.Options = append(in.Options, types.FieldOption{Name: aws.String(o[0]), Value: aws.String(o[1]), Active: aws.Bool(true)})
		}
		return h.client.BatchPutFieldOptions(ctx, in)
	}
	for _, o := range [][2]string{{"Trailing ", "t"}, {"T", "t "}, {"Two\nlines", "t"}, {"T", "a\nb"}} {
		if _, err := put(o); !errors.As(err, &ve) {
			t.Errorf("option %q: %v, want ValidationException", o, err)
		}
	}
	out, err := put([2]string{"Waiting", "waiting"}, [2]string{"Waiting again", "waiting"})
	if err != nil || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Value) != "waiting" {
		t.Fatalf("a value twice in one batch: %+v, %v; want one error for it", out, err)
	}
	lo, err := h.client.ListFieldOptions(ctx, &connectcases.ListFieldOptionsInput{DomainId: d, FieldId: aws.String("status"), Values: []string{"waiting"}})
	if err != nil || len(lo.Options) != 1 || aws.ToString(lo.Options[0].Name) != "Waiting" {
		t.Errorf("the first of the repeated options is applied: %+v, %v", lo, err)
	}
}
