package checkcmd

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/rulecases"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func TestCheckWithRules(t *testing.T) {
	files := map[string]string{"rules.json": rulecases.Rules, "bad-rules.json": rulecases.BadRules}
	want := map[string]string{} // file → its expected verdict without "file"
	for i, ev := range rulecases.Events() {
		files[string(rune('a'+i))+".json"] = ev.Body
	}
	dir := writeFiles(t, files)
	rulesPath := filepath.Join(dir, "rules.json")
	d := rulecases.DomainID
	// The events in rulecases' order: a lookup hit, a miss, an ambiguity (offline, all three are the search they would make), …
	want["a.json"] = `{"ok":true,"rule":"invoice-paid","request":{"domainId":"` + d + `","fields":[{"id":"amount","value":{"doubleValue":12.5}},{"id":"status","value":{"stringValue":"paid"}}],"performedBy":{"customEntity":"billing-system"}},` +
		`"search":{"domainId":"` + d + `","filter":{"field":{"equalTo":{"id":"order_number","value":{"stringValue":"8842"}}}},"maxResults":2}}`
	want["d.json"] = `{"ok":true,"rule":"crm-change","request":{"domainId":"` + d + `","caseId":"` + rulecases.CaseCRM + `","fields":[{"id":"title","value":{"stringValue":"renamed"}}]}}`
	want["e.json"] = `{"ok":false,"reason":"invalid-message","code":"expression-failed","error":"rules: expression-failed: rule \"crm-change\" caseId: no such key: caseRef"}`
	want["g.json"] = `{"ok":true,"request":{"domainId":"` + d + `","caseId":"` + rulecases.CaseOrder9000 + `","fields":[{"id":"status","value":{"stringValue":"closed"}}]}}`

	args := []string{"--rules", rulesPath}
	for _, name := range []string{"a.json", "b.json", "c.json", "d.json", "e.json", "f.json", "g.json"} {
		args = append(args, filepath.Join(dir, name))
	}
	r := run(t, "", nil, args...)
	if r.code != ExitRejected || len(r.lines) != 7 {
		t.Fatalf("exit %d, %d lines, want %d and 7\n%s%s", r.code, len(r.lines), ExitRejected, r.stdout, r.stderr)
	}
	for _, line := range r.lines {
		name := filepath.Base(line["file"].(string))
		delete(line, "file")
		if w, ok := want[name]; ok && !reflect.DeepEqual(line, asJSON(t, w)) {
			t.Errorf("%s:\n got %v\nwant %s", name, line, w)
		}
	}
	if got := r.lines[5]; got["code"] != "no-rule-matched" || got["reason"] != "invalid-message" {
		t.Errorf("an event no rule matches: %v", got)
	}

	// The same rules from CASEBRIDGE_RULES; a rules file that does not compile is a usage error naming the rule.
	if r := run(t, "", map[string]string{"CASEBRIDGE_RULES": rulesPath}, filepath.Join(dir, "d.json")); r.code != ExitAccepted || r.lines[0]["rule"] != "crm-change" {
		t.Errorf("rules from the environment: exit %d %v", r.code, r.lines)
	}
	r = run(t, "", nil, "--rules", filepath.Join(dir, "bad-rules.json"), filepath.Join(dir, "a.json"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, `rule 1 "`+rulecases.BadRule+`"`) || r.stdout != "" {
		t.Errorf("bad rules: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	if r := run(t, "", nil, "--lookup", filepath.Join(dir, "a.json")); r.code != ExitUsage {
		t.Errorf("--lookup without rules: exit %d", r.code)
	}
}

// TestCheckRunsLookups: with --lookup, the search runs against the Cases
// endpoint of the AWS settings and the request names the case it found;
// a miss and an ambiguity are rejected with the consumer's class and code.
func TestCheckRunsLookups(t *testing.T) {
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	if err := rulecases.Seed(sim); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_ENDPOINT_URL_CONNECTCASES", simURL)
	evs := rulecases.Events()
	dir := writeFiles(t, map[string]string{"rules.json": rulecases.Rules, "hit.json": evs[0].Body, "miss.json": evs[1].Body, "two.json": evs[2].Body})
	r := run(t, "", nil, "--rules", filepath.Join(dir, "rules.json"), "--lookup",
		filepath.Join(dir, "hit.json"), filepath.Join(dir, "miss.json"), filepath.Join(dir, "two.json"))
	if r.code != ExitRejected || len(r.lines) != 3 {
		t.Fatalf("exit %d, lines %v\n%s", r.code, r.lines, r.stderr)
	}
	if req, _ := r.lines[0]["request"].(map[string]any); req["caseId"] != rulecases.CaseOrder8842 || r.lines[0]["ok"] != true {
		t.Errorf("hit: %v", r.lines[0])
	}
	for i, w := range [][2]string{{"not-found", "lookup-no-match"}, {"validation", "ambiguous-lookup"}} {
		if got := r.lines[i+1]; got["ok"] != false || got["reason"] != w[0] || got["code"] != w[1] {
			t.Errorf("line %d: %v, want %s/%s", i+1, got, w[0], w[1])
		}
	}
	if n := sim.Stats()["SearchCases"][200]; n != 3 {
		t.Errorf("%d searches, want 3", n)
	}
}
