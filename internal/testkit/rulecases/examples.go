package rulecases

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// Example is one rules file of examples/rules with its sample events
// (examples/rules/NAME-events/*.json), for the simulator seeded with
// examples/casesim-seed.json.
type Example struct {
	Name   string // "billing"
	Rules  string // the file's path
	Events []Event
}

// exampleDeadLetters are the samples that must be dead-lettered; every
// other sample must be applied.
var exampleDeadLetters = map[string]Event{
	"billing-events/invoice-paid-unknown-order.json": {Class: contract.ReasonNotFound, Code: contract.CodeLookupNoMatch},
}

// Examples reads examples/rules.
func Examples() ([]Example, error) {
	root, err := testbed.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "examples", "rules")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Example
	for _, f := range files {
		ex := Example{Name: strings.TrimSuffix(filepath.Base(f), ".json"), Rules: f}
		events, err := filepath.Glob(filepath.Join(dir, ex.Name+"-events", "*.json"))
		if err != nil {
			return nil, err
		}
		for _, path := range events {
			body, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			key := ex.Name + "-events/" + filepath.Base(path)
			ev := exampleDeadLetters[key]
			ev.Name, ev.Body = key, string(body)
			if ev.Class == "" {
				ev.Case = "(found by the rule)" // applied; which case, the simulator's record says
			}
			ex.Events = append(ex.Events, ev)
		}
		out = append(out, ex)
	}
	return out, nil
}
