package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

const (
	ecsPath        = "ecs.yaml"
	samPath        = "../template.yaml"
	dockerfilePath = "Dockerfile"
)

// required gives the parameters that have no default a plausible value.
var required = map[string]string{
	"CasesDomainId":  "3f7c0000-aaaa-bbbb-cccc-000000000001",
	"ContainerImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/casebridge-worker:test",
	"Subnets":        "subnet-1,subnet-2",
	"SecurityGroups": "sg-1",
}

// allOn turns on every optional feature (those that add grants or change
// the queues), for templates that declare the parameter.
var allOn = map[string]string{
	"FieldCatalog":        "on",
	"ConnectInstanceId":   "aaaaaaaa-1111-2222-3333-444444444444",
	"KmsKeyArn":           "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"FifoQueue":           "true",
	"AlarmTopicArn":       "arn:aws:sns:eu-west-1:123456789012:ops",
	"EcrRepositoryArn":    "arn:aws:ecr:eu-west-1:123456789012:repository/casebridge-worker",
	"ExistingClusterName": "shared",
}

type scenario struct {
	name   string
	params map[string]string
}

// scenarios covers the defaults, everything on, every AllowedValue of every
// parameter (so each Mappings row is checked), and each numeric parameter at
// its MinValue and MaxValue.
func scenarios(t *testing.T, tmpl Template) []scenario {
	t.Helper()
	decl, _ := tmpl["Parameters"].(map[string]any)
	base := func(extra map[string]string) map[string]string {
		p := map[string]string{}
		for k, v := range required {
			if _, ok := decl[k]; ok {
				p[k] = v
			}
		}
		for k, v := range extra {
			if _, ok := decl[k]; ok {
				p[k] = v
			}
		}
		return p
	}
	out := []scenario{{"defaults", base(nil)}, {"all optional features on", base(allOn)}}
	names := make([]string, 0, len(decl))
	for n := range decl {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range asList(Dig(decl[n], "AllowedValues")) {
			out = append(out, scenario{fmt.Sprintf("%s=%v", n, v), base(map[string]string{n: fmt.Sprint(v)})})
		}
		for _, bound := range []string{"MinValue", "MaxValue"} {
			if v := Dig(decl[n], bound); v != nil {
				out = append(out, scenario{fmt.Sprintf("%s=%v (%s)", n, v, bound), base(map[string]string{n: fmt.Sprint(v)})})
			}
		}
	}
	return out
}

type check struct {
	name string
	fn   func(*Resolved) error
}

func samChecks() []check {
	return []check{
		{"queues", func(r *Resolved) error { return checkQueues(r, samMaxReceives(r)) }},
		{"alarms", checkAlarms},
		{"function", checkSAMFunction},
		{"function role least privilege", func(r *Resolved) error { return checkGrants(r, "FunctionRole", samGrants(r)) }},
	}
}

func ecsChecks(binaryPath string) []check {
	return []check{
		{"queues", func(r *Resolved) error { return checkQueues(r, ecsMaxReceives(r)) }},
		{"alarms", checkAlarms},
		{"task", func(r *Resolved) error { return checkECSTask(r, binaryPath) }},
		{"scaling", checkECSScaling},
		{"task role least privilege", func(r *Resolved) error { return checkGrants(r, "TaskRole", ecsTaskGrants(r)) }},
		{"execution role least privilege", func(r *Resolved) error { return checkGrants(r, "ExecutionRole", ecsExecutionGrants(r)) }},
	}
}

