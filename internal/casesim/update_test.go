package casesim_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

func TestUpdateCaseAppliesAndRecords(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, casesim.Options{}, true)
	owner := "arn:aws:connect:us-east-1:123456789012:instance/i/agent/a"
	fields := []types.FieldValue{
		fv("status", str("pending")),
		fv("priority", num(2.5)),
		fv("escalated", &types.FieldValueUnionMemberBooleanValue{Value: true}),
		fv("owner", &types.FieldValueUnionMemberUserArnValue{Value: owner}),
		fv("website", str("https://example.com")),
		fv("title", &types.FieldValueUnionMemberEmptyValue{}), // not required? title is: see below
	}
	// title is required by the template, so clearing it must fail and leave
	// the case untouched (atomicity of a rejected update).
	_, err := h.client.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1), Fields: fields})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), `"title"`) {
		t.Fatalf("clearing a required field: err = %v, want ValidationException naming title", err)
	}
	if got, _ := h.sim.CaseFields(demoDomain, demoCase1); got["priority"] != nil {
		t.Fatalf("rejected update was partly applied: %v", got)
	}

	fields[5] = fv("reason", &types.FieldValueUnionMemberEmptyValue{})
	by := &types.UserUnionMemberCustomEntity{Value: "billing-system"}
	if _, err := h.client.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1), Fields: fields, PerformedBy: by}); err != nil {
		t.Fatal(err)
	}
	got, _ := h.sim.CaseFields(demoDomain, demoCase1)
	if v := got["priority"].(*types.FieldValueUnionMemberDoubleValue).Value; v != 2.5 {
		t.Errorf("priority = %v", v)
	}
	if v := got["owner"].(*types.FieldValueUnionMemberUserArnValue).Value; v != owner {
		t.Errorf("owner = %v", v)
	}
	if _, ok := got["reason"]; ok {
		t.Errorf("emptyValue left a value for reason")
	}
	ups := h.sim.AppliedUpdates()
	if len(ups) != 1 || ups[0].CaseID != demoCase1 || len(ups[0].Fields) != 6 || ups[0].PerformedBy.(*types.UserUnionMemberCustomEntity).Value != "billing-system" {
		t.Fatalf("AppliedUpdates = %+v", ups)
	}
	if st := h.sim.Stats()["UpdateCase"]; st[200] != 1 || st[400] != 1 {
		t.Errorf("stats = %v", st)
	}
}

func TestUpdateCaseErrors(t *testing.T) {
	long := strings.Repeat("x", 4101)
	many := make([]types.FieldValue, 221)
	for i := range many {
		many[i] = fv("title", str("t"))
	}
	tests := []struct {
		name     string
		domain   string
		caseID   string
		fields   []types.FieldValue
		by       types.UserUnion
		check    func(t *testing.T, err error)
		contains string
	}{
		{name: "unknown domain", domain: "nope", caseID: demoCase1, fields: []types.FieldValue{fv("status", str("open"))},
			check: notFound("nope", "Domain")},
		{name: "unknown case", domain: demoDomain, caseID: noSuchCase, fields: []types.FieldValue{fv("status", str("open"))},
			check: notFound(noSuchCase, "Case")},
		{name: "unknown field", fields: []types.FieldValue{fv("colour", str("red"))}, contains: `"colour" does not exist`},
		{name: "string for number", fields: []types.FieldValue{fv("priority", str("high"))}, contains: "priority"},
		{name: "double for text", fields: []types.FieldValue{fv("title", num(1))}, contains: "takes stringValue, not doubleValue"},
		{name: "bool for text", fields: []types.FieldValue{fv("reason", &types.FieldValueUnionMemberBooleanValue{Value: true})}, contains: "reason"},
		{name: "string for user", fields: []types.FieldValue{fv("owner", str("arn:x"))}, contains: "userArnValue"},
		{name: "user for url", fields: []types.FieldValue{fv("website", &types.FieldValueUnionMemberUserArnValue{Value: "arn:x"})}, contains: "website"},
		{name: "option not allowed", fields: []types.FieldValue{fv("status", str("reopened"))}, contains: `"reopened" is not an active option`},
		{name: "string too long", fields: []types.FieldValue{fv("reason", str(long))}, contains: "4101"},
		{name: "summary too long", fields: []types.FieldValue{fv("summary", str(long[:3001]))}, contains: "summary"},
		{name: "too many fields", fields: many, contains: "221"},
		{name: "empty id", fields: []types.FieldValue{fv("", str("x"))}, contains: "fields[0].id"},
		{name: "duplicate id", fields: []types.FieldValue{fv("title", str("a")), fv("title", str("b"))}, contains: "duplicate"},
		{name: "bad custom entity", fields: []types.FieldValue{fv("title", str("a"))}, by: &types.UserUnionMemberCustomEntity{Value: "bad!"}, contains: "customEntity"},
		{name: "not finite", fields: []types.FieldValue{fv("priority", num(posInf()))}, contains: "finite"},
	}
	h := newHarness(t, casesim.Options{}, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := tt.domain, tt.caseID
			if d == "" {
				d, c = demoDomain, demoCase2
			}
			_, err := h.client.UpdateCase(context.Background(), &connectcases.UpdateCaseInput{DomainId: aws.String(d), CaseId: aws.String(c), Fields: tt.fields, PerformedBy: tt.by})
			if tt.check != nil {
				tt.check(t, err)
				return
			}
			var ve *types.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("err = %T %v, want *types.ValidationException", err, err)
			}
			if !strings.Contains(ve.ErrorMessage(), tt.contains) {
				t.Errorf("message %q does not contain %q", ve.ErrorMessage(), tt.contains)
			}
		})
	}
	if n := len(h.sim.AppliedUpdates()); n != 0 {
		t.Errorf("%d updates applied by invalid calls", n)
	}
}

