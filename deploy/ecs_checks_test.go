package deploy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// --- ECS (deploy/ecs.yaml) ---

var workerEnv = []string{
	"CASEBRIDGE_QUEUE_URL", "CASEBRIDGE_DLQ_URL", "CASEBRIDGE_DOMAIN_ID",
	"CASEBRIDGE_MAX_IN_FLIGHT", "CASEBRIDGE_MAX_RECEIVES", "CASEBRIDGE_MAX_HOLD",
	"CASEBRIDGE_RATE_LIMIT", "CASEBRIDGE_SHUTDOWN_GRACE", "CASEBRIDGE_HTTP_ADDR",
	"CASEBRIDGE_LOG_LEVEL", "CASEBRIDGE_FIELD_CATALOG",
}

func workerContainer(r *Resolved) map[string]any {
	c, _ := Dig(r.Resource("TaskDefinition"), "Properties", "ContainerDefinitions", 0).(map[string]any)
	return c
}

func containerEnv(r *Resolved) map[string]any {
	env := map[string]any{}
	for _, e := range asList(workerContainer(r)["Environment"]) {
		env[fmt.Sprint(Dig(e, "Name"))] = Dig(e, "Value")
	}
	return env
}

// checkECSTask: stopTimeout above the shutdown grace and within Fargate's
// limit, every CASEBRIDGE_* setting present, awslogs, the shell-less health
// check, the task role.
func checkECSTask(r *Resolved, binaryPath string) error {
	c := workerContainer(r)
	if c == nil {
		return errors.New("task definition has no container")
	}
	var errs []error
	env := containerEnv(r)
	for _, k := range workerEnv {
		if v, ok := env[k]; !ok || v == "" {
			errs = append(errs, fmt.Errorf("container environment lacks %s", k))
		}
	}
	if Canonical(env["CASEBRIDGE_QUEUE_URL"]) != Canonical(map[string]any{"Ref": "Queue"}) {
		errs = append(errs, errors.New("CASEBRIDGE_QUEUE_URL is not the source queue's URL"))
	}
	if Canonical(env["CASEBRIDGE_DLQ_URL"]) != Canonical(map[string]any{"Ref": "DeadLetterQueue"}) {
		errs = append(errs, errors.New("CASEBRIDGE_DLQ_URL is not the DLQ's URL"))
	}
	stop, err := num(c["StopTimeout"])
	grace, gerr := time.ParseDuration(fmt.Sprint(env["CASEBRIDGE_SHUTDOWN_GRACE"]))
	switch {
	case err != nil || gerr != nil:
		errs = append(errs, fmt.Errorf("stopTimeout %v / shutdown grace %v unreadable", c["StopTimeout"], env["CASEBRIDGE_SHUTDOWN_GRACE"]))
	case time.Duration(stop)*time.Second <= grace:
		errs = append(errs, fmt.Errorf("stopTimeout %v s is not above CASEBRIDGE_SHUTDOWN_GRACE %v", stop, grace))
	case stop > fargateMaxStopTime:
		errs = append(errs, fmt.Errorf("stopTimeout %v s exceeds Fargate's %d s", stop, fargateMaxStopTime))
	}
	if Dig(c, "LogConfiguration", "LogDriver") != "awslogs" ||
		Canonical(Dig(c, "LogConfiguration", "Options", "awslogs-group")) != Canonical(map[string]any{"Ref": "LogGroup"}) {
		errs = append(errs, errors.New("container does not log with awslogs to LogGroup"))
	}
	wantHC := Canonical([]any{"CMD", binaryPath, "healthcheck"})
	if got := Canonical(Dig(c, "HealthCheck", "Command")); got != wantHC {
		errs = append(errs, fmt.Errorf("health check %s, want %s", got, wantHC))
	}
	td := Dig(r.Resource("TaskDefinition"), "Properties")
	if Canonical(Dig(td, "TaskRoleArn")) != getAtt("TaskRole", "Arn") {
		errs = append(errs, errors.New("task does not run as TaskRole"))
	}
	if Canonical(Dig(td, "RequiresCompatibilities")) != `["FARGATE"]` {
		errs = append(errs, errors.New("task is not a Fargate task"))
	}
	return errors.Join(errs...)
}

