package rules_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cases "github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/rules"
)

// exampleResults is what each sample event in examples/rules maps to: the
// rule, the case (an id, or the lookup with how many seeded cases it
// finds) and the fields, sorted by id (null clears).
var exampleResults = map[string]string{
	"billing-events/invoice-paid.json": `billing-invoice-paid lookup order_number="8842" (1 case) ` +
		`amount_paid=129.9 reason=null status="closed" summary="Invoice INV-2026-11-0193 paid: 129.9 EUR" by billing-system`,
	"billing-events/payment-failed.json": `billing-payment-failed lookup order_number="8842" (1 case) ` +
		`escalated=true reason="Payment failed: card declined" status="pending" by billing-system`,
	"billing-events/invoice-paid-unknown-order.json": `billing-invoice-paid lookup order_number="9917" (0 cases) ` +
		`amount_paid=15 reason=null status="closed" summary="Invoice INV-2026-11-0207 paid: 15 EUR" by billing-system`,
	"crm-events/ticket-updated.json": `crm-ticket-updated case 7a1d6c3e-0000-4000-8000-000000000001 ` +
		`escalated=true priority=1 status="pending" title="Printer on fire (3rd floor, room 3.14)" by crm-sync`,
	"crm-events/ticket-reopened.json": `crm-ticket-reopened case 7a1d6c3e-0000-4000-8000-000000000003 ` +
		`reason=null status="open" by crm-sync`,
	"tracking-events/exception.json": `tracking-exception lookup tracking_number="1Z999AA10123456784" (1 case) ` +
		`escalated=true reason="UPS: package damaged in transit" status="pending" by order-tracking`,
	"tracking-events/delivered.json": `tracking-delivered lookup tracking_number="1Z999AA10123456784" (1 case) ` +
		`summary="Delivered 2026-11-26T12:37:51Z, signed by M. Keller" by order-tracking`,
}

// TestExamples compiles every rules file in examples/rules and maps every
// sample event beside it (in NAME-events/) as the consumer does
// (mapper.MapEvent: an SNS notification's Message is the event), so the
// examples cannot rot: each result must be the one above, every field and
// lookup field must exist in the simulator's seed with a type that takes
// the value, and every sample must be listed above.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "rules")
	seed := loadSeed(t, filepath.Join("..", "..", "examples", "casesim-seed.json"))
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules files in %s (%v)", dir, err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			set, err := rules.Compile(data)
			if err != nil {
				t.Fatal(err)
			}
			m := mapper.New(mapper.Config{Rules: set})
			events, _ := filepath.Glob(filepath.Join(dir, name+"-events", "*.json"))
			if len(events) == 0 {
				t.Fatalf("no sample events in %s-events/", name)
			}
			for _, ev := range events {
				key := name + "-events/" + filepath.Base(ev)
				seen[key] = true
				body, err := os.ReadFile(ev)
				if err != nil {
					t.Fatal(err)
				}
				mapped, err := m.MapEvent(t.Context(), body)
				if err != nil {
					t.Errorf("%s: %v", key, err)
					continue
				}
				if got, want := seed.describe(t, key, mapped), exampleResults[key]; got != want {
					t.Errorf("%s:\n got %s\nwant %s", key, got, want)
				}
			}
		})
	}
	for key := range exampleResults {
		if !seen[key] {
			t.Errorf("%s is expected above but is not in examples/rules", key)
		}
	}
}

// seedDomain is the part of examples/casesim-seed.json the test checks
// against.
type seedDomain struct {
	ID     string `json:"id"`
	Fields []struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Options []string `json:"options"`
	} `json:"fields"`
	Cases []struct {
		ID     string         `json:"id"`
		Fields map[string]any `json:"fields"`
	} `json:"cases"`
}

func loadSeed(t *testing.T, path string) *seedDomain {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var seed struct{ Domains []seedDomain }
	if err := json.Unmarshal(data, &seed); err != nil || len(seed.Domains) != 1 {
		t.Fatalf("seed: %v, %d domains", err, len(seed.Domains))
	}
	return &seed.Domains[0]
}

// describe renders a mapped event as exampleResults has it, and checks it
// against the seed on the way.
func (d *seedDomain) describe(t *testing.T, key string, m *mapper.Mapped) string {
	in := m.Input
	if got := aws.ToString(in.DomainId); got != d.ID {
		t.Errorf("%s: domain %q, the seed's is %q", key, got, d.ID)
	}
	var b strings.Builder
	b.WriteString(m.Rule)
	if m.Lookup != nil {
		v := d.render(t, key, m.Lookup.FieldID, m.Lookup.Value)
		n := 0
		for _, c := range d.Cases {
			if s, ok := c.Fields[m.Lookup.FieldID].(string); ok && strconv.Quote(s) == v {
				n++
			}
		}
		fmt.Fprintf(&b, " lookup %s=%s (%d case%s)", m.Lookup.FieldID, v, n, map[bool]string{true: "", false: "s"}[n == 1])
	} else {
		id := aws.ToString(in.CaseId)
		if !slices.ContainsFunc(d.Cases, func(c struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		}) bool {
			return c.ID == id
		}) {
			t.Errorf("%s: case %s is not in the seed", key, id)
		}
		b.WriteString(" case " + id)
	}
	for _, f := range in.Fields {
		fmt.Fprintf(&b, " %s=%s", aws.ToString(f.Id), d.render(t, key, aws.ToString(f.Id), f.Value))
	}
	if ce, ok := in.PerformedBy.(*cases.UserUnionMemberCustomEntity); ok {
		b.WriteString(" by " + ce.Value)
	}
	return b.String()
}

// render writes a value as JSON would, and checks that the seed has the
// field and that its type takes the value.
func (d *seedDomain) render(t *testing.T, key, id string, v cases.FieldValueUnion) string {
	i := slices.IndexFunc(d.Fields, func(f struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Options []string `json:"options"`
	}) bool {
		return f.Name == id
	})
	if i < 0 {
		t.Errorf("%s: field %s is not in the seed", key, id)
		return "?"
	}
	field := d.Fields[i]
	var s, kind string
	switch x := v.(type) {
	case *cases.FieldValueUnionMemberStringValue:
		s, kind = strconv.Quote(x.Value), "Text SingleSelect Url"
		if field.Type == "SingleSelect" && !slices.Contains(field.Options, x.Value) {
			t.Errorf("%s: %s is not one of field %s's options %v", key, s, id, field.Options)
		}
	case *cases.FieldValueUnionMemberDoubleValue:
		s, kind = strconv.FormatFloat(x.Value, 'f', -1, 64), "Number"
	case *cases.FieldValueUnionMemberBooleanValue:
		s, kind = strconv.FormatBool(x.Value), "Boolean"
	case *cases.FieldValueUnionMemberEmptyValue:
		return "null"
	default:
		t.Errorf("%s: field %s: unexpected %T", key, id, v)
		return "?"
	}
	if !slices.Contains(strings.Fields(kind), field.Type) {
		t.Errorf("%s: field %s is %s in the seed, which does not take %s", key, id, field.Type, s)
	}
	return s
}
