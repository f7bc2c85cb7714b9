package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docTables reads docs/deployment.md's parameter tables: for each template's
// section, the default cell of every row that names one parameter.
func docTables(t *testing.T) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{"### template.yaml parameters": samPath, "### deploy/ecs.yaml parameters": ecsPath}
	row := regexp.MustCompile("^\\| `([A-Za-z]+)` \\| ([^|]*) \\|")
	out := map[string]map[string]string{}
	current := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			current = sections[strings.TrimSpace(line)]
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && current != "" {
			if out[current] == nil {
				out[current] = map[string]string{}
			}
			out[current][m[1]] = strings.TrimSpace(m[2])
		}
	}
	return out
}

// TestDocumentedDefaults: every parameter docs/deployment.md gives a row of
// its own has the default the table says, and the quota-sizing parameters
// have such a row.
func TestDocumentedDefaults(t *testing.T) {
	t.Parallel()
	docs := docTables(t)
	mustDocument := map[string][]string{
		samPath: {"MaximumConcurrency", "RateLimit", "ExpiryAlarmPercent", "OldestMessageAlarmSeconds", "Coalesce"},
		ecsPath: {"MinTasks", "MaxTasks", "BacklogPerTaskTarget", "UpdateCaseQuota", "QuotaBoundPercent", "ThrottledPercentLimit", "RateLimit"},
	}
	for _, path := range []string{samPath, ecsPath} {
		decl := declared(t, path)
		for _, name := range mustDocument[path] {
			if _, ok := docs[path][name]; !ok {
				t.Errorf("%s: docs/deployment.md has no row for %s", path, name)
			}
		}
		for name, cell := range docs[path] {
			p, ok := decl[name]
			if !ok {
				t.Errorf("%s: docs/deployment.md documents %s, which the template does not declare", path, name)
				continue
			}
			want := "(required)"
			switch {
			case p.Default == nil:
			case fmt.Sprint(p.Default) == "":
				want = "empty"
			default:
				want = "`" + fmt.Sprint(p.Default) + "`"
			}
			if cell != want {
				t.Errorf("%s: %s default is %s in docs/deployment.md, %s in the template", path, name, cell, want)
			}
		}
	}
}

// TestQuotaDefaults holds the defaults to the quota arithmetic the docs
// give: at the default UpdateCase quota (2 calls/s), one ECS task and two
// Lambda environments (Lambda's minimum) are all the quota can feed.
func TestQuotaDefaults(t *testing.T) {
	t.Parallel()
	ecs := mustLoad(t, ecsPath, paramsFor(declared(t, ecsPath), nil))
	if got := ecs.Params["MaxTasks"]; got != "1" {
		t.Errorf("ECS MaxTasks default %s, want 1: one task saturates the default quota", got)
	}
	if got := ecs.Params["UpdateCaseQuota"]; got != "2" {
		t.Errorf("ECS UpdateCaseQuota default %s, want AWS's default 2 calls/s", got)
	}
	st, err := ecs.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
	if err != nil {
		t.Fatal(err)
	}
	if st.MaxCapacity != 1 {
		t.Errorf("default MaxCapacity %d, want 1", st.MaxCapacity)
	}
	sam := mustLoad(t, samPath, paramsFor(declared(t, samPath), nil))
	if mc, _ := num(dig(sam.Untyped["Function"]["Events.Queue.Properties.ScalingConfig"], "MaximumConcurrency")); mc != 2 {
		t.Errorf("Lambda MaximumConcurrency default %v, want 2 (Lambda's minimum; the default quota needs no more)", mc)
	}
	for _, s := range []*Stack{ecs, sam} {
		if got := s.Params["ExpiryAlarmPercent"]; got != "50" {
			t.Errorf("ExpiryAlarmPercent default %s, want 50 (7 of 14 days)", got)
		}
	}
}