func notFound(id, typ string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("err = %T %v, want *types.ResourceNotFoundException", err, err)
		}
		if aws.ToString(nf.ResourceId) != id || aws.ToString(nf.ResourceType) != typ {
			t.Errorf("ResourceId, ResourceType = %q, %q; want %q, %q", aws.ToString(nf.ResourceId), aws.ToString(nf.ResourceType), id, typ)
		}
	}
}

// TestDeletedField checks the service's rule: a deleted field can still be
// updated or cleared on a case that holds a value for it, and nowhere else.
func TestDeletedField(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, casesim.Options{}, true)
	upd := func(caseID string, f types.FieldValue) error {
		_, err := h.client.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(caseID), Fields: []types.FieldValue{f}})
		return err
	}
	if err := upd(demoCase1, fv("reason", str("because"))); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.DeleteField(ctx, &connectcases.DeleteFieldInput{DomainId: aws.String(demoDomain), FieldId: aws.String("reason")}); err != nil {
		t.Fatal(err)
	}
	if err := upd(demoCase1, fv("reason", str("still"))); err != nil {
		t.Errorf("update of a deleted field the case holds: %v", err)
	}
	var ve *types.ValidationException
	if err := upd(demoCase2, fv("reason", str("x"))); !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "deleted") {
		t.Errorf("update of a deleted field the case lacks: err = %v, want ValidationException", err)
	}
}

// TestConcurrentUpdatesOneCase hammers one case; each update sets two
// fields that must stay paired, so a torn (non-atomic) update shows up as a
// mismatch, and the log must end with the update that produced the state.
func TestConcurrentUpdatesOneCase(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, casesim.Options{}, true)
	const workers, perWorker = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				n := w*perWorker + i
				_, err := h.client.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(demoCase1),
					Fields: []types.FieldValue{fv("priority", num(float64(n))), fv("reason", str(fmt.Sprint(n)))}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := h.sim.CaseFields(demoDomain, demoCase1)
	p := got["priority"].(*types.FieldValueUnionMemberDoubleValue).Value
	r := got["reason"].(*types.FieldValueUnionMemberStringValue).Value
	if fmt.Sprint(p) != r {
		t.Fatalf("torn update: priority %v, reason %q", p, r)
	}
	ups := h.sim.AppliedUpdates()
	if len(ups) != workers*perWorker {
		t.Fatalf("%d applied updates, want %d", len(ups), workers*perWorker)
	}
	last := ups[len(ups)-1].Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue).Value
	if last != p {
		t.Errorf("last logged update set priority %v, case has %v", last, p)
	}
	seen := map[float64]bool{}
	for _, u := range ups {
		seen[u.Fields[0].Value.(*types.FieldValueUnionMemberDoubleValue).Value] = true
	}
	if len(seen) != workers*perWorker {
		t.Errorf("%d distinct updates logged, want %d", len(seen), workers*perWorker)
	}
}

func posInf() float64 { return math.Inf(1) }

func TestCreateAndGetCaseErrors(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, casesim.Options{}, true)
	_, err := h.client.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: aws.String(demoDomain), TemplateId: aws.String("tmpl-default"),
		Fields: []types.FieldValue{fv("status", str("open"))}})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), `"title" is required`) {
		t.Errorf("CreateCase without the required title: %v", err)
	}
	_, err = h.client.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: aws.String(demoDomain), TemplateId: aws.String("nope"),
		Fields: []types.FieldValue{fv("title", str("x"))}})
	notFound("nope", "Template")(t, err)
	_, err = h.client.GetCase(ctx, &connectcases.GetCaseInput{DomainId: aws.String(demoDomain), CaseId: aws.String(noSuchCase),
		Fields: []types.FieldIdentifier{{Id: aws.String("status")}}})
	notFound(noSuchCase, "Case")(t, err)
	var ce *types.ConflictException
	if _, err := h.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: aws.String(demoDomain), Name: aws.String("status"), Type: types.FieldTypeText}); !errors.As(err, &ce) {
		t.Errorf("CreateField with a taken name: %v, want ConflictException", err)
	}
}
