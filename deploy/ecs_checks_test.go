package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
)

// --- ECS (deploy/ecs.yaml) ---

var workerEnv = []string{
	"CASEBRIDGE_QUEUE_URL", "CASEBRIDGE_DLQ_URL", "CASEBRIDGE_DOMAIN_ID",
	"CASEBRIDGE_MAX_IN_FLIGHT", "CASEBRIDGE_MAX_RECEIVES", "CASEBRIDGE_MAX_HOLD",
	"CASEBRIDGE_RATE_LIMIT", "CASEBRIDGE_SHUTDOWN_GRACE", "CASEBRIDGE_HTTP_ADDR",
	"CASEBRIDGE_LOG_LEVEL", "CASEBRIDGE_FIELD_CATALOG", "CASEBRIDGE_COALESCE",
}

func workerContainer(s *Stack) (*ecs.TaskDefinition_ContainerDefinition, error) {
	return taskContainer(s, "worker")
}

func taskContainer(s *Stack, name string) (*ecs.TaskDefinition_ContainerDefinition, error) {
	td, err := s.GetECSTaskDefinitionWithName("TaskDefinition")
	if err != nil {
		return nil, err
	}
	for i := range td.ContainerDefinitions {
		if td.ContainerDefinitions[i].Name == name {
			return &td.ContainerDefinitions[i], nil
		}
	}
	return nil, fmt.Errorf("task definition has no %s container", name)
}

func containerEnv(c *ecs.TaskDefinition_ContainerDefinition) map[string]string {
	env := map[string]string{}
	for _, e := range c.Environment {
		env[val(e.Name)] = val(e.Value)
	}
	return env
}

// checkECSTask: stopTimeout above the shutdown grace and within Fargate's
// limit, every CASEBRIDGE_* setting present, awslogs, the shell-less health
// check, the task role.
func checkECSTask(s *Stack, binaryPath string) error {
	c, err := workerContainer(s)
	if err != nil {
		return err
	}
	var errs []error
	env := containerEnv(c)
	for _, k := range workerEnv {
		if env[k] == "" {
			errs = append(errs, fmt.Errorf("container environment lacks %s", k))
		}
	}
	if env["CASEBRIDGE_QUEUE_URL"] != cloudformation.Ref("Queue") {
		errs = append(errs, errors.New("CASEBRIDGE_QUEUE_URL is not the source queue's URL"))
	}
	if env["CASEBRIDGE_DLQ_URL"] != cloudformation.Ref("DeadLetterQueue") {
		errs = append(errs, errors.New("CASEBRIDGE_DLQ_URL is not the DLQ's URL"))
	}
	stop := time.Duration(val(c.StopTimeout)) * time.Second
	grace, gerr := time.ParseDuration(env["CASEBRIDGE_SHUTDOWN_GRACE"])
	switch {
	case c.StopTimeout == nil || gerr != nil:
		errs = append(errs, fmt.Errorf("stopTimeout %v / shutdown grace %q unreadable", c.StopTimeout, env["CASEBRIDGE_SHUTDOWN_GRACE"]))
	case stop <= grace:
		errs = append(errs, fmt.Errorf("stopTimeout %v is not above CASEBRIDGE_SHUTDOWN_GRACE %v", stop, grace))
	case stop > fargateMaxStopTime*time.Second:
		errs = append(errs, fmt.Errorf("stopTimeout %v exceeds Fargate's %d s", stop, fargateMaxStopTime))
	}
	if lc := c.LogConfiguration; lc == nil || lc.LogDriver != "awslogs" || lc.Options["awslogs-group"] != cloudformation.Ref("LogGroup") {
		errs = append(errs, errors.New("container does not log with awslogs to LogGroup"))
	}
	if hc := c.HealthCheck; hc == nil || !slices.Equal(hc.Command, []string{"CMD", binaryPath, "healthcheck"}) {
		errs = append(errs, fmt.Errorf("health check %v, want [CMD %s healthcheck]", c.HealthCheck, binaryPath))
	}
	td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
	if val(td.TaskRoleArn) != cloudformation.GetAtt("TaskRole", "Arn") {
		errs = append(errs, errors.New("task does not run as TaskRole"))
	}
	if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) {
		errs = append(errs, errors.New("task is not a Fargate task"))
	}
	return errors.Join(errs...)
}

