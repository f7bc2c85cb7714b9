package casesim_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// TestSystemFields: a domain made with CreateDomain has the system fields
// in namespace System; CreateCase requires title and customer_id; the
// read-only ones cannot be written; UpdateCase moves last_updated_datetime.
func TestSystemFields(t *testing.T) {
	h := newHarness(t, casesim.Options{}, false)
	ctx := context.Background()
	c := h.client
	dom, err := c.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("sys")})
	if err != nil {
		t.Fatal(err)
	}
	d := dom.DomainId
	lf, err := c.ListFields(ctx, &connectcases.ListFieldsInput{DomainId: d})
	if err != nil {
		t.Fatal(err)
	}
	system := map[string]types.FieldType{}
	for _, f := range lf.Fields {
		if f.Namespace == types.FieldNamespaceSystem && aws.ToString(f.FieldId) == aws.ToString(f.Name) {
			system[*f.Name] = f.Type
		}
	}
	for name, typ := range map[string]types.FieldType{"title": types.FieldTypeText, "customer_id": types.FieldTypeText, "status": types.FieldTypeSingleSelect,
		"case_id": types.FieldTypeText, "reference_number": types.FieldTypeText, "created_datetime": types.FieldTypeDateTime, "last_updated_datetime": types.FieldTypeDateTime} {
		if system[name] != typ {
			t.Errorf("system field %s: type %q, want %s", name, system[name], typ)
		}
	}

	tmpl, err := c.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	var ve *types.ValidationException
	create := func(fields ...types.FieldValue) (*connectcases.CreateCaseOutput, error) {
		return c.CreateCase(ctx, &connectcases.CreateCaseInput{DomainId: d, TemplateId: tmpl.TemplateId, Fields: fields})
	}
	if _, err := create(fv("title", str("t"))); !errors.As(err, &ve) {
		t.Errorf("CreateCase without customer_id: %v, want ValidationException", err)
	}
	if _, err := create(fv("customer_id", str("c"))); !errors.As(err, &ve) {
		t.Errorf("CreateCase without title: %v, want ValidationException", err)
	}
	if _, err := create(fv("title", str("t")), fv("customer_id", str("c")), fv("created_datetime", str("2026-01-01T00:00:00Z"))); !errors.As(err, &ve) {
		t.Errorf("CreateCase writing created_datetime: %v, want ValidationException", err)
	}
	cc, err := create(fv("title", str("t")), fv("customer_id", str("c")), fv("status", str("open")))
	if err != nil {
		t.Fatal(err)
	}
	get := func() map[string]string {
		out, err := c.GetCase(ctx, &connectcases.GetCaseInput{DomainId: d, CaseId: cc.CaseId, Fields: []types.FieldIdentifier{
			{Id: aws.String("case_id")}, {Id: aws.String("created_datetime")}, {Id: aws.String("last_updated_datetime")}, {Id: aws.String("status")}}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range out.Fields {
			if s, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
				m[*f.Id] = s.Value
			}
		}
		return m
	}
	before := get()
	if before["case_id"] != *cc.CaseId {
		t.Errorf("case_id = %q, want %s", before["case_id"], *cc.CaseId)
	}
	if _, err := time.Parse(time.RFC3339, before["created_datetime"]); err != nil || before["last_updated_datetime"] != before["created_datetime"] {
		t.Errorf("created %q, last updated %q", before["created_datetime"], before["last_updated_datetime"])
	}

	for _, id := range []string{"case_id", "reference_number", "created_datetime", "last_updated_datetime"} {
		v := str("x")
		if id != "case_id" && id != "reference_number" {
			v = str("2026-01-01T00:00:00Z")
		}
		_, err := c.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: cc.CaseId, Fields: []types.FieldValue{fv(id, v)}})
		if !errors.As(err, &ve) {
			t.Errorf("UpdateCase writing %s: %v, want ValidationException", id, err)
		}
	}
	time.Sleep(5 * time.Millisecond) // the timestamps have millisecond precision
	if _, err := c.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: cc.CaseId, Fields: []types.FieldValue{fv("status", str("closed"))}}); err != nil {
		t.Fatal(err)
	}
	after := get()
	if after["status"] != "closed" || !(after["last_updated_datetime"] > before["last_updated_datetime"]) || after["created_datetime"] != before["created_datetime"] {
		t.Errorf("after UpdateCase: %v (before %v); want last_updated_datetime moved, created_datetime kept", after, before)
	}
}

// TestSeededSystemFields: a seed may declare system fields and give cases
// values for the read-only ones; through the API they stay read-only.
func TestSeededSystemFields(t *testing.T) {
	sim := casesim.New(casesim.Options{})
	err := sim.LoadSeed(strings.NewReader(`{"domains":[{"id":"d1","name":"seeded","fields":[
		{"name":"title","type":"Text","namespace":"System"},
		{"name":"created_datetime","type":"DateTime","namespace":"System"}],
		"templates":[{"id":"t","name":"t"}],
		"cases":[{"id":"c1","templateId":"t","fields":{"title":"x","created_datetime":"2026-01-01T00:00:00Z"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	client := connectcases.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), RetryMaxAttempts: 1},
		func(o *connectcases.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err = client.UpdateCase(context.Background(), &connectcases.UpdateCaseInput{DomainId: aws.String("d1"), CaseId: aws.String("c1"),
		Fields: []types.FieldValue{fv("created_datetime", str("2026-02-01T00:00:00Z"))}})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("UpdateCase writing a seeded read-only system field: %v, want ValidationException", err)
	}
}
