package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/rules"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const (
	rulesDomain = "9b1e0c4d-1111-4222-8333-444455556666"
	rulesSeed   = `{"domains":[{"id":"` + rulesDomain + `","name":"orders",
 "fields":[{"name":"title","type":"Text"},{"name":"order_number","type":"Text"},{"name":"priority","type":"Number"},
           {"name":"status","type":"SingleSelect","options":["open","closed"]}],
 "templates":[{"id":"t","name":"t"}],
 "cases":[{"id":"c-8842","templateId":"t","fields":{"title":"a","order_number":"8842"}}]}]}`
	// The event carries the order number as a JSON number and the
	// priority as a string: the catalog converts both to their fields' types.
	rulesFile = `{"defaultDomain":"` + rulesDomain + `","rules":[{"name":"order-paid",
 "when":"event.?type.orValue('') == 'paid'",
 "lookup":{"fieldId":"order_number","value":"event.order"},
 "set":{"status":{"value":"closed"},"priority":{"expr":"event.prio"}}}]}`
)

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRulesAreWiredIn: with CASEBRIDGE_RULES and the field catalog on, an
// event is mapped by its rule, its case found by a lookup whose value the
// catalog converted to the field's type, and its values converted too.
func TestRulesAreWiredIn(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	if err := sim.LoadSeed(strings.NewReader(rulesSeed)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "rules.json", rulesFile)
	cl := clients.Clients{SQS: testbed.NewSQSClient(g.Endpoint),
		Cases: testbed.NewCasesClient(simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} })}
	cfg := config.Defaults()
	cfg.DLQURL, cfg.DomainID, cfg.FieldCatalog, cfg.Rules = g.QueueURLT(t, "dlq"), rulesDomain, true, "rules.json"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	parts, err := Build(ctx, cfg, cl, Options{EagerCatalog: true, RulesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := parts.Core.Handle(ctx, consumer.Message{ID: "m1", Body: `{"type":"paid","order":8842,"prio":"3"}`})
	if out.Kind != consumer.Done || out.CaseID != "c-8842" || out.Rule != "order-paid" {
		t.Fatalf("outcome %v case %q rule %q (%v), want applied to c-8842 by order-paid", out.Kind, out.CaseID, out.Rule, out.Err)
	}
	fields, _ := sim.CaseFields(rulesDomain, "c-8842")
	if p, ok := fields["priority"].(*types.FieldValueUnionMemberDoubleValue); !ok || p.Value != 3 {
		t.Errorf("priority = %#v, want the number 3", fields["priority"])
	}
	if n := sim.Stats()["SearchCases"][200]; n != 1 {
		t.Errorf("%d SearchCases calls, want 1", n)
	}

	// A value the catalog cannot convert is dead-lettered as validation
	// before the lookup and the call: no SearchCases, no UpdateCase.
	sim.ResetStats()
	out = parts.Core.Handle(ctx, consumer.Message{ID: "m2", Body: `{"type":"paid","order":8843,"prio":"high"}`})
	if out.Kind != consumer.DeadLettered || out.Reason != contract.ReasonValidation {
		t.Errorf("outcome %v/%s (%v), want dead-lettered validation", out.Kind, out.Reason, out.Err)
	}
	if st := sim.Stats(); len(st["SearchCases"])+len(st["UpdateCase"]) != 0 {
		t.Errorf("calls made for a refused value: %v", st)
	}
}

func TestLoadRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ok.json", rulesFile)
	writeFile(t, dir, "bad.json", `{"rules":[{"name":"broken-rule","when":"event.a ==","caseId":"'x'","set":{"a":{"value":1}}}]}`)
	for _, tc := range []struct {
		path, dir string
		ok        bool
		want      string // in the error
	}{
		{"", dir, true, ""},
		{"ok.json", dir, true, ""},
		{filepath.Join(dir, "ok.json"), "/nowhere", true, ""}, // absolute: dir ignored
		{"ok.json", "/nowhere", false, "CASEBRIDGE_RULES=ok.json"},
		{"bad.json", dir, false, `rule 0 "broken-rule" (line 1, column 11) when at 1:`},
	} {
		set, err := LoadRules(config.Config{Rules: tc.path}, tc.dir)
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q in %q: err %v, want ok %v naming %q", tc.path, tc.dir, err, tc.ok, tc.want)
		}
		var ce *rules.CompileError
		if tc.path == "bad.json" && !errors.As(err, &ce) {
			t.Errorf("bad rules: %T, want a *rules.CompileError", err)
		}
		if tc.ok && (set == nil) != (tc.path == "") {
			t.Errorf("%q: set %v", tc.path, set)
		}
	}
}
