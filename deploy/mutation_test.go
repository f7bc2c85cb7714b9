package deploy

import (
	"strings"
	"testing"
)

// set walks path in v and replaces (or, with del, deletes) what it names.
func set(t *testing.T, v any, path []any, val any, del bool) {
	t.Helper()
	parent := Dig(v, path[:len(path)-1]...)
	switch last := path[len(path)-1].(type) {
	case string:
		m, ok := parent.(map[string]any)
		if !ok {
			t.Fatalf("set %v: parent is %T", path, parent)
		}
		if del {
			delete(m, last)
		} else {
			m[last] = val
		}
	case int:
		s, ok := parent.([]any)
		if !ok || last >= len(s) {
			t.Fatalf("set %v: parent is %T", path, parent)
		}
		s[last] = val
	}
}

func res(name string, path ...any) []any { return append([]any{"Resources", name}, path...) }

// envIndex finds a container environment entry by name in the resolved ECS template.
func envIndex(t *testing.T, r *Resolved, name string) int {
	t.Helper()
	for i, e := range asList(workerContainer(r)["Environment"]) {
		if Dig(e, "Name") == name {
			return i
		}
	}
	t.Fatalf("no %s in the container environment", name)
	return -1
}

// TestChecksCatchBrokenTemplates proves each invariant check can fail: it
// breaks one thing in a copy of the resolved default template and expects
// the check to say so (while the unbroken template passes it).
func TestChecksCatchBrokenTemplates(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	byName := func(cs []check, name string) check {
		for _, c := range cs {
			if c.name == name {
				return c
			}
		}
		t.Fatalf("no check %q", name)
		return check{}
	}
	sam, ecs := samChecks(), ecsChecks(df.binaryPath)
	container := func(path ...any) []any {
		return append([]any{"Resources", "TaskDefinition", "Properties", "ContainerDefinitions", 0}, path...)
	}
	fnRole := func(stmt int, path ...any) []any {
		return append(res("FunctionRole", "Properties", "Policies", 0, "PolicyDocument", "Statement", stmt), path...)
	}
	taskRole := func(stmt int, path ...any) []any {
		return append(res("TaskRole", "Properties", "Policies", 0, "PolicyDocument", "Statement", stmt), path...)
	}
	metric := func(i int, path ...any) []any {
		return append(res("BacklogPerTaskScaling", "Properties", "TargetTrackingScalingPolicyConfiguration",
			"CustomizedMetricSpecification", "Metrics", i), path...)
	}
	esm := func(path ...any) []any {
		return append(res("Function", "Properties", "Events", "Queue", "Properties"), path...)
	}

	tests := []struct {
		name   string
		path   string
		check  check
		mutate func(t *testing.T, r *Resolved)
	}{
		// Both templates: queues.
		{"SAM: DLQ keeps 4 days", samPath, byName(sam, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("DeadLetterQueue", "Properties", "MessageRetentionPeriod"), 345600, false)
		}},
		{"SAM: queue unencrypted", samPath, byName(sam, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Queue", "Properties", "SqsManagedSseEnabled"), nil, true)
		}},
		{"SAM: maxReceiveCount 8", samPath, byName(sam, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Queue", "Properties", "RedrivePolicy", "maxReceiveCount"), 8, false)
		}},
		{"SAM: CASEBRIDGE_MAX_RECEIVES 10", samPath, byName(sam, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Function", "Properties", "Environment", "Variables", "CASEBRIDGE_MAX_RECEIVES"), "10", false)
		}},
		{"ECS: DLQ unencrypted", ecsPath, byName(ecs, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("DeadLetterQueue", "Properties", "SqsManagedSseEnabled"), false, false)
		}},
		{"ECS: redrive to the source queue", ecsPath, byName(ecs, "queues"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Queue", "Properties", "RedrivePolicy", "deadLetterTargetArn"),
				map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}, false)
		}},
		// Alarms.
		{"SAM: no DLQ alarm", samPath, byName(sam, "alarms"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("DeadLetterQueueDepthAlarm"), nil, true)
		}},
		{"ECS: age alarm on the DLQ", ecsPath, byName(ecs, "alarms"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("OldestMessageAgeAlarm", "Properties", "Dimensions", 0, "Value"),
				map[string]any{"Fn::GetAtt": []any{"DeadLetterQueue", "QueueName"}}, false)
		}},
		// SAM function.
		{"SAM: x86_64", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Function", "Properties", "Architectures"), []any{"x86_64"}, false)
		}},
		{"SAM: go1.x runtime", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Function", "Properties", "Runtime"), "go1.x", false)
		}},
		{"SAM: no ReportBatchItemFailures", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, esm("FunctionResponseTypes"), nil, true)
		}},
		{"SAM: no MaximumConcurrency", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, esm("ScalingConfig"), nil, true)
		}},
		{"SAM: visibility 5 x timeout", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Queue", "Properties", "VisibilityTimeout"), 300, false)
		}},
		{"SAM: visibility ignores batching window", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, esm("MaximumBatchingWindowInSeconds"), 20, false)
			set(t, r.Template, res("Queue", "Properties", "VisibilityTimeout"), 360, false)
		}},
		{"SAM: SAM policies beside the role", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("Function", "Properties", "Policies"), []any{"AmazonSQSFullAccess"}, false)
		}},
		{"SAM: event source on the DLQ", samPath, byName(sam, "function"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, esm("Queue"), map[string]any{"Fn::GetAtt": []any{"DeadLetterQueue", "Arn"}}, false)
		}},
		// Least privilege.
		{"SAM: resource *", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, fnRole(2, "Resource"), "*", false) // SendMessage anywhere
		}},
		{"SAM: sqs:* on the queue", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, fnRole(1, "Action"), "sqs:*", false)
		}},
		{"SAM: SendMessage on the source queue too", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, fnRole(2, "Resource"), []any{
				map[string]any{"Fn::GetAtt": []any{"DeadLetterQueue", "Arn"}},
				map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}},
			}, false)
		}},
		{"SAM: UpdateCase in every domain", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, fnRole(3, "Resource", 1),
				map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cases:${AWS::Region}:${AWS::AccountId}:domain/*"}, false)
		}},
		{"SAM: managed policy", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("FunctionRole", "Properties", "ManagedPolicyArns"), []any{"arn:aws:iam::aws:policy/AdministratorAccess"}, false)
		}},
		{"SAM: UpdateCase missing", samPath, byName(sam, "function role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, fnRole(3, "Action"), "cases:GetCase", false)
		}},
		{"ECS: cases:* in the domain", ecsPath, byName(ecs, "task role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, taskRole(2, "Action"), "cases:*", false)
		}},
		{"ECS: field catalog granted while off", ecsPath, byName(ecs, "task role least privilege"), func(t *testing.T, r *Resolved) {
			stmts := Dig(r.Template, res("TaskRole", "Properties", "Policies", 0, "PolicyDocument", "Statement")...).([]any)
			set(t, r.Template, res("TaskRole", "Properties", "Policies", 0, "PolicyDocument", "Statement"), append(stmts, map[string]any{
				"Effect": "Allow", "Action": "cases:ListFields",
				"Resource": map[string]any{"Fn::Sub": domainARN},
			}), false)
		}},
		{"ECS: execution role gets * without ECR", ecsPath, byName(ecs, "execution role least privilege"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("ExecutionRole", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0, "Resource"), "*", false)
		}},
		// ECS task.
		{"ECS: stopTimeout = grace", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("StopTimeout"), "25", false)
		}},
		{"ECS: stopTimeout above Fargate's max", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("StopTimeout"), "150", false)
			set(t, r.Template, container("Environment", envIndex(t, r, "CASEBRIDGE_SHUTDOWN_GRACE"), "Value"), "140s", false)
		}},
		{"ECS: grace raised to 45s", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("Environment", envIndex(t, r, "CASEBRIDGE_SHUTDOWN_GRACE"), "Value"), "45s", false)
		}},
		{"ECS: CASEBRIDGE_MAX_HOLD missing", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("Environment", envIndex(t, r, "CASEBRIDGE_MAX_HOLD"), "Name"), "MAX_HOLD", false)
		}},
		{"ECS: queue URL is the DLQ", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("Environment", envIndex(t, r, "CASEBRIDGE_QUEUE_URL"), "Value"), map[string]any{"Ref": "DeadLetterQueue"}, false)
		}},
		{"ECS: json-file logs", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("LogConfiguration", "LogDriver"), "json-file", false)
		}},
		{"ECS: curl health check", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, container("HealthCheck", "Command"), []any{"CMD-SHELL", "curl -f http://localhost:8080/healthz"}, false)
		}},
		{"ECS: no task role", ecsPath, byName(ecs, "task"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("TaskDefinition", "Properties", "TaskRoleArn"), nil, true)
		}},
		// ECS scaling.
		{"ECS: scaling on the DLQ", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, metric(0, "MetricStat", "Metric", "Dimensions", 0, "Value"),
				map[string]any{"Fn::GetAtt": []any{"DeadLetterQueue", "QueueName"}}, false)
		}},
		{"ECS: scaling on raw depth", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, metric(2, "Expression"), "visible", false)
		}},
		{"ECS: inverted ratio", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, metric(2, "Expression"), "tasks / visible", false)
		}},
		{"ECS: two series returned", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, metric(0, "ReturnData"), true, false)
		}},
		{"ECS: fixed max capacity", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("ScalableTarget", "Properties", "MaxCapacity"), 50, false)
		}},
		{"ECS: step scaling", ecsPath, byName(ecs, "scaling"), func(t *testing.T, r *Resolved) {
			set(t, r.Template, res("BacklogPerTaskScaling", "Properties", "PolicyType"), "StepScaling", false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl := mustParse(t, tt.path)
			params := map[string]string{}
			for k, v := range required {
				if Dig(tmpl, "Parameters", k) != nil {
					params[k] = v
				}
			}
			r, err := tmpl.Resolve(params)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check.fn(r); err != nil {
				t.Fatalf("unbroken template already fails %s: %v", tt.check.name, err)
			}
			tt.mutate(t, r)
			err = tt.check.fn(r)
			if err == nil {
				t.Fatalf("check %s passed a template with %s", tt.check.name, tt.name)
			}
			t.Logf("caught: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
		})
	}
}

// TestUnconditionalOptionalGrantIsCaught breaks the template before
// resolution: an optional grant whose Fn::If is dropped must fail the check
// with the feature off.
func TestUnconditionalOptionalGrantIsCaught(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, role string }{{samPath, "FunctionRole"}, {ecsPath, "TaskRole"}} {
		tmpl := mustParse(t, tc.path).Clone()
		stmts := Dig(tmpl, res(tc.role, "Properties", "Policies", 0, "PolicyDocument", "Statement")...).([]any)
		replaced := false
		for i, s := range stmts {
			if fn, arg, ok := intrinsic(s); ok && fn == "Fn::If" && arg.([]any)[0] == "FieldCatalogOn" {
				stmts[i] = arg.([]any)[1] // the statement, without its condition
				replaced = true
			}
		}
		if !replaced {
			t.Fatalf("%s: no FieldCatalogOn statement to break", tc.path)
		}
		params := map[string]string{}
		for k, v := range required {
			if Dig(tmpl, "Parameters", k) != nil {
				params[k] = v
			}
		}
		r, err := tmpl.Resolve(params)
		if err != nil {
			t.Fatal(err)
		}
		allowed := workerGrants(r)
		if tc.role == "FunctionRole" {
			allowed = samGrants(r)
		}
		if err := checkGrants(r, tc.role, allowed); err == nil || !strings.Contains(err.Error(), "cases:ListFields") {
			t.Errorf("%s: unconditional field-catalog grant not caught: %v", tc.path, err)
		}
	}
}
