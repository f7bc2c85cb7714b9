package main

import (
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/casebridge/casebridge/internal/testkit/rulecases"
)

// TestLambdaRunsTheExamples runs the bootstrap under the emulator with each
// rules file of examples/rules, named relative to LAMBDA_TASK_ROOT as a
// packaged function would (the field catalog on), against the simulator
// seeded with examples/casesim-seed.json: one batch of the sample events
// beside it, each applied or dead-lettered as rulecases expects, none
// reported failed.
func TestLambdaRunsTheExamples(t *testing.T) {
	examples, err := rulecases.Examples()
	if err != nil || len(examples) == 0 {
		t.Fatalf("examples: %d, %v", len(examples), err)
	}
	for _, ex := range examples {
		t.Run(ex.Name, func(t *testing.T) {
			r := newRig(t, 7, "LAMBDA_TASK_ROOT="+filepath.Dir(ex.Rules), "CASEBRIDGE_RULES="+filepath.Base(ex.Rules), "CASEBRIDGE_FIELD_CATALOG=on")
			var ev events.SQSEvent
			byID := map[string]rulecases.Event{}
			wantApplied := 0
			for i, e := range ex.Events {
				rec := record(i, e.Body)
				ev.Records = append(ev.Records, rec)
				byID[rec.MessageId] = e
				if e.Class == "" {
					wantApplied++
				}
			}
			if resp := r.send(ev); len(resp.BatchItemFailures) != 0 {
				t.Errorf("failures %v\n%s", ids(resp), r.stderr)
			}
			dead := r.dlqReasons()
			for id, e := range byID {
				got, ok := dead[id]
				switch {
				case e.Class == "" && ok:
					t.Errorf("%s dead-lettered %s/%s (%s), want applied", e.Name, got.Class, got.Code, got.Message)
				case e.Class != "" && (got.Class != e.Class || got.Code != e.Code):
					t.Errorf("%s: DLQ record %+v, want %s/%s", e.Name, got, e.Class, e.Code)
				}
			}
			if n := len(r.sim.AppliedUpdates()); n != wantApplied || n+len(dead) != len(ex.Events) {
				t.Errorf("%d applied, %d dead-lettered of %d; want %d applied", n, len(dead), len(ex.Events), wantApplied)
			}
		})
	}
}
