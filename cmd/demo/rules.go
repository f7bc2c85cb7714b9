package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// The demo runs one worker, and a worker reads one rules file
// (CASEBRIDGE_RULES), so the demo joins the three example files under
// examples/rules into one: their rules in file order, under their common
// default domain.

// rulesFile is the part of a rules file's format (docs/rules.md) the join
// reads; each rule is copied as it is.
type rulesFile struct {
	DefaultDomain string            `json:"defaultDomain"`
	Rules         []json.RawMessage `json:"rules"`
}

// joinRules writes the rules of every examples/rules/*.json file into one
// file at dst and returns the sample events beside them
// (examples/rules/*-events/*.json).
func joinRules(rulesDir, dst string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no rules files in %s", rulesDir)
	}
	sort.Strings(files)
	var joined rulesFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var one rulesFile
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if joined.DefaultDomain != "" && one.DefaultDomain != joined.DefaultDomain {
			return nil, fmt.Errorf("%s: defaultDomain %q differs from the other example files' %q", f, one.DefaultDomain, joined.DefaultDomain)
		}
		joined.DefaultDomain = one.DefaultDomain
		joined.Rules = append(joined.Rules, one.Rules...)
	}
	b, err := json.MarshalIndent(joined, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return nil, err
	}
	events, err := filepath.Glob(filepath.Join(rulesDir, "*-events", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(events)
	return events, nil
}