func mustParse(t *testing.T, path string) Template {
	t.Helper()
	tmpl, err := ParseTemplateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestTemplateInvariants(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	for _, tc := range []struct {
		path   string
		checks []check
	}{
		{samPath, samChecks()},
		{ecsPath, ecsChecks(df.binaryPath)},
	} {
		tmpl := mustParse(t, tc.path)
		for _, sc := range scenarios(t, tmpl) {
			r, err := tmpl.Resolve(sc.params)
			if err != nil {
				t.Fatalf("%s [%s]: resolve: %v", tc.path, sc.name, err)
			}
			for _, c := range tc.checks {
				if err := c.fn(r); err != nil {
					t.Errorf("%s [%s] %s:\n%v", tc.path, sc.name, c.name, err)
				}
			}
		}
	}
}

func TestSAMTemplateIsServerless(t *testing.T) {
	t.Parallel()
	tmpl := mustParse(t, samPath)
	if tmpl["Transform"] != "AWS::Serverless-2016-10-31" {
		t.Fatalf("Transform = %v, want the SAM transform", tmpl["Transform"])
	}
}

// TestGrantsFollowFeatures: an optional grant exists exactly when its
// feature is on, in both templates.
func TestGrantsFollowFeatures(t *testing.T) {
	t.Parallel()
	features := []struct {
		param, on, action string
	}{
		{"FieldCatalog", "on", "cases:ListFields"},
		{"FieldCatalog", "on", "cases:BatchGetField"},
		{"FieldCatalog", "on", "cases:ListFieldOptions"},
		{"ConnectInstanceId", allOn["ConnectInstanceId"], "connect:DescribeUser"},
		{"KmsKeyArn", allOn["KmsKeyArn"], "kms:Decrypt"},
		{"KmsKeyArn", allOn["KmsKeyArn"], "kms:GenerateDataKey"},
	}
	for _, tc := range []struct{ path, role string }{{samPath, "FunctionRole"}, {ecsPath, "TaskRole"}} {
		tmpl := mustParse(t, tc.path)
		for _, f := range features {
			for _, on := range []bool{false, true} {
				params := map[string]string{}
				for k, v := range required {
					if Dig(tmpl, "Parameters", k) != nil {
						params[k] = v
					}
				}
				if on {
					params[f.param] = f.on
				}
				r, err := tmpl.Resolve(params)
				if err != nil {
					t.Fatal(err)
				}
				grants, err := roleGrants(r, tc.role)
				if err != nil {
					t.Fatal(err)
				}
				has := false
				for _, g := range grants {
					has = has || g.action == f.action
				}
				if has != on {
					t.Errorf("%s %s: %s granted=%v with %s on=%v", tc.path, tc.role, f.action, has, f.param, on)
				}
			}
		}
	}
}

// dockerfile is what the tests need from deploy/Dockerfile.
type dockerfile struct {
	binaryPath string   // where the worker lands, the entrypoint
	entrypoint []string // exec form
	cmd        []string
	user       string
	labels     []string // label keys
	certs      bool     // copies a CA bundle to /etc/ssl/certs
	healthExec []string
}

func mustDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var df dockerfile
	stage := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			stage++
		case "USER":
			df.user = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &df.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT must be exec form: %v", err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &df.cmd); err != nil {
				t.Fatalf("CMD must be exec form: %v", err)
			}
		case "COPY":
			f := strings.Fields(rest)
			dst := f[len(f)-1]
			if stage > 1 && strings.HasPrefix(dst, "/etc/ssl/certs/") {
				df.certs = true
			}
			if stage > 1 && strings.Contains(rest, "/out/worker") {
				df.binaryPath = dst
			}
		case "LABEL":
			for _, f := range strings.Fields(rest) {
				if k, _, ok := strings.Cut(f, "="); ok {
					df.labels = append(df.labels, k)
				}
			}
		case "HEALTHCHECK":
			if _, after, ok := strings.Cut(rest, "CMD "); ok {
				if err := json.Unmarshal([]byte(after), &df.healthExec); err != nil {
					t.Fatalf("HEALTHCHECK CMD must be exec form: %v", err)
				}
			}
		}
	}
	if df.binaryPath == "" {
		t.Fatal("Dockerfile does not copy the worker into the final stage")
	}
	return df
}

// TestDockerfile pins the promises the ECS template and the CI-built image
// rely on.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	if df.user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532", df.user)
	}
	if len(df.entrypoint) != 1 || df.entrypoint[0] != df.binaryPath {
		t.Errorf("ENTRYPOINT %v, want [%s]", df.entrypoint, df.binaryPath)
	}
	if strings.Join(df.cmd, " ") != "run" {
		t.Errorf("CMD %v, want [run]", df.cmd)
	}
	if !df.certs {
		t.Error("final stage has no CA bundle under /etc/ssl/certs")
	}
	if strings.Join(df.healthExec, " ") != df.binaryPath+" healthcheck" {
		t.Errorf("HEALTHCHECK %v, want [%s healthcheck]", df.healthExec, df.binaryPath)
	}
	if len(df.labels) == 0 {
		t.Error("no OCI labels")
	}
}
