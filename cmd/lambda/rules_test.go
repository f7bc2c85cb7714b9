package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/casebridge/casebridge/internal/testkit/rulecases"
)

// TestLambdaMapsEventsByRules runs the bootstrap under the emulator with
// CASEBRIDGE_RULES naming a file of its package (relative to
// LAMBDA_TASK_ROOT): each upstream event of one batch ends where rulecases
// says, applied + dead-lettered = sent, and an event of a later invocation
// for an order already looked up makes no second SearchCases call (the
// cache lives as long as the execution environment).
func TestLambdaMapsEventsByRules(t *testing.T) {
	root := t.TempDir()
	if _, err := rulecases.Write(root, "rules.json", rulecases.Rules); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, 7, "LAMBDA_TASK_ROOT="+root, "CASEBRIDGE_RULES=rules.json", "CASEBRIDGE_FIELD_CATALOG=on")
	if err := rulecases.Seed(r.sim); err != nil {
		t.Fatal(err)
	}
	byID := map[string]rulecases.Event{}
	var ev events.SQSEvent
	for i, e := range rulecases.Events() {
		rec := record(i, e.Body)
		ev.Records = append(ev.Records, rec)
		byID[rec.MessageId] = e
	}
	if resp := r.send(ev); len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures %v, want none (every event applied or dead-lettered)\n%s", ids(resp), r.stderr)
	}
	repeat := record(100, rulecases.Repeat().Body)
	byID[repeat.MessageId] = rulecases.Repeat()
	if resp := r.send(events.SQSEvent{Records: []events.SQSMessage{repeat}}); len(resp.BatchItemFailures) != 0 {
		t.Errorf("repeat failed: %v\n%s", ids(resp), r.stderr)
	}

	dead := r.dlqReasons()
	wantByCase, wantDead := map[string]int{}, 0
	for id, e := range byID {
		if e.Case != "" {
			wantByCase[e.Case]++
			continue
		}
		wantDead++
		got, ok := dead[id]
		if !ok || got.Class != e.Class || got.Code != e.Code {
			t.Errorf("%s: DLQ record %+v, want %s/%s", e.Name, got, e.Class, e.Code)
		}
	}
	if len(dead) != wantDead {
		t.Errorf("%d dead-lettered, want %d", len(dead), wantDead)
	}
	applied := map[string]int{}
	for _, u := range r.sim.AppliedUpdates() {
		applied[u.CaseID]++
	}
	for id, n := range wantByCase {
		if applied[id] != n {
			t.Errorf("case %s: %d updates applied, want %d", id, applied[id], n)
		}
	}
	if total := len(r.sim.AppliedUpdates()) + len(dead); total != len(byID) {
		t.Errorf("applied + dead-lettered = %d, sent %d", total, len(byID))
	}
	// The second invocation's metrics line counts its cache hit.
	if !r.stderr.WaitFor(outputArrives, `"LookupCacheHits":1`, `"SearchCasesCalls":3`) {
		t.Errorf("no EMF line with LookupCacheHits 1 and SearchCasesCalls 3:\n%s", r.stderr)
	}
	if n := r.sim.Stats()["SearchCases"][200]; n != rulecases.Searches {
		t.Errorf("%d SearchCases calls, want %d (one per order number; the repeat from the cache)", n, rulecases.Searches)
	}
}

// TestLambdaRefusesRulesThatDoNotCompile: the init phase fails, saying
// which rule and where, and no record is handled.
func TestLambdaRefusesRulesThatDoNotCompile(t *testing.T) {
	root := t.TempDir()
	if _, err := rulecases.Write(root, "rules.json", rulecases.BadRules); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, 7, "LAMBDA_TASK_ROOT="+root, "CASEBRIDGE_RULES=rules.json")
	resp, err := http.Post(r.invoke, "application/json", bytes.NewReader([]byte(`{"Records":[]}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !r.stderr.WaitFor(outputArrives, `rule 1 "`+rulecases.BadRule+`"`, "when at 1:") {
		t.Errorf("function output does not name the rule and position:\n%s", r.stderr)
	}
	if n := len(r.sim.AppliedUpdates()); n != 0 {
		t.Errorf("%d updates applied by a function that should not have started", n)
	}
}
