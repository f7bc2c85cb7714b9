package casesim_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/catalog"
)

// TestCatalogResolvesSystemFieldsByName runs casebridge's field catalog
// against a domain made by CreateDomain (so with system fields) through the
// SDK: system fields resolve by name like custom ones, the catalog leaves a
// DateTime value as sent (no coercion between the guessed wire forms), and
// the simulator then refuses a write to a read-only system field.
func TestCatalogResolvesSystemFieldsByName(t *testing.T) {
	h := newHarness(t, casesim.Options{}, false)
	ctx := context.Background()
	dom, err := h.client.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("cat")})
	if err != nil {
		t.Fatal(err)
	}
	d := dom.DomainId
	fo, err := h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("Region"), Type: types.FieldTypeText})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := h.client.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := h.client.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: d, TemplateId: tmpl.TemplateId,
		Fields: []types.FieldValue{fv("title", str("t")), fv("customer_id", str("c"))}})
	if err != nil {
		t.Fatal(err)
	}
	inf := math.Inf(1)
	cat := catalog.New(h.client, catalog.Options{Pacing: catalog.Pacing{ListFields: catalog.Pace{Rate: inf}, BatchGetField: catalog.Pace{Rate: inf}, ListFieldOptions: catalog.Pace{Rate: inf}}})
	in, err := cat.Resolve(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: cc.CaseId,
		Fields: []types.FieldValue{fv("status", str("closed")), fv("title", str("renamed")), fv("Region", str("EU"))}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{*in.Fields[0].Id, *in.Fields[1].Id, *in.Fields[2].Id}; got[0] != "status" || got[1] != "title" || got[2] != *fo.FieldId {
		t.Errorf("resolved ids = %v", got)
	}
	if _, err := h.client.UpdateCase(ctx, in); err != nil {
		t.Errorf("UpdateCase with resolved system fields: %v", err)
	}

	dt, err := cat.Resolve(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: cc.CaseId,
		Fields: []types.FieldValue{fv("created_datetime", num(1.7e12))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dt.Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue); !ok {
		t.Errorf("the catalog changed a DateTime doubleValue into %T", dt.Fields[0].Value)
	}
	var ve *types.ValidationException
	if _, err := h.client.UpdateCase(ctx, dt); !errors.As(err, &ve) {
		t.Errorf("UpdateCase writing created_datetime: %v, want ValidationException", err)
	}
}
