package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

const (
	ecsPath = "ecs.yaml"
	samPath = "../template.yaml"
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
	"RulesFile":           "rules.json",
	"ConnectInstanceId":   "aaaaaaaa-1111-2222-3333-444444444444",
	"KmsKeyArn":           "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"FifoQueue":           "true",
	"AlarmTopicArn":       "arn:aws:sns:eu-west-1:123456789012:ops",
	"EcrRepositoryArn":    "arn:aws:ecr:eu-west-1:123456789012:repository/casebridge-worker",
	"ExistingClusterName": "shared",
	"Tracing":             "Active",
	"TraceCollector":      "adot",
	// The ADOT collector layer as its docs name it (account 901920570463).
	"TraceCollectorLayerArn": "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-collector-arm64-ver-0-117-0:1",
}

// declared reads a template's parameter declarations without evaluating it.
func declared(t *testing.T, path string) cloudformation.Parameters {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	goformationMu.Lock()
	longForm, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	goformationMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Parameters cloudformation.Parameters }
	if err := json.Unmarshal(longForm, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Parameters
}

// paramsFor is required plus extra, limited to what the template declares.
func paramsFor(decl cloudformation.Parameters, extra map[string]string) map[string]string {
	p := map[string]string{}
	for _, src := range []map[string]string{required, extra} {
		for k, v := range src {
			if _, ok := decl[k]; ok {
				p[k] = v
			}
		}
	}
	return p
}

func mustLoad(t *testing.T, path string, params map[string]string) *Stack {
	t.Helper()
	s, err := LoadFile(path, params)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type scenario struct {
	name   string
	params map[string]string
}

// scenarios covers the defaults, everything on, every AllowedValue of every
// parameter (so each Mappings row is checked), and each numeric parameter at
// its MinValue and MaxValue.
func scenarios(decl cloudformation.Parameters) []scenario {
	out := []scenario{{"defaults", paramsFor(decl, nil)}, {"all optional features on", paramsFor(decl, allOn)}}
	names := make([]string, 0, len(decl))
	for n := range decl {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := decl[n]
		for _, v := range p.AllowedValues {
			out = append(out, scenario{fmt.Sprintf("%s=%v", n, v), paramsFor(decl, map[string]string{n: fmt.Sprint(v)})})
		}
		for bound, v := range map[string]*float64{"MinValue": p.MinValue, "MaxValue": p.MaxValue} {
			if v != nil {
				extra := map[string]string{n: fmt.Sprint(*v)}
				if n == "MinTasks" { // the MinTasksNotAboveMaxTasks rule: MinTasks ≤ MaxTasks
					extra["MaxTasks"] = fmt.Sprint(*v)
				}
				out = append(out, scenario{fmt.Sprintf("%s=%v (%s)", n, *v, bound), paramsFor(decl, extra)})
			}
		}
	}
	return out
}

type check struct {
	name string
	fn   func(*Stack) error
}

func samChecks() []check {
	return []check{
		{"queues", func(s *Stack) error { return checkQueues(s, samMaxReceives(s)) }},
		{"alarms", checkAlarms},
		{"function", checkSAMFunction},
		{"function role least privilege", func(s *Stack) error { return checkGrants(s, "FunctionRole", samGrants(s)) }},
		{"queue safety", checkQueueSafety},
		{"publisher access", checkPublisherAccess},
		{"alarm safety", checkAlarmSafety},
		{"lambda alarms", checkLambdaAlarms},
		{"function safety", checkSAMSafety},
		{"trace collector layer", checkTraceCollectorLayer},
	}
}

func ecsChecks(binaryPath string) []check {
	return []check{
		{"queues", func(s *Stack) error { return checkQueues(s, ecsMaxReceives(s)) }},
		{"alarms", checkAlarms},
		{"task", func(s *Stack) error { return checkECSTask(s, binaryPath) }},
		{"scaling", checkECSScaling},
		{"log metric filters", checkLogMetricFilters},
		{"task role least privilege", func(s *Stack) error { return checkGrants(s, "TaskRole", workerGrants(s)) }},
		{"execution role least privilege", func(s *Stack) error { return checkGrants(s, "ExecutionRole", ecsExecutionGrants(s)) }},
		{"queue safety", checkQueueSafety},
		{"publisher access", checkPublisherAccess},
		{"alarm safety", checkAlarmSafety},
		{"running tasks alarm", checkRunningTasksAlarm},
		{"task safety", checkECSSafety},
		{"trace collector", checkTraceCollector},
	}
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
		for _, sc := range scenarios(declared(t, tc.path)) {
			s, err := LoadFile(tc.path, sc.params)
			if err != nil {
				t.Fatalf("[%s]: %v", sc.name, err)
			}
			for _, c := range tc.checks {
				if err := c.fn(s); err != nil {
					t.Errorf("%s [%s] %s:\n%v", tc.path, sc.name, c.name, err)
				}
			}
		}
	}
}

func TestSAMTemplateIsServerless(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, samPath, paramsFor(declared(t, samPath), nil))
	if s.Transform == nil || val(s.Transform.String) != "AWS::Serverless-2016-10-31" {
		t.Fatalf("Transform = %v, want the SAM transform", s.Transform)
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
		{"RulesFile", allOn["RulesFile"], "cases:SearchCases"},
		{"ConnectInstanceId", allOn["ConnectInstanceId"], "connect:DescribeUser"},
		{"KmsKeyArn", allOn["KmsKeyArn"], "kms:Decrypt"},
		{"KmsKeyArn", allOn["KmsKeyArn"], "kms:GenerateDataKey"},
		{"TraceCollector", "adot", "xray:PutTraceSegments"},
		{"TraceCollector", "adot", "xray:PutTelemetryRecords"},
	}
	for _, tc := range []struct{ path, role string }{{samPath, "FunctionRole"}, {ecsPath, "TaskRole"}} {
		decl := declared(t, tc.path)
		for _, f := range features {
			if _, ok := decl[f.param]; !ok {
				continue // TraceCollector is ecs.yaml's alone
			}
			for _, on := range []bool{false, true} {
				extra := map[string]string{}
				if on {
					extra[f.param] = f.on
				}
				grants, err := roleGrants(mustLoad(t, tc.path, paramsFor(decl, extra)), tc.role)
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

// TestTemplatesStayReadable: both templates load for the defaults, and the
// only properties taken around goformation's types are the ones
// untypedProps names (so the list cannot silently grow stale).
func TestTemplatesStayReadable(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, samPath, paramsFor(declared(t, samPath), nil))
	var got []string
	for _, props := range s.Untyped {
		for p := range props {
			got = append(got, strings.Replace(p, "Events.Queue.", "Events.*.", 1))
		}
	}
	sort.Strings(got)
	want := append([]string(nil), untypedProps["AWS::Serverless::Function"]...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lifted %v, want every entry of untypedProps used: %v", got, want)
	}
	if e := mustLoad(t, ecsPath, paramsFor(declared(t, ecsPath), nil)); len(e.Untyped) != 0 {
		t.Errorf("ecs.yaml: properties goformation cannot type: %v", e.Untyped)
	}
}
