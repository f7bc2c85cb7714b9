package casesim_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// The demo seed's titles, by case (see examples/casesim-seed.json).
const (
	titlePrinter = "Printer on fire"
	titleInvoice = "Invoice 8842 charged twice"
)

func titleIs(v string) types.CaseFilter { return fieldEq("title", str(v)) }

func fieldEq(id string, v types.FieldValueUnion) types.CaseFilter {
	return &types.CaseFilterMemberField{Value: &types.FieldFilterMemberEqualTo{Value: fv(id, v)}}
}

// searchClient talks to a seeded simulator through the real SDK, its own
// retries off so a 429 reaches the test.
func searchClient(t *testing.T, opts casesim.Options) *connectcases.Client {
	t.Helper()
	_, endpoint := testbed.StartCasesimT(t, opts)
	return testbed.NewCasesClient(endpoint, func(o *connectcases.Options) { o.RetryMaxAttempts = 1 })
}

func caseIDs(out *connectcases.SearchCasesOutput) []string {
	var ids []string
	for _, c := range out.Cases {
		ids = append(ids, aws.ToString(c.CaseId))
	}
	return ids
}

func TestSearchCasesFilters(t *testing.T) {
	c := searchClient(t, casesim.Options{})
	all := []string{demoCase1, demoCase2, "7a1d6c3e-0000-4000-8000-000000000003",
		"7a1d6c3e-0000-4000-8000-000000000004", "7a1d6c3e-0000-4000-8000-000000000005"}
	for _, tc := range []struct {
		name   string
		filter types.CaseFilter
		want   []string
	}{
		{"hit", titleIs(titlePrinter), []string{demoCase1}},
		{"miss", titleIs("no such title"), nil},
		{"several", fieldEq("status", str("open")), all},
		{"no filter", nil, all},
		{"andAll hit", &types.CaseFilterMemberAndAll{Value: []types.CaseFilter{fieldEq("status", str("open")), titleIs(titleInvoice)}}, []string{demoCase2}},
		{"andAll miss", &types.CaseFilterMemberAndAll{Value: []types.CaseFilter{fieldEq("status", str("closed")), titleIs(titleInvoice)}}, nil},
		{"orAll", &types.CaseFilterMemberOrAll{Value: []types.CaseFilter{titleIs(titlePrinter), titleIs(titleInvoice), titleIs("nothing")}}, []string{demoCase1, demoCase2}},
		{"not", &types.CaseFilterMemberNot{Value: fieldEq("status", str("open"))}, nil},
		{"not in andAll", &types.CaseFilterMemberAndAll{Value: []types.CaseFilter{
			&types.CaseFilterMemberNot{Value: titleIs(titlePrinter)}, fieldEq("status", str("open"))}}, all[1:]},
		{"wrong value type never matches", fieldEq("title", num(1)), nil},
		{"emptyValue matches unset", fieldEq("priority", &types.FieldValueUnionMemberEmptyValue{}), all},
		{"contains", &types.CaseFilterMemberField{Value: &types.FieldFilterMemberContains{Value: fv("title", str("8842"))}}, []string{demoCase2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.SearchCases(context.Background(), &connectcases.SearchCasesInput{
				DomainId: aws.String(demoDomain), Filter: tc.filter,
				Fields: []types.FieldIdentifier{{Id: aws.String("title")}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := caseIDs(out); !slices.Equal(got, tc.want) {
				t.Errorf("cases = %v, want %v", got, tc.want)
			}
			if out.TotalCount != int64(len(tc.want)) || out.NextToken != nil {
				t.Errorf("totalCount = %d, nextToken = %v; want %d, nil", out.TotalCount, out.NextToken, len(tc.want))
			}
			for _, it := range out.Cases {
				if len(it.Fields) != 1 || aws.ToString(it.TemplateId) != "tmpl-default" {
					t.Errorf("case %s: fields %v, template %v; want title only, tmpl-default", aws.ToString(it.CaseId), it.Fields, aws.ToString(it.TemplateId))
				}
			}
		})
	}
}

func TestSearchCasesPaging(t *testing.T) {
	c := searchClient(t, casesim.Options{})
	ctx := context.Background()
	in := &connectcases.SearchCasesInput{DomainId: aws.String(demoDomain), Filter: fieldEq("status", str("open")), MaxResults: aws.Int32(2)}
	var pages [][]string
	p := connectcases.NewSearchCasesPaginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out.TotalCount != 5 {
			t.Errorf("totalCount = %d, want 5 on every page", out.TotalCount)
		}
		pages = append(pages, caseIDs(out))
	}
	if len(pages) != 3 || len(pages[0]) != 2 || len(pages[1]) != 2 || len(pages[2]) != 1 {
		t.Fatalf("pages = %v, want 2+2+1", pages)
	}
	seen := map[string]bool{}
	for _, id := range slices.Concat(pages...) {
		if seen[id] {
			t.Errorf("case %s on two pages", id)
		}
		seen[id] = true
	}

	// A token belongs to its search: with another filter it is refused.
	first, err := c.SearchCases(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	other := *in
	other.Filter, other.NextToken = titleIs(titlePrinter), first.NextToken
	var ve *types.ValidationException
	if _, err := c.SearchCases(ctx, &other); !errors.As(err, &ve) {
		t.Errorf("foreign nextToken: err = %v, want ValidationException", err)
	}
}

func TestSearchCasesErrors(t *testing.T) {
	c := searchClient(t, casesim.Options{})
	eleven := make([]types.CaseFilter, 11)
	for i := range eleven {
		eleven[i] = titleIs(titlePrinter)
	}
	deep := titleIs(titlePrinter)
	for range 12 {
		deep = &types.CaseFilterMemberNot{Value: deep}
	}
	for _, tc := range []struct {
		name string
		in   connectcases.SearchCasesInput
		want any
	}{
		{"unknown domain", connectcases.SearchCasesInput{DomainId: aws.String("no-such-domain")}, new(*types.ResourceNotFoundException)},
		{"unknown field", connectcases.SearchCasesInput{Filter: fieldEq("no_such_field", str("8842"))}, new(*types.ValidationException)},
		{"too many in andAll", connectcases.SearchCasesInput{Filter: &types.CaseFilterMemberAndAll{Value: eleven}}, new(*types.ValidationException)},
		{"too deep", connectcases.SearchCasesInput{Filter: deep}, new(*types.ValidationException)},
		{"maxResults 26", connectcases.SearchCasesInput{MaxResults: aws.Int32(26)}, new(*types.ValidationException)},
		{"maxResults 0", connectcases.SearchCasesInput{MaxResults: aws.Int32(0)}, new(*types.ValidationException)},
		{"garbage nextToken", connectcases.SearchCasesInput{NextToken: aws.String("bm9wZQ")}, new(*types.ValidationException)},
		{"contains on a number", connectcases.SearchCasesInput{Filter: &types.CaseFilterMemberField{Value: &types.FieldFilterMemberContains{Value: fv("priority", num(1))}}}, new(*types.ValidationException)},
		{"too many fields", connectcases.SearchCasesInput{Fields: slices.Repeat([]types.FieldIdentifier{{Id: aws.String("title")}}, 11)}, new(*types.ValidationException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.DomainId == nil {
				in.DomainId = aws.String(demoDomain)
			}
			_, err := c.SearchCases(context.Background(), &in)
			switch want := tc.want.(type) {
			case **types.ResourceNotFoundException:
				if !errors.As(err, want) || aws.ToString((*want).ResourceType) != "Domain" {
					t.Errorf("err = %v, want ResourceNotFoundException for the Domain", err)
				}
			case **types.ValidationException:
				if !errors.As(err, want) {
					t.Errorf("err = %v, want ValidationException", err)
				}
			}
		})
	}
}

// TestSearchCasesUnionShape sends filters the SDK cannot build: a union
// with no member, two members, or a null one is the caller's bug.
func TestSearchCasesUnionShape(t *testing.T) {
	_, endpoint := testbed.StartCasesimT(t, casesim.Options{})
	for _, body := range []string{
		`{"filter":{}}`,
		`{"filter":{"andAll":[],"orAll":[]}}`,
		`{"filter":{"not":null}}`,
		`{"filter":{"field":{}}}`,
		`{"filter":{"field":{"equalTo":{"id":"title","value":{}}}}}`,
	} {
		resp, err := http.Post(endpoint+"/domains/"+demoDomain+"/cases-search", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
			t.Errorf("%s: %d %s, want 400 ValidationException", body, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
}

func TestSearchCasesQuota(t *testing.T) {
	qs, err := casesim.QuotaPreset(casesim.QuotaPresetAWSDefault)
	if err != nil {
		t.Fatal(err)
	}
	c := searchClient(t, casesim.Options{Quotas: map[string]casesim.Quota{"SearchCases": qs["SearchCases"]}})
	passed := 0
	for range 14 {
		_, err := c.SearchCases(context.Background(), &connectcases.SearchCasesInput{DomainId: aws.String(demoDomain)})
		var te *types.ThrottlingException
		if errors.As(err, &te) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		passed++
	}
	// Burst 10 at 2/s: a token may refill while the calls run.
	if passed < 10 || passed > 11 {
		t.Errorf("%d calls passed before the first 429, want 10 (the burst)", passed)
	}
}