// logMetricsNamespace is where the metric filters on the worker's log group
// publish, per stack.
var logMetricsNamespace = cloudformation.Sub("casebridge/${AWS::StackName}")

// logMetric is one series the scaling policy reads from the worker's
// "message outcome" lines: the metric filter that makes it and what it
// must count.
type logMetric struct {
	name     string   // MetricName
	value    string   // MetricValue
	patterns []string // in FilterPattern, besides the outcome line itself
}

var logMetrics = map[string]logMetric{
	"calls":    {"UpdateCaseCalls", "$.attempts", nil},
	"applied":  {"Applied", "1", []string{`$.outcome = "applied"`}},
	"rejected": {"RejectedCalls", "$.attempts", []string{`$.outcome = "dead-lettered"`, `$.reason != "retries-exhausted"`}},
}

// checkLogMetricFilters: each log metric is made by a filter on the
// worker's log group that reads the outcome lines, emits 0 for other lines
// (so every series has the same minutes) and publishes to the stack's
// namespace.
func checkLogMetricFilters(s *Stack) error {
	var errs []error
	for _, role := range []string{"calls", "applied", "rejected"} {
		want := logMetrics[role]
		found := 0
		for name, f := range s.GetAllLogsMetricFilterResources() {
			for _, mt := range f.MetricTransformations {
				if mt.MetricNamespace != logMetricsNamespace || mt.MetricName != want.name {
					continue
				}
				found++
				if f.LogGroupName != cloudformation.Ref("LogGroup") {
					errs = append(errs, fmt.Errorf("metric filter %s reads %s, want the worker's LogGroup", name, show(f.LogGroupName)))
				}
				for _, p := range append([]string{`$.msg = "message outcome"`}, want.patterns...) {
					if !strings.Contains(f.FilterPattern, p) {
						errs = append(errs, fmt.Errorf("metric filter %s: pattern %q lacks %s", name, f.FilterPattern, p))
					}
				}
				if mt.MetricValue != want.value {
					errs = append(errs, fmt.Errorf("metric filter %s: value %q, want %q", name, mt.MetricValue, want.value))
				}
				if mt.DefaultValue == nil || *mt.DefaultValue != 0 {
					errs = append(errs, fmt.Errorf("metric filter %s: DefaultValue must be 0", name))
				}
			}
		}
		if found != 1 {
			errs = append(errs, fmt.Errorf("%d metric filters publish %s, want 1", found, want.name))
		}
	}
	return errors.Join(errs...)
}

