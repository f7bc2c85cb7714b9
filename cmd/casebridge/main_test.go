package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpListsEverySubcommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, nil} {
		code, out, errOut := toolsRun(t, "", args...)
		wantCode, text := exitOK, out
		if len(args) == 0 {
			wantCode, text = exitUsage, errOut // no command: usage on stderr
		}
		if code != wantCode {
			t.Errorf("casebridge %v: exit %d, want %d", args, code, wantCode)
		}
		for _, cmd := range []string{"check", "send", "dlq"} {
			if !strings.Contains(text, "\n  "+cmd+" ") {
				t.Errorf("casebridge %v does not list %s:\n%s", args, cmd, text)
			}
		}
	}
	if code, _, errOut := toolsRun(t, "", "run"); code != exitUsage || !strings.Contains(errOut, `unknown command "run"`) {
		t.Errorf("casebridge run: exit %d %s, want 2 (the worker's command, not this tool's)", code, errOut)
	}
}

func TestSubcommandHelp(t *testing.T) {
	t.Setenv("CASEBRIDGE_DLQ_URL", "")
	t.Setenv("CASEBRIDGE_QUEUE_URL", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--help"}, "usage: casebridge check"},
		{[]string{"send", "--help"}, "casebridge send (--queue URL | --topic ARN)"},
		{[]string{"send", "-h"}, "-by-user"},
		{[]string{"dlq", "--help"}, "casebridge dlq redrive"},
		{[]string{"dlq", "stats", "--help"}, "-show-values"},
		{[]string{"dlq", "redrive", "-h"}, "-dry-run"},
	} {
		code, out, errOut := toolsRun(t, "", tc.args...)
		if code != exitOK || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("casebridge %s: exit %d, want 0 and %q in\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	for _, args := range [][]string{{"dlq"}, {"dlq", "purge"}, {"send", "--nope"}, {"check"}, {"check", "--nope", "x.json"}} {
		if code, _, _ := toolsRun(t, "", args...); code != exitUsage {
			t.Errorf("casebridge %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

// TestCheckCommand: the README's first command, on a valid and an invalid sample.
func TestCheckCommand(t *testing.T) {
	t.Setenv("CASEBRIDGE_DOMAIN_ID", "")
	t.Setenv("CASEBRIDGE_MAX_BODY_BYTES", "")
	samples := filepath.Join("..", "..", "examples", "messages")
	ok, bad := filepath.Join(samples, "ok-shorthand.json"), filepath.Join(samples, "invalid-bad-json.json")

	code, out, errOut := toolsRun(t, "", "check", "--domain", toolsDomain, ok)
	var v struct {
		OK      bool
		Request struct{ DomainID, CaseID string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || !v.OK || v.Request.DomainID == "" {
		t.Fatalf("valid sample: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = toolsRun(t, "", "check", "--domain", toolsDomain, ok, bad)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != exitFailure || len(lines) != 2 ||
		!strings.Contains(lines[1], `"ok":false`) || !strings.Contains(lines[1], `"reason":"invalid-message"`) {
		t.Fatalf("invalid sample: exit %d (want 1)\n%s", code, out)
	}
	code, out, _ = toolsRun(t, `{"caseId":"`+toolsCase+`","fields":{"priority":1}}`, "check", "--domain", toolsDomain, "-")
	if code != exitOK || !strings.Contains(out, `"file":"-"`) {
		t.Fatalf("stdin: exit %d\n%s", code, out)
	}
}
