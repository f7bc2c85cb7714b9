package casesim_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

func wantQuotaExceeded(t *testing.T, what string, err error) {
	t.Helper()
	var qe *types.ServiceQuotaExceededException
	if !errors.As(err, &qe) {
		t.Fatalf("%s: err = %T %v, want *types.ServiceQuotaExceededException", what, err, err)
	}
}

// TestResourceLimits fills each resource to AWS's default quota through the
// SDK: the next creation is 402 ServiceQuotaExceededException.
func TestResourceLimits(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true) // the seed holds one domain
	ctx := context.Background()
	c := h.client
	for i := 1; i < 5; i++ {
		if _, err := c.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String(fmt.Sprint("d", i))}); err != nil {
			t.Fatalf("domain %d of 5: %v", i+1, err)
		}
	}
	_, err := c.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("d6")})
	wantQuotaExceeded(t, "6th domain", err)
	if got := h.sim.Stats()["CreateDomain"][402]; got != 1 {
		t.Errorf("CreateDomain 402s = %d", got)
	}

	d := aws.String(demoDomain)
	// The seed has 11 fields; one deleted field keeps its place (the
	// stricter reading).
	if _, err := c.DeleteField(ctx, &connectcases.DeleteFieldInput{DomainId: d, FieldId: aws.String("reason")}); err != nil {
		t.Fatal(err)
	}
	for i := 11; i < 500; i++ {
		if _, err := c.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String(fmt.Sprint("f", i)), Type: types.FieldTypeText}); err != nil {
			t.Fatalf("field %d of 500: %v", i+1, err)
		}
	}
	_, err = c.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String("f500"), Type: types.FieldTypeText})
	wantQuotaExceeded(t, "501st field", err)

	for i := 1; i < 100; i++ {
		if _, err := c.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String(fmt.Sprint("t", i))}); err != nil {
			t.Fatalf("template %d of 100: %v", i+1, err)
		}
	}
	_, err = c.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String("t100")})
	wantQuotaExceeded(t, "101st template", err)

	// status has 3 options; 497 more in batches of 50 reach 500.
	put := func(from, to int) error {
		var opts []types.FieldOption
		for i := from; i < to; i++ {
			opts = append(opts, types.FieldOption{Name: aws.String(fmt.Sprint("o", i)), Value: aws.String(fmt.Sprint("o", i)), Active: aws.Bool(true)})
		}
		_, err := c.BatchPutFieldOptions(ctx, &connectcases.BatchPutFieldOptionsInput{DomainId: d, FieldId: aws.String("status"), Options: opts})
		return err
	}
	for i := 0; i < 497; i += 50 {
		if err := put(i, min(i+50, 497)); err != nil {
			t.Fatalf("options from %d: %v", i, err)
		}
	}
	wantQuotaExceeded(t, "501st option", put(497, 498))
	out, err := c.ListFieldOptions(ctx, &connectcases.ListFieldOptionsInput{DomainId: d, FieldId: aws.String("status")})
	if err != nil || len(out.Options) != 100 || out.NextToken == nil {
		t.Errorf("ListFieldOptions after the refused batch: %d options, next %v, %v", len(out.Options), out.NextToken, err)
	}
}

// TestResourceLimitsConfigurable: an account with a raised (or lowered)
// quota is simulated with Options.Limits.
func TestResourceLimitsConfigurable(t *testing.T) {
	h := newHarness(t, casesim.Options{Limits: casesim.Limits{Domains: 1}}, false)
	ctx := context.Background()
	if _, err := h.client.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("one")}); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("two")})
	wantQuotaExceeded(t, "2nd domain with Limits.Domains 1", err)
}
