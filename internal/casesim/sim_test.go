package casesim_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

const (
	demoDomain = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	demoCase1  = "7a1d6c3e-0000-4000-8000-000000000001"
	demoCase2  = "7a1d6c3e-0000-4000-8000-000000000002"
	noSuchCase = "7a1d6c3e-0000-4000-8000-0000000000ff"
)

// harness is a simulator behind a real HTTP server and a real SDK client
// whose own retryer is off, so each call is exactly one HTTP request.
type harness struct {
	sim    *casesim.Server
	url    string
	client *connectcases.Client
}

func newHarness(t testing.TB, opts casesim.Options, seed bool) *harness {
	t.Helper()
	if opts.RandSeed == 0 {
		opts.RandSeed = 42
	}
	sim := casesim.New(opts)
	if seed {
		if err := sim.LoadSeedFile("../../examples/casesim-seed.json"); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
	}
	client := connectcases.NewFromConfig(cfg, func(o *connectcases.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
	})
	return &harness{sim: sim, url: srv.URL, client: client}
}

func str(v string) types.FieldValueUnion { return &types.FieldValueUnionMemberStringValue{Value: v} }
func num(v float64) types.FieldValueUnion {
	return &types.FieldValueUnionMemberDoubleValue{Value: v}
}

func fv(id string, v types.FieldValueUnion) types.FieldValue {
	return types.FieldValue{Id: aws.String(id), Value: v}
}

func TestExampleSeed(t *testing.T) {
	h := newHarness(t, casesim.Options{}, true)
	for i := 1; i <= 5; i++ {
		id := "7a1d6c3e-0000-4000-8000-00000000000" + string(rune('0'+i))
		got, ok := h.sim.CaseFields(demoDomain, id)
		if !ok {
			t.Fatalf("case %s missing", id)
		}
		if s, _ := got["status"].(*types.FieldValueUnionMemberStringValue); s == nil || s.Value != "open" {
			t.Errorf("case %s status = %#v, want open", id, got["status"])
		}
		if _, ok := got["title"].(*types.FieldValueUnionMemberStringValue); !ok {
			t.Errorf("case %s has no title", id)
		}
	}
	if _, ok := h.sim.CaseFields(demoDomain, noSuchCase); ok {
		t.Error("not-found sample case exists")
	}
	// Loading the same domain twice must fail rather than merge silently.
	if err := h.sim.LoadSeedFile("../../examples/casesim-seed.json"); err == nil {
		t.Error("second load of the same domain succeeded")
	}
}