// checkECSScaling: the service scales between MinTasks and MaxTasks and
// nothing can take it past MaxTasks; one target tracking policy on backlog
// per task (the source queue's visible messages / the service's running
// tasks), which holds (reads exactly its target) while the UpdateCase quota
// binds. The policy's metric math is evaluated for one minute of metric
// values per situation (scalingSituations).
func checkECSScaling(s *Stack) error {
	var errs []error
	targets := s.GetAllApplicationAutoScalingScalableTargetResources()
	if len(targets) != 1 {
		errs = append(errs, fmt.Errorf("%d scalable targets, want the service's one", len(targets)))
	}
	target, err := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if target.ScalableDimension != "ecs:service:DesiredCount" {
		errs = append(errs, errors.New("scalable target does not scale the service's desired count"))
	}
	if !strings.Contains(target.ResourceId, cloudformation.GetAtt("Service", "Name")) {
		errs = append(errs, errors.New("scalable target is not the worker service"))
	}
	if fmt.Sprint(target.MinCapacity) != s.Params["MinTasks"] || fmt.Sprint(target.MaxCapacity) != s.Params["MaxTasks"] {
		errs = append(errs, fmt.Errorf("scalable target capacity %d..%d is not MinTasks..MaxTasks (%s..%s)",
			target.MinCapacity, target.MaxCapacity, s.Params["MinTasks"], s.Params["MaxTasks"]))
	}
	if target.MinCapacity > target.MaxCapacity {
		errs = append(errs, fmt.Errorf("MinCapacity %d above MaxCapacity %d", target.MinCapacity, target.MaxCapacity))
	}
	if len(target.ScheduledActions) > 0 {
		errs = append(errs, errors.New("scheduled actions could move the capacity bounds past MaxTasks"))
	}
	if svc, err := s.GetECSServiceWithName("Service"); err == nil && svc.DesiredCount != nil {
		errs = append(errs, errors.New("the service sets DesiredCount: a stack update would override autoscaling"))
	}

	var cfg *applicationautoscaling.ScalingPolicy_TargetTrackingScalingPolicyConfiguration
	for name, p := range s.GetAllApplicationAutoScalingScalingPolicyResources() {
		if val(p.ScalingTargetId) != cloudformation.Ref("ScalableTarget") {
			errs = append(errs, fmt.Errorf("scaling policy %s does not act on ScalableTarget (its MinTasks..MaxTasks bounds)", name))
			continue
		}
		if p.PolicyType != "TargetTrackingScaling" {
			errs = append(errs, fmt.Errorf("scaling policy %s is %s; only the quota-aware target tracking policy may scale", name, p.PolicyType))
			continue
		}
		if cfg != nil {
			errs = append(errs, errors.New("more than one target tracking policy"))
		}
		cfg = p.TargetTrackingScalingPolicyConfiguration
	}
	if cfg == nil || cfg.CustomizedMetricSpecification == nil {
		return errors.Join(append(errs, errors.New("no target tracking policy with a customized metric on the scalable target"))...)
	}
	if want, _ := num(s.Params["BacklogPerTaskTarget"]); cfg.TargetValue != want || want <= 0 {
		errs = append(errs, fmt.Errorf("scaling target value %v, want BacklogPerTaskTarget (%v), a positive backlog per task", cfg.TargetValue, want))
	}

	queries := map[string]*applicationautoscaling.ScalingPolicy_TargetTrackingMetricDataQuery{}
	role := map[string]string{} // visible, tasks, calls, applied, rejected -> query id
	var returned []string
	for i := range cfg.CustomizedMetricSpecification.Metrics {
		m := &cfg.CustomizedMetricSpecification.Metrics[i]
		queries[val(m.Id)] = m
		if val(m.ReturnData) {
			returned = append(returned, val(m.Id))
		}
		if m.MetricStat == nil || m.MetricStat.Metric == nil {
			continue
		}
		metric := m.MetricStat.Metric
		dims := map[string]string{}
		for _, d := range metric.Dimensions {
			dims[val(d.Name)] = val(d.Value)
		}
		switch {
		case val(metric.Namespace) == "AWS/SQS" && val(metric.MetricName) == "ApproximateNumberOfMessagesVisible" &&
			dims["QueueName"] == cloudformation.GetAtt("Queue", "QueueName") && val(m.MetricStat.Stat) == "Sum":
			role["visible"] = val(m.Id)
		case val(metric.MetricName) == "RunningTaskCount" && dims["ServiceName"] == cloudformation.GetAtt("Service", "Name"):
			role["tasks"] = val(m.Id)
		case val(metric.Namespace) == logMetricsNamespace && val(m.MetricStat.Stat) == "Sum":
			for r, lm := range logMetrics {
				if val(metric.MetricName) == lm.name {
					role[r] = val(m.Id)
				}
			}
		}
	}
	for _, r := range []string{"visible", "tasks", "calls", "applied", "rejected"} {
		if role[r] == "" {
			errs = append(errs, fmt.Errorf("scaling metrics lack %s", scalingRoles[r]))
		}
	}
	if len(returned) != 1 {
		errs = append(errs, fmt.Errorf("scaling returns %d series %v, want exactly one", len(returned), returned))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, sit := range scalingSituations(s) {
		in := map[string]mval{}
		for r, v := range sit.in {
			in[role[r]] = v
		}
		got, err := evalQueries(queries, returned[0], in)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("scaling metric math: %w", err))
		case !sit.want(got, cfg.TargetValue):
			errs = append(errs, fmt.Errorf("scaling, %s: backlog per task reads %s against target %v, want %s",
				sit.name, showMval(got), cfg.TargetValue, sit.wantText))
		}
	}
	return errors.Join(errs...)
}

var scalingRoles = map[string]string{
	"visible":  "the source queue's ApproximateNumberOfMessagesVisible (Sum)",
	"tasks":    "the service's RunningTaskCount",
	"calls":    "the UpdateCaseCalls log metric (Sum)",
	"applied":  "the Applied log metric (Sum)",
	"rejected": "the RejectedCalls log metric (Sum)",
}

