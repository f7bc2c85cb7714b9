package checkcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
	lines          []map[string]any
}

func run(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line is not JSON: %q: %v", line, err)
		}
		r.lines = append(r.lines, m)
	}
	return r
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func asJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.json": `{"caseId":"c1","fields":{"status":"closed","priority":3.0,"reason":null},"performedBy":{"customEntity":"billing"}}`,
		"b.json": `{"domainId":"d9","caseId":"c2","fields":[{"id":"a","value":{"booleanValue":true}},{"id":"b","value":{"booleanValue":true}},{"id":"x","value":{"stringValue":"s","doubleValue":1}}]}`,
		"c.json": `{"domainId":"d9","caseId":"c3","fields":[{"id":"owner","value":{"userArnValue":"arn:u"}}]}`,
	})
	a, b, c := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), filepath.Join(dir, "c.json")
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     []string // expected output lines, compared as JSON values
	}{
		{"accepted with --domain", nil, []string{"--domain", "d1", a}, ExitAccepted, []string{
			`{"file":"` + a + `","ok":true,"request":{"domainId":"d1","caseId":"c1","fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"priority","value":{"doubleValue":3}},{"id":"reason","value":{"emptyValue":{}}}],"performedBy":{"customEntity":"billing"}}}`,
		}},
		{"domain from CASEBRIDGE_DOMAIN_ID, performedBy left out", map[string]string{"CASEBRIDGE_DOMAIN_ID": "env-d"}, []string{c}, ExitAccepted, []string{
			`{"file":"` + c + `","ok":true,"request":{"domainId":"d9","caseId":"c3","fields":[{"id":"owner","value":{"userArnValue":"arn:u"}}]}}`,
		}},
		{"flag beats environment", map[string]string{"CASEBRIDGE_DOMAIN_ID": "env-d"}, []string{"-domain=flag-d", a}, ExitAccepted, []string{
			`{"file":"` + a + `","ok":true,"request":{"domainId":"flag-d","caseId":"c1","fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"priority","value":{"doubleValue":3}},{"id":"reason","value":{"emptyValue":{}}}],"performedBy":{"customEntity":"billing"}}}`,
		}},
		{"one rejected among accepted", nil, []string{c, b}, ExitRejected, []string{
			`{"file":"` + c + `","ok":true,"request":{"domainId":"d9","caseId":"c3","fields":[{"id":"owner","value":{"userArnValue":"arn:u"}}]}}`,
			`{"file":"` + b + `","ok":false,"reason":"invalid-message","error":"fields[2].value: union has both stringValue and doubleValue"}`,
		}},
		{"no domain anywhere", nil, []string{a}, ExitRejected, []string{
			`{"file":"` + a + `","ok":false,"reason":"invalid-message","error":"domainId: required: the message has none and no default domain is configured"}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if len(r.lines) != len(tt.want) {
				t.Fatalf("%d output lines, want %d:\n%s", len(r.lines), len(tt.want), r.stdout)
			}
			for i, w := range tt.want {
				if got := any(r.lines[i]); !reflect.DeepEqual(got, asJSON(t, w)) {
					t.Errorf("line %d\n got  %s\n want %s", i, strings.Split(r.stdout, "\n")[i], w)
				}
			}
		})
	}
}

func TestCheckStdin(t *testing.T) {
	r := run(t, `{"domainId":"d","caseId":"c","fields":{"a":true}}`, nil, "-")
	if r.code != ExitAccepted || len(r.lines) != 1 || r.lines[0]["file"] != "-" || r.lines[0]["ok"] != true {
		t.Fatalf("exit %d, output %s, stderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckUsageAndUnreadable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.json": `{"domainId":"d","caseId":"c","fields":{"a":1}}`})
	ok := filepath.Join(dir, "ok.json")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantLines  int
		wantStderr string
	}{
		{"no files", nil, ExitUsage, 0, "no FILE given"},
		{"unknown flag", []string{"--nope", ok}, ExitUsage, 0, "flag provided but not defined"},
		{"missing file, others still checked", []string{filepath.Join(dir, "missing.json"), ok}, ExitUsage, 1, "missing.json"},
		{"stdin twice", []string{"-", "-"}, ExitUsage, 1, "more than once"},
		{"help", []string{"-h"}, ExitAccepted, 0, "usage: casebridge check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, `{"domainId":"d","caseId":"c","fields":{"a":1}}`, nil, tt.args...)
			if r.code != tt.wantCode || len(r.lines) != tt.wantLines || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("exit %d (want %d), %d lines (want %d), stderr %q (want it to contain %q)",
					r.code, tt.wantCode, len(r.lines), tt.wantLines, r.stderr, tt.wantStderr)
			}
		})
	}
}

// TestCheckExamples runs the shipped samples as "casebridge check
// examples/messages/*.json" would on a fresh clone.
func TestCheckExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/messages/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatal("no samples", err)
	}
	r := run(t, "", nil, paths...)
	if r.code != ExitRejected {
		t.Fatalf("exit %d, want %d (the invalid-* samples are rejected)", r.code, ExitRejected)
	}
	for i, line := range r.lines {
		name := filepath.Base(paths[i])
		if line["file"] != paths[i] {
			t.Fatalf("line %d is for %v, want %s", i, line["file"], paths[i])
		}
		if wantOK := !strings.HasPrefix(name, "invalid-"); line["ok"] != wantOK {
			t.Errorf("%s: ok=%v, want %v (%v)", name, line["ok"], wantOK, line["error"])
		}
	}
}

// TestCheckHonoursMaxBodyBytes: check judges size as the deployment does.
func TestCheckHonoursMaxBodyBytes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.json")
	body := `{"domainId":"d","caseId":"c","fields":{"summary":"` + strings.Repeat("x", 200) + `"}}`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit string
		want  int
	}{{"", ExitAccepted}, {"100", ExitRejected}} {
		var out, errOut bytes.Buffer
		env := map[string]string{"CASEBRIDGE_MAX_BODY_BYTES": tc.limit}
		code := Run(context.Background(), []string{file}, nil, &out, &errOut, func(k string) string { return env[k] })
		if code != tc.want {
			t.Errorf("limit %q: exit %d (%s%s), want %d", tc.limit, code, out.String(), errOut.String(), tc.want)
		}
	}
}
