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
	"CASEBRIDGE_LOG_LEVEL", "CASEBRIDGE_FIELD_CATALOG",
}

func workerContainer(s *Stack) (*ecs.TaskDefinition_ContainerDefinition, error) {
	td, err := s.GetECSTaskDefinitionWithName("TaskDefinition")
	if err != nil {
		return nil, err
	}
	if len(td.ContainerDefinitions) != 1 {
		return nil, fmt.Errorf("task definition has %d containers, want the worker alone", len(td.ContainerDefinitions))
	}
	return &td.ContainerDefinitions[0], nil
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

// checkECSScaling: target tracking on backlog per task, i.e. the source
// queue's visible messages divided by the service's running tasks.
func checkECSScaling(s *Stack) error {
	var errs []error
	target, err := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
	if err != nil {
		return err
	}
	if target.ScalableDimension != "ecs:service:DesiredCount" {
		errs = append(errs, errors.New("scalable target does not scale the service's desired count"))
	}
	if !strings.Contains(target.ResourceId, cloudformation.GetAtt("Service", "Name")) {
		errs = append(errs, errors.New("scalable target is not the worker service"))
	}
	if fmt.Sprint(target.MinCapacity) != s.Params["MinTasks"] || fmt.Sprint(target.MaxCapacity) != s.Params["MaxTasks"] {
		errs = append(errs, errors.New("scalable target capacity is not MinTasks..MaxTasks"))
	}
	var cfg *applicationautoscaling.ScalingPolicy_TargetTrackingScalingPolicyConfiguration
	for _, p := range s.GetAllApplicationAutoScalingScalingPolicyResources() {
		if val(p.ScalingTargetId) == cloudformation.Ref("ScalableTarget") && p.PolicyType == "TargetTrackingScaling" {
			cfg = p.TargetTrackingScalingPolicyConfiguration
		}
	}
	if cfg == nil || cfg.CustomizedMetricSpecification == nil {
		return errors.Join(append(errs, errors.New("no target tracking policy with a customized metric on the scalable target"))...)
	}
	var visibleID, tasksID, expr string
	returning := 0
	for _, m := range cfg.CustomizedMetricSpecification.Metrics {
		if val(m.ReturnData) {
			returning++
			expr = val(m.Expression)
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
			dims["QueueName"] == cloudformation.GetAtt("Queue", "QueueName"):
			visibleID = val(m.Id)
		case val(metric.MetricName) == "RunningTaskCount" && dims["ServiceName"] == cloudformation.GetAtt("Service", "Name"):
			tasksID = val(m.Id)
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
	if cfg.TargetValue <= 0 {
		errs = append(errs, errors.New("scaling target value must be a positive backlog per task"))
	}
	return errors.Join(errs...)
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
