package casesim_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// awsDefaultTable is AWS's published table written out independently of
// awsquota, so that a wrong number there fails here.
var awsDefaultTable = map[string]casesim.Quota{
	"UpdateCase":           {Rate: 2, Burst: 2},
	"CreateCase":           {Rate: 2, Burst: 10},
	"GetCase":              {Rate: 4, Burst: 10},
	"ListFields":           {Rate: 2, Burst: 5},
	"CreateField":          {Rate: 2, Burst: 5},
	"CreateDomain":         {Rate: 2, Burst: 5},
	"CreateTemplate":       {Rate: 2, Burst: 5},
	"DeleteField":          {Rate: 2, Burst: 5},
	"BatchPutFieldOptions": {Rate: 2, Burst: 5},
	"BatchGetField":        {Rate: 8, Burst: 25},
	"ListFieldOptions":     {Rate: 6, Burst: 16},
	"SearchCases":          {Rate: 2, Burst: 10},
}

func TestQuotaPresetAWSDefault(t *testing.T) {
	got, err := casesim.QuotaPreset("aws-default")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, awsDefaultTable) {
		t.Errorf("aws-default = %v\nwant %v", got, awsDefaultTable)
	}
	if _, err := casesim.QuotaPreset("aws-defaults"); err == nil {
		t.Error("a misspelt preset was accepted")
	}
}

func TestParseQuota(t *testing.T) {
	for spec, want := range map[string]casesim.Quota{"GetCase=4:10": {Rate: 4, Burst: 10}, "UpdateCase=0.5": {Rate: 0.5, Burst: 1}, "ListFields=0": {Rate: 0, Burst: 1}} {
		if _, q, err := casesim.ParseQuota(spec); err != nil || q != want {
			t.Errorf("ParseQuota(%q) = %v, %v; want %v", spec, q, err, want)
		}
	}
	for _, spec := range []string{"GetCase", "GetCase=", "Getcase=1", "GetCase=-1", "GetCase=x", "GetCase=1:0", "GetCase=1:x", "=1"} {
		if _, _, err := casesim.ParseQuota(spec); err == nil {
			t.Errorf("ParseQuota(%q) succeeded", spec)
		}
	}
}

// TestAWSDefaultQuotasEveryOperation calls each operation through the SDK
// past its aws-default burst: every operation is throttled with 429
// ThrottlingException after about Burst calls, and /casesim/stats counts
// the 429s under the operation's name.
func TestAWSDefaultQuotasEveryOperation(t *testing.T) {
	qs, err := casesim.QuotaPreset("aws-default")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, casesim.Options{Quotas: qs}, true)
	ctx := context.Background()
	c, d := h.client, aws.String(demoDomain)
	ids := []types.FieldIdentifier{{Id: aws.String("status")}}
	n := 0
	calls := map[string]func() error{
		"CreateDomain": func() error {
			n++
			_, err := c.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String(fmt.Sprint("d", n))})
			return err
		},
		"CreateField": func() error {
			n++
			_, err := c.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String(fmt.Sprint("f", n)), Type: types.FieldTypeText})
			return err
		},
		"ListFields": func() error { _, err := c.ListFields(ctx, &connectcases.ListFieldsInput{DomainId: d}); return err },
		"BatchGetField": func() error {
			_, err := c.BatchGetField(ctx, &connectcases.BatchGetFieldInput{DomainId: d, Fields: ids})
			return err
		},
		"DeleteField": func() error {
			_, err := c.DeleteField(ctx, &connectcases.DeleteFieldInput{DomainId: d, FieldId: aws.String("reason")})
			return err
		},
		"BatchPutFieldOptions": func() error {
			_, err := c.BatchPutFieldOptions(ctx, &connectcases.BatchPutFieldOptionsInput{DomainId: d, FieldId: aws.String("status"),
				Options: []types.FieldOption{{Name: aws.String("open"), Value: aws.String("open"), Active: aws.Bool(true)}}})
			return err
		},
		"ListFieldOptions": func() error {
			_, err := c.ListFieldOptions(ctx, &connectcases.ListFieldOptionsInput{DomainId: d, FieldId: aws.String("status")})
			return err
		},
		"CreateTemplate": func() error {
			n++
			_, err := c.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String(fmt.Sprint("t", n))})
			return err
		},
		"CreateCase": func() error {
			_, err := c.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: d, TemplateId: aws.String("tmpl-default"),
				Fields: []types.FieldValue{fv("title", str("t")), fv("customer_id", str("c"))}})
			return err
		},
		"GetCase": func() error {
			_, err := c.GetCase(ctx, &connectcases.GetCaseInput{DomainId: d, CaseId: aws.String(demoCase1), Fields: ids})
			return err
		},
		"SearchCases": func() error {
			_, err := c.SearchCases(ctx, &connectcases.SearchCasesInput{DomainId: d, Fields: ids})
			return err
		},
		"UpdateCase": func() error {
			_, err := c.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: aws.String(demoCase1),
				Fields: []types.FieldValue{fv("status", str("open"))}})
			return err
		},
	}
	if len(calls) != len(casesim.Operations) {
		t.Fatalf("test covers %d operations, the simulator serves %d", len(calls), len(casesim.Operations))
	}
	for _, op := range casesim.Operations {
		q := qs[op]
		passed := 0
		for i := 0; i < q.Burst+4; i++ {
			var te *types.ThrottlingException
			if err := calls[op](); errors.As(err, &te) {
				break
			}
			passed++
		}
		// The bucket refills while the calls run (BatchGetField by 8/s), so
		// allow a token or two beyond the burst on a slow machine.
		if passed < q.Burst || passed > q.Burst+2 {
			t.Errorf("%s: %d calls passed before the first 429, want about %d (burst)", op, passed, q.Burst)
		}
		if got := h.sim.Stats()[op][429]; got != 1 && passed <= q.Burst+2 {
			t.Errorf("%s: stats count %d 429s, want 1", op, got)
		}
	}
}
