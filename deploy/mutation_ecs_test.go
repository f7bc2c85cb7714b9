package deploy

import (
	"slices"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
)

// setMetricExpression is a mutation that rewrites one metric math expression
// of the scaling policy: most scaling rows break the policy's arithmetic.
func setMetricExpression(id, expr string) func(t *testing.T, s *Stack) {
	return func(t *testing.T, s *Stack) {
		metric(t, s, id).Expression = ptr(expr)
	}
}

// ecsBrokenTemplates: each row breaks the ECS template in one way a check of
// ecsChecks must catch (TestChecksCatchBrokenTemplates).
func ecsBrokenTemplates() []brokenTemplate {
	return []brokenTemplate{
		// Queues.
		{"ECS: source queue keeps SQS's default", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").MessageRetentionPeriod = nil
		}},
		{"ECS: DLQ unencrypted", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").SqsManagedSseEnabled = ptr(false)
		}},
		{"ECS: redrive to the source queue", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").RedrivePolicy.(map[string]any)["deadLetterTargetArn"] = queueArn
		}},
		// Alarms.
		{"ECS: age alarm on the DLQ", "alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "OldestMessageAgeAlarm").Dimensions[0].Value = cloudformation.GetAtt("DeadLetterQueue", "QueueName")
		}},
		{"ECS: expiry alarm at retention itself", "alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Threshold = ptr(1209600.0)
		}},
		{"ECS: expiry alarm on the average age", "alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Statistic = ptr("Average")
		}},
		{"ECS: expiry alarm notifies nobody", "alarms", func(t *testing.T, s *Stack) {
			s.Params["AlarmTopicArn"] = allOn["AlarmTopicArn"]
			for _, a := range s.GetAllCloudWatchAlarmResources() {
				a.AlarmActions = []string{allOn["AlarmTopicArn"]}
			}
			alarm(t, s, "BacklogExpiryAlarm").AlarmActions = nil
		}},
		// Least privilege.
		{"ECS: cases:* in the domain", "task role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "TaskRole", 2)["Action"] = "cases:*"
		}},
		{"ECS: field catalog granted while off", "task role least privilege", func(t *testing.T, s *Stack) {
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "cases:ListFields", "Resource": cloudformation.Sub(domainARN(s))})
		}},
		{"ECS: NotResource", "task role least privilege", func(t *testing.T, s *Stack) {
			st := statement(t, s, "TaskRole", 1)
			st["NotResource"], st["Resource"] = st["Resource"], nil
		}},
		{"ECS: execution role gets * without ECR", "execution role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "ExecutionRole", 0)["Resource"] = "*"
		}},
		// Trace collector.
		{"ECS: collector on without the X-Ray grant", "task role least privilege", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			dropStatement(t, s, "TaskRole", "WriteTraces")
		}},
		{"ECS: X-Ray granted without the collector", "task role least privilege", func(t *testing.T, s *Stack) {
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"})
		}},
		{"ECS: collector reads X-Ray sampling too", "task role least privilege", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "xray:GetSamplingRules", "Resource": "*"})
		}},
		{"ECS: collector image unpinned", "trace collector", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Image = collectorImage + "latest"
		}},
		{"ECS: collector essential", "trace collector", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Essential = ptr(true)
		}},
		{"ECS: collector with the default configuration (metrics to CloudWatch Logs)", "trace collector", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Command = []string{"--config=/etc/ecs/ecs-default-config.yaml"}
		}},
		{"ECS: worker exports nowhere beside the collector", "trace collector", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			setEnv(t, s, "OTEL_EXPORTER_OTLP_ENDPOINT", "")
		}},
		{"ECS: worker exports without a collector", "trace collector", func(t *testing.T, s *Stack) {
			c := container(t, s)
			c.Environment = append(c.Environment, ecs.TaskDefinition_KeyValuePair{Name: ptr("OTEL_EXPORTER_OTLP_ENDPOINT"), Value: ptr("http://localhost:4318")})
		}},
		{"ECS: worker starts before the collector", "trace collector", func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			container(t, s).DependsOnProp = nil
		}},
		// Task.
		{"ECS: stopTimeout = grace", "task", func(t *testing.T, s *Stack) {
			container(t, s).StopTimeout = ptr(25)
		}},
		{"ECS: stopTimeout above Fargate's max", "task", func(t *testing.T, s *Stack) {
			container(t, s).StopTimeout = ptr(150)
			setEnv(t, s, "CASEBRIDGE_SHUTDOWN_GRACE", "140s")
		}},
		{"ECS: grace raised to 45s", "task", func(t *testing.T, s *Stack) {
			setEnv(t, s, "CASEBRIDGE_SHUTDOWN_GRACE", "45s")
		}},
		{"ECS: CASEBRIDGE_MAX_HOLD missing", "task", func(t *testing.T, s *Stack) {
			c := container(t, s)
			for i := range c.Environment {
				if val(c.Environment[i].Name) == "CASEBRIDGE_MAX_HOLD" {
					c.Environment[i].Name = ptr("MAX_HOLD")
				}
			}
		}},
		{"ECS: queue URL is the DLQ", "task", func(t *testing.T, s *Stack) {
			setEnv(t, s, "CASEBRIDGE_QUEUE_URL", cloudformation.Ref("DeadLetterQueue"))
		}},
		{"ECS: json-file logs", "task", func(t *testing.T, s *Stack) {
			container(t, s).LogConfiguration.LogDriver = "json-file"
		}},
		{"ECS: curl health check", "task", func(t *testing.T, s *Stack) {
			container(t, s).HealthCheck.Command = []string{"CMD-SHELL", "curl -f http://localhost:8080/healthz"}
		}},
		{"ECS: no task role", "task", func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.TaskRoleArn = nil
		}},
		{"ECS: EC2 task", "task", func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.RequiresCompatibilities = []string{"EC2"}
		}},
		// Scaling.
		{"ECS: scaling on the DLQ", "scaling", func(t *testing.T, s *Stack) {
			metric(t, s, "visible").MetricStat.Metric.Dimensions[0].Value = ptr(cloudformation.GetAtt("DeadLetterQueue", "QueueName"))
		}},
		{"ECS: scaling on raw depth, no hold", "scaling", setMetricExpression("backlogpertask", "visible")},
		{"ECS: inverted ratio", "scaling", setMetricExpression("backlogpertask", "IF(quotabound, 600, tasks / visible)")},
		{"ECS: backlog per task without the quota hold", "scaling", setMetricExpression("backlogpertask", "visible / tasks")},
		{"ECS: the hold scales in instead", "scaling", setMetricExpression("backlogpertask", "IF(quotabound, 0, visible / tasks)")},
		{"ECS: hold ignores throttling", "scaling", setMetricExpression("quotabound", "IF((FILL(applied, 0) * 100 >= 2 * 80 * 60) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")},
		{"ECS: hold ignores the quota", "scaling", setMetricExpression("quotabound", "IF(((FILL(calls, 0) - FILL(applied, 0) - FILL(rejected, 0)) * 100 > 5 * FILL(calls, 0)) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")},
		{"ECS: hold counts rejected messages as throttled", "scaling", setMetricExpression("quotabound", "IF((FILL(applied, 0) * 100 >= 2 * 80 * 60) OR ((FILL(calls, 0) - FILL(applied, 0)) * 100 > 5 * FILL(calls, 0)) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")},
		{"ECS: hold never lifts", "scaling", setMetricExpression("quotabound", "1")},
		{"ECS: quota signal from the wrong log metric", "scaling", func(t *testing.T, s *Stack) {
			metric(t, s, "applied").MetricStat.Metric.MetricName = ptr("Applid")
		}},
		{"ECS: two series returned", "scaling", func(t *testing.T, s *Stack) {
			metric(t, s, "visible").ReturnData = ptr(true)
		}},
		{"ECS: fixed max capacity", "scaling", func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.MaxCapacity = 50
		}},
		{"ECS: min capacity above max", "scaling", func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.MinCapacity, st.MaxCapacity = 3, 2
			s.Params["MinTasks"], s.Params["MaxTasks"] = "3", "2"
		}},
		{"ECS: scheduled action raises the max", "scaling", func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.ScheduledActions = []applicationautoscaling.ScalableTarget_ScheduledAction{{ScheduledActionName: "busy", Schedule: "cron(0 8 * * ? *)",
				ScalableTargetAction: &applicationautoscaling.ScalableTarget_ScalableTargetAction{MaxCapacity: ptr(20)}}}
		}},
		{"ECS: a second scalable target on the service", "scaling", func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			cp := *st
			cp.MaxCapacity = 20
			s.Resources["ScalableTarget2"] = &cp
		}},
		{"ECS: a step policy beside the target tracking one", "scaling", func(t *testing.T, s *Stack) {
			p := *s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"]
			p.PolicyType, p.TargetTrackingScalingPolicyConfiguration = "StepScaling", nil
			s.Resources["StepOut"] = &p
		}},
		{"ECS: DesiredCount on the service", "scaling", func(t *testing.T, s *Stack) {
			svc, _ := s.GetECSServiceWithName("Service")
			svc.DesiredCount = ptr(5)
		}},
		{"ECS: step scaling", "scaling", func(t *testing.T, s *Stack) {
			s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"].PolicyType = "StepScaling"
		}},
		{"ECS: target value is not BacklogPerTaskTarget", "scaling", func(t *testing.T, s *Stack) {
			s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"].TargetTrackingScalingPolicyConfiguration.TargetValue = 60
		}},
		// Issue 15: queues survive the stack and take TLS only.
		{"ECS: DLQ replaced without Retain", "queue safety", func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").AWSCloudFormationUpdateReplacePolicy = "Delete"
		}},
		{"ECS: TLS-only policy misses the DLQ", "queue safety", func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			qp.Queues = []string{cloudformation.Ref("Queue")}
		}},
		{"ECS: queue policy lets anyone send", "queue safety", func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			doc := qp.PolicyDocument.(map[string]any)
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": queueArn})
		}},
		// Publisher access.
		{"ECS: publisher policy not exported", "publisher access", func(t *testing.T, s *Stack) {
			o := s.Outputs["PublisherPolicyArn"]
			o.Export = nil
			s.Outputs["PublisherPolicyArn"] = o
		}},
		// Alarms that tell the truth.
		{"ECS: arrivals alarm misses casebridge's sends", "alarm safety", func(t *testing.T, s *Stack) {
			a := alarm(t, s, "DeadLetterQueueArrivalsAlarm")
			a.Metrics[2].Expression = ptr("IF(DIFF(depth) > 0, DIFF(depth), 0)")
		}},
		{"ECS: no DLQ age alarm", "alarm safety", func(t *testing.T, s *Stack) {
			delete(s.Resources, "DeadLetterQueueAgeAlarm")
		}},
		{"ECS: no running tasks alarm", "running tasks alarm", func(t *testing.T, s *Stack) {
			delete(s.Resources, "RunningTasksAlarm")
		}},
		{"ECS: running tasks alarm ignores missing data", "running tasks alarm", func(t *testing.T, s *Stack) {
			alarm(t, s, "RunningTasksAlarm").TreatMissingData = ptr("notBreaching")
		}},
		// Settings that deploy and run.
		{"ECS: 512 CPU with 512 MiB", "task safety", func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.Cpu = ptr("512")
		}},
		{"ECS: user ARN setting left to the default", "task safety", func(t *testing.T, s *Stack) {
			c := container(t, s)
			c.Environment = slices.DeleteFunc(c.Environment, func(e ecs.TaskDefinition_KeyValuePair) bool {
				return val(e.Name) == "CASEBRIDGE_PERFORMED_BY_USER_ARN"
			})
		}},
		// Log metric filters.
		{"ECS: applied counts every outcome", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").FilterPattern = `{ $.msg = "message outcome" }`
		}},
		{"ECS: rejected counts retries-exhausted", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "RejectedCallsMetricFilter").FilterPattern = `{ $.msg = "message outcome" && $.outcome = "dead-lettered" }`
		}},
		{"ECS: calls counts messages, not attempts", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "UpdateCaseCallsMetricFilter").MetricTransformations[0].MetricValue = "1"
		}},
		{"ECS: filter on another log group", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").LogGroupName = "/aws/other"
		}},
		{"ECS: no default value (series miss minutes)", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "UpdateCaseCallsMetricFilter").MetricTransformations[0].DefaultValue = nil
		}},
		{"ECS: filter publishes to a shared namespace", "log metric filters", func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").MetricTransformations[0].MetricNamespace = "casebridge"
		}},
	}
}