// checkECSScaling: target tracking on backlog per task, i.e. the source
// queue's visible messages divided by the service's running tasks.
func checkECSScaling(r *Resolved) error {
	var errs []error
	target := Dig(r.Resource("ScalableTarget"), "Properties")
	if Dig(target, "ScalableDimension") != "ecs:service:DesiredCount" {
		errs = append(errs, errors.New("scalable target does not scale the service's desired count"))
	}
	if !strings.Contains(Canonical(Dig(target, "ResourceId")), getAtt("Service", "Name")) {
		errs = append(errs, errors.New("scalable target is not the worker service"))
	}
	if fmt.Sprint(Dig(target, "MinCapacity")) != r.Params["MinTasks"] || fmt.Sprint(Dig(target, "MaxCapacity")) != r.Params["MaxTasks"] {
		errs = append(errs, errors.New("scalable target capacity is not MinTasks..MaxTasks"))
	}
	var policy any
	for _, name := range r.ResourcesOfType("AWS::ApplicationAutoScaling::ScalingPolicy") {
		p := Dig(r.Resource(name), "Properties")
		if Canonical(Dig(p, "ScalingTargetId")) == Canonical(map[string]any{"Ref": "ScalableTarget"}) {
			policy = p
		}
	}
	if policy == nil || Dig(policy, "PolicyType") != "TargetTrackingScaling" {
		return errors.Join(append(errs, errors.New("no target tracking policy on the scalable target"))...)
	}
	var visibleID, tasksID, expr string
	returning := 0
	for _, m := range asList(Dig(policy, "TargetTrackingScalingPolicyConfiguration", "CustomizedMetricSpecification", "Metrics")) {
		id := fmt.Sprint(Dig(m, "Id"))
		if Dig(m, "ReturnData") == true {
			returning++
			expr = fmt.Sprint(Dig(m, "Expression"))
		}
		metric := Dig(m, "MetricStat", "Metric")
		dims := map[string]string{}
		for _, d := range asList(Dig(metric, "Dimensions")) {
			dims[fmt.Sprint(Dig(d, "Name"))] = Canonical(Dig(d, "Value"))
		}
		switch {
		case Dig(metric, "Namespace") == "AWS/SQS" && Dig(metric, "MetricName") == "ApproximateNumberOfMessagesVisible" &&
			dims["QueueName"] == getAtt("Queue", "QueueName"):
			visibleID = id
		case Dig(metric, "MetricName") == "RunningTaskCount" && dims["ServiceName"] == getAtt("Service", "Name"):
			tasksID = id
		}
	}
	switch {
	case visibleID == "":
		errs = append(errs, errors.New("scaling metrics do not read the source queue's ApproximateNumberOfMessagesVisible"))
	case tasksID == "":
		errs = append(errs, errors.New("scaling metrics do not read the service's RunningTaskCount"))
	case returning != 1 || strings.ReplaceAll(expr, " ", "") != visibleID+"/"+tasksID:
		errs = append(errs, fmt.Errorf("scaling returns %d series (last %q), want exactly one: %s / %s", returning, expr, visibleID, tasksID))
	}
	if tv, err := num(Dig(policy, "TargetTrackingScalingPolicyConfiguration", "TargetValue")); err != nil || tv <= 0 {
		errs = append(errs, errors.New("scaling target value must be a positive backlog per task"))
	}
	return errors.Join(errs...)
}

func ecsTaskGrants(r *Resolved) map[grant]bool { return workerGrants(r) }

func ecsExecutionGrants(r *Resolved) map[grant]bool {
	allowed := map[grant]bool{}
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		allowed[grant{a, getAtt("LogGroup", "Arn")}] = true
	}
	if repo := r.Params["EcrRepositoryArn"]; repo != "" {
		for _, a := range []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
			allowed[grant{a, Canonical(repo)}] = true
		}
		// ECR has no resource for GetAuthorizationToken: the one "*" allowed.
		allowed[grant{"ecr:GetAuthorizationToken", `"*"`}] = true
	}
	return allowed
}

func ecsMaxReceives(r *Resolved) string {
	return fmt.Sprint(containerEnv(r)["CASEBRIDGE_MAX_RECEIVES"])
}