// evalQueries evaluates query id of a policy's metric math, with metric
// queries' values taken from in.
func evalQueries(queries map[string]*applicationautoscaling.ScalingPolicy_TargetTrackingMetricDataQuery, id string, in map[string]mval) (mval, error) {
	seen := map[string]bool{}
	var resolve func(string) (mval, error)
	resolve = func(id string) (mval, error) {
		q, ok := queries[id]
		if !ok {
			return missing, fmt.Errorf("no query %q", id)
		}
		if q.MetricStat != nil {
			return in[id], nil
		}
		if seen[id] {
			return missing, fmt.Errorf("query %q refers to itself", id)
		}
		seen[id] = true
		defer delete(seen, id)
		return evalMath(val(q.Expression), resolve)
	}
	return resolve(id)
}

func showMval(v mval) string {
	if !v.ok {
		return "no value"
	}
	return fmt.Sprint(v.v)
}

type scalingSituation struct {
	name     string
	in       map[string]mval // by role: visible, tasks, calls, applied, rejected (per minute)
	want     func(got mval, target float64) bool
	wantText string
}

// scalingSituations are the minutes the policy must get right, with s's
// parameters: the quota (UpdateCaseQuota calls/s), the share of it that
// counts as bound (QuotaBoundPercent) and the retryable-failure share that
// does (ThrottledPercentLimit).
func scalingSituations(s *Stack) []scalingSituation {
	quota, _ := num(s.Params["UpdateCaseQuota"])
	boundPct, _ := num(s.Params["QuotaBoundPercent"])
	throttledPct, _ := num(s.Params["ThrottledPercentLimit"])
	target, _ := num(s.Params["BacklogPerTaskTarget"])
	boundPerMin := quota * boundPct / 100 * 60 // applied/min at which the quota binds
	half := boundPerMin / 2
	// A failed share halfway between the limit and 100 %.
	failShare := (throttledPct + (100-throttledPct)/2) / 100
	big := present(100 * target)
	hold := func(got mval, t float64) bool { return !got.ok || got.v == t } // no value: target tracking takes no action
	out := func(got mval, t float64) bool { return got.ok && got.v > t*1.1 }
	in := func(got mval, t float64) bool { return got.ok && got.v < t*0.9 }
	return []scalingSituation{
		{"quota-bound backlog (the service applies the whole quota, no throttles)",
			map[string]mval{"visible": big, "tasks": present(1), "calls": present(quota * 60), "applied": present(quota * 60), "rejected": present(0)},
			hold, "the target (no scale-out)"},
		{"quota-bound backlog at the bound exactly",
			map[string]mval{"visible": big, "tasks": present(1), "calls": present(boundPerMin), "applied": present(boundPerMin), "rejected": present(0)},
			hold, "the target (no scale-out)"},
		{"throttled backlog (other callers take the quota)",
			map[string]mval{"visible": big, "tasks": present(1), "calls": present(half / (1 - failShare)), "applied": present(half), "rejected": present(0)},
			hold, "the target (no scale-out)"},
		{"backlog and no outcome line at all (every call held by throttling)",
			map[string]mval{"visible": big, "tasks": present(1), "calls": missing, "applied": missing, "rejected": missing},
			hold, "the target or no value (no scale-out)"},
		{"backlog with quota to spare",
			map[string]mval{"visible": big, "tasks": present(2), "calls": present(half), "applied": present(half), "rejected": present(0)},
			out, "well above the target (scale-out)"},
		{"backlog with quota to spare and many rejected messages (not throttling)",
			map[string]mval{"visible": big, "tasks": present(2), "calls": present(half * 11), "applied": present(half), "rejected": present(half * 10)},
			out, "well above the target (scale-out)"},
		{"idle",
			map[string]mval{"visible": present(0), "tasks": present(2), "calls": missing, "applied": missing, "rejected": missing},
			in, "well below the target (scale-in)"},
	}
}

func ecsExecutionGrants(s *Stack) map[grant]bool {
	allowed := map[grant]bool{}
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		allowed[grant{a, cloudformation.GetAtt("LogGroup", "Arn")}] = true
	}
	if repo := s.Params["EcrRepositoryArn"]; repo != "" {
		for _, a := range []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
			allowed[grant{a, repo}] = true
		}
		// ECR has no resource for GetAuthorizationToken: the one "*" allowed.
		allowed[grant{"ecr:GetAuthorizationToken", "*"}] = true
	}
	return allowed
}

func ecsMaxReceives(s *Stack) string {
	c, err := workerContainer(s)
	if err != nil {
		return ""
	}
	return containerEnv(c)["CASEBRIDGE_MAX_RECEIVES"]
}