func TestLoadSeedRejects(t *testing.T) {
	tests := map[string]string{
		"unknown key":     `{"domains":[{"name":"d","bogus":1}]}`,
		"bad type":        `{"domains":[{"name":"d","fields":[{"name":"f","type":"Text2"}]}]}`,
		"value kind":      `{"domains":[{"name":"d","fields":[{"name":"n","type":"Number"}],"templates":[{"name":"t"}],"cases":[{"id":"c","templateId":"t","fields":{"n":"x"}}]}]}`,
		"option":          `{"domains":[{"name":"d","fields":[{"name":"s","type":"SingleSelect","options":["a"]}],"templates":[{"name":"t"}],"cases":[{"id":"c","templateId":"t","fields":{"s":"b"}}]}]}`,
		"required":        `{"domains":[{"name":"d","fields":[{"name":"x","type":"Text"}],"templates":[{"name":"t","requiredFields":["x"]}],"cases":[{"id":"c","templateId":"t","fields":{}}]}]}`,
		"unknown tmpl":    `{"domains":[{"name":"d","cases":[{"id":"c","templateId":"t"}]}]}`,
		"unknown field":   `{"domains":[{"name":"d","templates":[{"name":"t"}],"cases":[{"id":"c","templateId":"t","fields":{"zz":"a"}}]}]}`,
		"two union parts": `{"domains":[{"name":"d","fields":[{"name":"x","type":"Text"}],"templates":[{"name":"t"}],"cases":[{"id":"c","templateId":"t","fields":{"x":{"stringValue":"a","doubleValue":1}}}]}]}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			sim := casesim.New(casesim.Options{})
			if err := sim.LoadSeed(strings.NewReader(doc)); err == nil {
				t.Fatal("LoadSeed succeeded")
			}
		})
	}
}

// TestCatalogHappyPath creates a domain from nothing through the SDK and
// exercises every catalogue operation on it.
func TestCatalogHappyPath(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, casesim.Options{}, false)
	c := h.client

	dom, err := c.CreateDomain(ctx, &connectcases.CreateDomainInput{Name: aws.String("support")})
	if err != nil {
		t.Fatal(err)
	}
	if dom.DomainStatus != types.DomainStatusActive || !strings.HasSuffix(*dom.DomainArn, ":domain/"+*dom.DomainId) {
		t.Fatalf("CreateDomain = %+v", dom)
	}
	d := dom.DomainId

	// A new domain has system fields (title, status, …), so the custom ones
	// take other names.
	ids := map[string]string{}
	for _, f := range []struct {
		name string
		typ  types.FieldType
	}{{"stage", types.FieldTypeSingleSelect}, {"headline", types.FieldTypeText}, {"priority", types.FieldTypeNumber}, {"gone", types.FieldTypeBoolean}} {
		out, err := c.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: d, Name: aws.String(f.name), Type: f.typ})
		if err != nil {
			t.Fatalf("CreateField %s: %v", f.name, err)
		}
		ids[f.name] = *out.FieldId
	}
	if _, err := c.BatchPutFieldOptions(ctx, &connectcases.BatchPutFieldOptionsInput{DomainId: d, FieldId: aws.String(ids["stage"]),
		Options: []types.FieldOption{{Name: aws.String("Open"), Value: aws.String("open"), Active: aws.Bool(true)},
			{Name: aws.String("Closed"), Value: aws.String("closed"), Active: aws.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	opts, err := c.ListFieldOptions(ctx, &connectcases.ListFieldOptionsInput{DomainId: d, FieldId: aws.String(ids["stage"])})
	if err != nil || len(opts.Options) != 2 || *opts.Options[1].Value != "closed" {
		t.Fatalf("ListFieldOptions = %+v, %v", opts, err)
	}
	if _, err := c.DeleteField(ctx, &connectcases.DeleteFieldInput{DomainId: d, FieldId: aws.String(ids["gone"])}); err != nil {
		t.Fatal(err)
	}

	// Page through ListFields two at a time; the deleted field is not listed.
	var names []string
	var token *string
	for {
		out, err := c.ListFields(ctx, &connectcases.ListFieldsInput{DomainId: d, MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Fields {
			if f.Namespace == types.FieldNamespaceCustom {
				names = append(names, *f.Name)
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if want := []string{"stage", "headline", "priority"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ListFields names = %v, want %v", names, want)
	}

	bg, err := c.BatchGetField(ctx, &connectcases.BatchGetFieldInput{DomainId: d,
		Fields: []types.FieldIdentifier{{Id: aws.String(ids["priority"])}, {Id: aws.String(ids["gone"])}, {Id: aws.String("nope")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Fields) != 2 || bg.Fields[0].Type != types.FieldTypeNumber || bg.Fields[0].CreatedTime == nil || !bg.Fields[1].Deleted {
		t.Errorf("BatchGetField fields = %+v", bg.Fields)
	}
	if len(bg.Errors) != 1 || *bg.Errors[0].Id != "nope" {
		t.Errorf("BatchGetField errors = %+v", bg.Errors)
	}

	tmpl, err := c.CreateTemplate(ctx, &connectcases.CreateTemplateInput{DomainId: d, Name: aws.String("default"),
		RequiredFields: []types.RequiredField{{FieldId: aws.String(ids["headline"])}}})
	if err != nil {
		t.Fatal(err)
	}

	in := &connectcases.CreateCaseInput{DomainId: d, TemplateId: tmpl.TemplateId, ClientToken: aws.String("tok-1"),
		Fields:      []types.FieldValue{fv(ids["headline"], str("hello")), fv(ids["stage"], str("open")), fv("title", str("t")), fv("customer_id", str("cust-1"))},
		PerformedBy: &types.UserUnionMemberCustomEntity{Value: "test"}}
	cc, err := c.CreateCase(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateCase(ctx, in)
	if err != nil || *again.CaseId != *cc.CaseId {
		t.Errorf("CreateCase with the same client token = %v, %v; want case %s", again, err, *cc.CaseId)
	}

	if _, err := c.UpdateCase(ctx, &connectcases.UpdateCaseInput{DomainId: d, CaseId: cc.CaseId,
		Fields: []types.FieldValue{fv(ids["stage"], str("closed")), fv(ids["priority"], num(3))}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetCase(ctx, &connectcases.GetCaseInput{DomainId: d, CaseId: cc.CaseId,
		Fields: []types.FieldIdentifier{{Id: aws.String(ids["headline"])}, {Id: aws.String(ids["stage"])}, {Id: aws.String(ids["priority"])}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []types.FieldValue{fv(ids["headline"], str("hello")), fv(ids["stage"], str("closed")), fv(ids["priority"], num(3))}
	if *got.TemplateId != *tmpl.TemplateId || !reflect.DeepEqual(got.Fields, want) {
		t.Errorf("GetCase = %+v %+v, want %+v", got.TemplateId, got.Fields, want)
	}
	st := h.sim.Stats()
	for _, op := range []string{"CreateDomain", "CreateField", "BatchPutFieldOptions", "ListFieldOptions", "DeleteField", "ListFields", "BatchGetField", "CreateTemplate", "CreateCase", "UpdateCase", "GetCase"} {
		if st[op][200] == 0 {
			t.Errorf("Stats()[%s][200] = 0", op)
		}
	}
}