func TestMetricMath(t *testing.T) {
	t.Parallel()
	ids := map[string]mval{"a": present(3), "b": present(4), "gone": missing}
	lookup := func(id string) (mval, error) {
		v, ok := ids[id]
		if !ok {
			return missing, fmt.Errorf("no %s", id)
		}
		return v, nil
	}
	for _, tc := range []struct {
		expr string
		want mval
	}{
		{"a + b * 2", present(11)},
		{"(a + b) * 2", present(14)},
		{"b / a * 3", present(4)},
		{"a - -b", present(7)},
		{"a > b", present(0)},
		{"a <= 3 AND b == 4", present(1)},
		{"a > 3 OR b != 4", present(0)},
		{"a > 3 || b >= 4 && a < 4", present(1)},
		{"IF(a > b, 1, 2)", present(2)},
		{"IF(b, a, 0)", present(3)},
		{"gone + 1", missing},
		{"IF(gone > 0, 1, 0)", missing},
		{"FILL(gone, 0) + 1", present(1)},
		{"FILL(a, 0)", present(3)},
		{"a / 0", missing},
		{"IF(FILL(gone, 0) == 0 AND a > 0, 10, a / b)", present(10)},
	} {
		got, err := evalMath(tc.expr, lookup)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a +", "IF(a, b)", "nope", "a $ b", "(a"} {
		if _, err := evalMath(bad, lookup); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestDeploymentDocsCarryEveryStep: docs/deployment.md (and the smoke test
// in docs/operations.md it links to) carry every step a first deployment
// needs, and name every parameter of both templates.
func TestDeploymentDocsCarryEveryStep(t *testing.T) {
	t.Parallel()
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	dep, ops := read("../docs/deployment.md"), read("../docs/operations.md")
	steps := map[string]string{
		"the Cases domain id":                      "aws connectcases list-domains",
		"the Connect instance id":                  "aws connect list-instances",
		"creating the ECR repository":              "aws ecr create-repository",
		"the SQS endpoint":                         "com.amazonaws.REGION.sqs`",
		"the Connect Cases endpoint":               "com.amazonaws.REGION.cases`",
		"the Logs endpoint":                        "com.amazonaws.REGION.logs`",
		"the ECR api endpoint":                     "com.amazonaws.REGION.ecr.api`",
		"the ECR dkr endpoint":                     "com.amazonaws.REGION.ecr.dkr`",
		"the S3 gateway for image layers":          "com.amazonaws.REGION.s3` | **gateway**",
		"the CloudWatch endpoint":                  "com.amazonaws.REGION.monitoring`",
		"the KMS key policy":                       `"kms:ViaService": "sqs.REGION.amazonaws.com"`,
		"the autoscaling service-linked role":      "--aws-service-name ecs.application-autoscaling.amazonaws.com",
		"no inbound rule for the task":             "needs no inbound rule",
		"the smoke test link":                      "(operations.md#smoke-test-after-deploying)",
		"the SAM log group output":                 "`FunctionLogGroupName`",
		"publisher access (policy)":                "PublisherPolicyArn",
		"publisher access (KMS)":                   "`kms:GenerateDataKey` and `kms:Decrypt` on the key",
		"retained queues":                          "## Deleting the stack",
		"the user-ARN setting":                     "CASEBRIDGE_PERFORMED_BY_USER_ARN=forbid",
		"cfn-lint in the test command":             "cfn-lint -c I -- template.yaml deploy/ecs.yaml",
		"the DLQ redrive destination (link)":       "--destination-arn",
		"the new alarms":                           "`RunningTasksAlarm`",
		"OK notifications":                         "`OKActions`",
		"Fargate pairs":                            "`TaskSize`",
		"FIFO leaves out the batching window":      "left out of the event source when `FifoQueue=true`",
		"min tasks not above max tasks":            "must not exceed `MaxTasks`",
		"cross-account publishers in queue policy": "`PublisherPrincipalArns`",
	}
	for what, want := range steps {
		if !strings.Contains(dep, want) {
			t.Errorf("docs/deployment.md lacks %s (%q)", what, want)
		}
	}
	for what, want := range map[string]string{
		"the smoke test section":         "### Smoke test after deploying",
		"the redrive with a destination": "--destination-arn \"$QUEUE_ARN\"",
		"the DLQ arrivals alarm":         "`DeadLetterQueueArrivalsAlarm`",
		"the DLQ age alarm":              "`DeadLetterQueueAgeAlarm`",
		"the Lambda errors alarm":        "`FunctionErrorsAlarm`",
		"the Lambda throttles alarm":     "`FunctionThrottlesAlarm`",
		"the running tasks alarm":        "`RunningTasksAlarm`",
	} {
		if !strings.Contains(ops, want) {
			t.Errorf("docs/operations.md lacks %s (%q)", what, want)
		}
	}
	for _, path := range []string{samPath, ecsPath} {
		for name := range declared(t, path) {
			if !strings.Contains(dep, "`"+name+"`") {
				t.Errorf("docs/deployment.md never names %s's parameter %s", path, name)
			}
		}
	}
}
