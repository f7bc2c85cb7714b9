package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

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
	sam, ecsc := samChecks(), ecsChecks(df.binaryPath)
	samUntyped := func(s *Stack, prop string, v any) { s.Untyped["Function"]["Events.Queue.Properties."+prop] = v }

	tests := []struct {
		name   string
		path   string
		check  check
		mutate func(t *testing.T, s *Stack)
	}{
		// Both templates: queues.
		{"SAM: DLQ keeps 4 days", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").MessageRetentionPeriod = ptr(345600)
		}},
		{"SAM: source queue keeps 4 days", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").MessageRetentionPeriod = ptr(345600)
		}},
		{"ECS: source queue keeps SQS's default", ecsPath, byName(ecsc, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").MessageRetentionPeriod = nil
		}},
		{"SAM: queue unencrypted", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").SqsManagedSseEnabled = nil
		}},
		{"SAM: maxReceiveCount 8", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").RedrivePolicy.(map[string]any)["maxReceiveCount"] = 8.0
		}},
		{"SAM: CASEBRIDGE_MAX_RECEIVES 10", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_MAX_RECEIVES"] = "10"
		}},
		{"SAM: standard DLQ behind a FIFO queue", samPath, byName(sam, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").FifoQueue = ptr(true)
		}},
		{"ECS: DLQ unencrypted", ecsPath, byName(ecsc, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").SqsManagedSseEnabled = ptr(false)
		}},
		{"ECS: redrive to the source queue", ecsPath, byName(ecsc, "queues"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").RedrivePolicy.(map[string]any)["deadLetterTargetArn"] = queueArn
		}},
		// Alarms.
		{"SAM: no DLQ alarm", samPath, byName(sam, "alarms"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "DeadLetterQueueDepthAlarm")
		}},
		{"SAM: DLQ alarm at 5 messages", samPath, byName(sam, "alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "DeadLetterQueueDepthAlarm").Threshold = ptr(5.0)
		}},
		{"ECS: age alarm on the DLQ", ecsPath, byName(ecsc, "alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "OldestMessageAgeAlarm").Dimensions[0].Value = cloudformation.GetAtt("DeadLetterQueue", "QueueName")
		}},
		{"SAM: no expiry alarm", samPath, byName(sam, "alarms"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "BacklogExpiryAlarm")
		}},
		{"SAM: expiry alarm on the DLQ", samPath, byName(sam, "alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Dimensions[0].Value = cloudformation.GetAtt("DeadLetterQueue", "QueueName")
		}},
		{"ECS: expiry alarm at retention itself", ecsPath, byName(ecsc, "alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Threshold = ptr(1209600.0)
		}},
		{"ECS: expiry alarm on the average age", ecsPath, byName(ecsc, "alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Statistic = ptr("Average")
		}},
		{"ECS: expiry alarm notifies nobody", ecsPath, byName(ecsc, "alarms"), func(t *testing.T, s *Stack) {
			s.Params["AlarmTopicArn"] = allOn["AlarmTopicArn"]
			for _, a := range s.GetAllCloudWatchAlarmResources() {
				a.AlarmActions = []string{allOn["AlarmTopicArn"]}
			}
			alarm(t, s, "BacklogExpiryAlarm").AlarmActions = nil
		}},
		// SAM function.
		{"SAM: x86_64", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Architectures = []string{"x86_64"}
		}},
		{"SAM: function Tracing ignores the parameter", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Tracing = nil
		}},
		{"SAM: Tracing Active without the X-Ray grant", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			s.Params["Tracing"] = "Active"
			function(t, s).Tracing = ptr("Active")
		}},
		{"SAM: collector layer, spans sent nowhere", samPath, byName(sam, "trace collector layer"), func(t *testing.T, s *Stack) {
			layerOn(t, s)
			delete(function(t, s).Environment.Variables, "OTEL_EXPORTER_OTLP_ENDPOINT")
		}},
		{"SAM: spans sent to a collector no layer runs", samPath, byName(sam, "trace collector layer"), func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318"
		}},
		{"SAM: a layer other than the parameter's", samPath, byName(sam, "trace collector layer"), func(t *testing.T, s *Stack) {
			layerOn(t, s)
			function(t, s).Layers = []string{"arn:aws:lambda:eu-west-1:123456789012:layer:other:1"}
		}},
		{"SAM: go1.x runtime", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Runtime = ptr("go1.x")
		}},
		{"SAM: no ReportBatchItemFailures", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "Events.Queue.Properties.FunctionResponseTypes")
		}},
		{"SAM: no MaximumConcurrency", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "Events.Queue.Properties.ScalingConfig")
		}},
		{"SAM: batch of 100", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent.BatchSize = ptr(100)
		}},
		{"SAM: visibility 5 x timeout", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").VisibilityTimeout = ptr(300)
		}},
		{"SAM: visibility ignores batching window", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			samUntyped(s, "MaximumBatchingWindowInSeconds", 20.0)
			queue(t, s, "Queue").VisibilityTimeout = ptr(360)
		}},
		{"SAM: SAM policies beside the role", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Policies = &serverless.Function_Policies{String: ptr("AmazonSQSFullAccess")}
		}},
		{"SAM: event source on the DLQ", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent.Queue = dlqArn
		}},
		{"SAM: event properties goformation cannot read", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent = nil
		}},
		{"SAM: logs to the default log group", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "LoggingConfig")
		}},
		{"SAM: CASEBRIDGE_DLQ_URL is the source queue", samPath, byName(sam, "function"), func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_DLQ_URL"] = cloudformation.Ref("Queue")
		}},
		// Least privilege.
		{"SAM: resource *", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 2)["Resource"] = "*" // SendMessage anywhere
		}},
		{"SAM: sqs:* on the queue", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 1)["Action"] = "sqs:*"
		}},
		{"SAM: SendMessage on the source queue too", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 2)["Resource"] = []any{dlqArn, queueArn}
		}},
		{"SAM: UpdateCase in every domain", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 3)["Resource"].([]any)[1] = cloudformation.Sub("arn:${AWS::Partition}:cases:${AWS::Region}:${AWS::AccountId}:domain/*")
		}},
		{"SAM: managed policy", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			r, _ := s.GetIAMRoleWithName("FunctionRole")
			r.ManagedPolicyArns = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
		}},
		{"SAM: UpdateCase missing", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 3)["Action"] = "cases:GetCase"
		}},
		{"SAM: Deny statement", samPath, byName(sam, "function role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 0)["Effect"] = "Deny"
		}},
		{"ECS: cases:* in the domain", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "TaskRole", 2)["Action"] = "cases:*"
		}},
		{"ECS: field catalog granted while off", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "cases:ListFields", "Resource": cloudformation.Sub(domainARN(s))})
		}},
		{"ECS: NotResource", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			st := statement(t, s, "TaskRole", 1)
			st["NotResource"], st["Resource"] = st["Resource"], nil
		}},
		{"ECS: execution role gets * without ECR", ecsPath, byName(ecsc, "execution role least privilege"), func(t *testing.T, s *Stack) {
			statement(t, s, "ExecutionRole", 0)["Resource"] = "*"
		}},
		// ECS trace collector.
		{"ECS: collector on without the X-Ray grant", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			dropStatement(t, s, "TaskRole", "WriteTraces")
		}},
		{"ECS: X-Ray granted without the collector", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"})
		}},
		{"ECS: collector reads X-Ray sampling too", ecsPath, byName(ecsc, "task role least privilege"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			addStatement(t, s, "TaskRole", map[string]any{"Effect": "Allow", "Action": "xray:GetSamplingRules", "Resource": "*"})
		}},
		{"ECS: collector image unpinned", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Image = collectorImage + "latest"
		}},
		{"ECS: collector essential", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Essential = ptr(true)
		}},
		{"ECS: collector with the default configuration (metrics to CloudWatch Logs)", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			collector(t, s).Command = []string{"--config=/etc/ecs/ecs-default-config.yaml"}
		}},
		{"ECS: worker exports nowhere beside the collector", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			setEnv(t, s, "OTEL_EXPORTER_OTLP_ENDPOINT", "")
		}},
		{"ECS: worker exports without a collector", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			c := container(t, s)
			c.Environment = append(c.Environment, ecs.TaskDefinition_KeyValuePair{Name: ptr("OTEL_EXPORTER_OTLP_ENDPOINT"), Value: ptr("http://localhost:4318")})
		}},
		{"ECS: worker starts before the collector", ecsPath, byName(ecsc, "trace collector"), func(t *testing.T, s *Stack) {
			collectorOn(t, s)
			container(t, s).DependsOnProp = nil
		}},
		// ECS task.
		{"ECS: stopTimeout = grace", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			container(t, s).StopTimeout = ptr(25)
		}},
		{"ECS: stopTimeout above Fargate's max", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			container(t, s).StopTimeout = ptr(150)
			setEnv(t, s, "CASEBRIDGE_SHUTDOWN_GRACE", "140s")
		}},
		{"ECS: grace raised to 45s", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			setEnv(t, s, "CASEBRIDGE_SHUTDOWN_GRACE", "45s")
		}},
		{"ECS: CASEBRIDGE_MAX_HOLD missing", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			c := container(t, s)
			for i := range c.Environment {
				if val(c.Environment[i].Name) == "CASEBRIDGE_MAX_HOLD" {
					c.Environment[i].Name = ptr("MAX_HOLD")
				}
			}
		}},
		{"ECS: queue URL is the DLQ", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			setEnv(t, s, "CASEBRIDGE_QUEUE_URL", cloudformation.Ref("DeadLetterQueue"))
		}},
		{"ECS: json-file logs", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			container(t, s).LogConfiguration.LogDriver = "json-file"
		}},
		{"ECS: curl health check", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			container(t, s).HealthCheck.Command = []string{"CMD-SHELL", "curl -f http://localhost:8080/healthz"}
		}},
		{"ECS: no task role", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.TaskRoleArn = nil
		}},
		{"ECS: EC2 task", ecsPath, byName(ecsc, "task"), func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.RequiresCompatibilities = []string{"EC2"}
		}},
		// ECS scaling.
		{"ECS: scaling on the DLQ", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "visible").MetricStat.Metric.Dimensions[0].Value = ptr(cloudformation.GetAtt("DeadLetterQueue", "QueueName"))
		}},
		{"ECS: scaling on raw depth, no hold", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "backlogpertask").Expression = ptr("visible")
		}},
		{"ECS: inverted ratio", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "backlogpertask").Expression = ptr("IF(quotabound, 600, tasks / visible)")
		}},
		{"ECS: backlog per task without the quota hold", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "backlogpertask").Expression = ptr("visible / tasks")
		}},
		{"ECS: the hold scales in instead", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "backlogpertask").Expression = ptr("IF(quotabound, 0, visible / tasks)")
		}},
		{"ECS: hold ignores throttling", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "quotabound").Expression = ptr("IF((FILL(applied, 0) * 100 >= 2 * 80 * 60) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")
		}},
		{"ECS: hold ignores the quota", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "quotabound").Expression = ptr("IF(((FILL(calls, 0) - FILL(applied, 0) - FILL(rejected, 0)) * 100 > 5 * FILL(calls, 0)) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")
		}},
		{"ECS: hold counts rejected messages as throttled", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "quotabound").Expression = ptr("IF((FILL(applied, 0) * 100 >= 2 * 80 * 60) OR ((FILL(calls, 0) - FILL(applied, 0)) * 100 > 5 * FILL(calls, 0)) OR (visible > 0 AND FILL(calls, 0) == 0), 1, 0)")
		}},
		{"ECS: hold never lifts", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "quotabound").Expression = ptr("1")
		}},
		{"ECS: quota signal from the wrong log metric", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "applied").MetricStat.Metric.MetricName = ptr("Applid")
		}},
		{"ECS: two series returned", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			metric(t, s, "visible").ReturnData = ptr(true)
		}},
		{"ECS: fixed max capacity", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.MaxCapacity = 50
		}},
		{"ECS: min capacity above max", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.MinCapacity, st.MaxCapacity = 3, 2
			s.Params["MinTasks"], s.Params["MaxTasks"] = "3", "2"
		}},
		{"ECS: scheduled action raises the max", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			st.ScheduledActions = []applicationautoscaling.ScalableTarget_ScheduledAction{{ScheduledActionName: "busy", Schedule: "cron(0 8 * * ? *)",
				ScalableTargetAction: &applicationautoscaling.ScalableTarget_ScalableTargetAction{MaxCapacity: ptr(20)}}}
		}},
		{"ECS: a second scalable target on the service", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			st, _ := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget")
			cp := *st
			cp.MaxCapacity = 20
			s.Resources["ScalableTarget2"] = &cp
		}},
		{"ECS: a step policy beside the target tracking one", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			p := *s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"]
			p.PolicyType, p.TargetTrackingScalingPolicyConfiguration = "StepScaling", nil
			s.Resources["StepOut"] = &p
		}},
		{"ECS: DesiredCount on the service", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			svc, _ := s.GetECSServiceWithName("Service")
			svc.DesiredCount = ptr(5)
		}},
		{"ECS: step scaling", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"].PolicyType = "StepScaling"
		}},
		{"ECS: target value is not BacklogPerTaskTarget", ecsPath, byName(ecsc, "scaling"), func(t *testing.T, s *Stack) {
			s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"].TargetTrackingScalingPolicyConfiguration.TargetValue = 60
		}},
		// Issue 15: queues survive the stack and take TLS only.
		{"SAM: DLQ deleted with the stack", samPath, byName(sam, "queue safety"), func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").AWSCloudFormationDeletionPolicy = ""
		}},
		{"ECS: DLQ replaced without Retain", ecsPath, byName(ecsc, "queue safety"), func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").AWSCloudFormationUpdateReplacePolicy = "Delete"
		}},
		{"SAM: no queue policy", samPath, byName(sam, "queue safety"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "QueuePolicy")
		}},
		{"ECS: TLS-only policy misses the DLQ", ecsPath, byName(ecsc, "queue safety"), func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			qp.Queues = []string{cloudformation.Ref("Queue")}
		}},
		{"SAM: TLS deny on SecureTransport true", samPath, byName(sam, "queue safety"), func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			dig(qp.PolicyDocument, "Statement").([]any)[0].(map[string]any)["Condition"] = map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}
		}},
		{"ECS: queue policy lets anyone send", ecsPath, byName(ecsc, "queue safety"), func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			doc := qp.PolicyDocument.(map[string]any)
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": queueArn})
		}},
		// Publisher access.
		{"SAM: publisher policy sends to the DLQ", samPath, byName(sam, "publisher access"), func(t *testing.T, s *Stack) {
			p, _ := s.GetIAMManagedPolicyWithName("PublisherPolicy")
			dig(p.PolicyDocument, "Statement").([]any)[0].(map[string]any)["Resource"] = dlqArn
		}},
		{"ECS: publisher policy not exported", ecsPath, byName(ecsc, "publisher access"), func(t *testing.T, s *Stack) {
			o := s.Outputs["PublisherPolicyArn"]
			o.Export = nil
			s.Outputs["PublisherPolicyArn"] = o
		}},
		// Alarms that tell the truth.
		{"SAM: an alarm without OKActions", samPath, byName(sam, "alarm safety"), func(t *testing.T, s *Stack) {
			for _, a := range s.GetAllCloudWatchAlarmResources() {
				a.AlarmActions = []string{allOn["AlarmTopicArn"]}
				a.OKActions = []string{allOn["AlarmTopicArn"]}
			}
			alarm(t, s, "DeadLetterQueueDepthAlarm").OKActions = nil
		}},
		{"SAM: arrivals alarm misses native redrive", samPath, byName(sam, "alarm safety"), func(t *testing.T, s *Stack) {
			a := alarm(t, s, "DeadLetterQueueArrivalsAlarm")
			a.Metrics[2].Expression = ptr("FILL(sent, 0)")
		}},
		{"ECS: arrivals alarm misses casebridge's sends", ecsPath, byName(ecsc, "alarm safety"), func(t *testing.T, s *Stack) {
			a := alarm(t, s, "DeadLetterQueueArrivalsAlarm")
			a.Metrics[2].Expression = ptr("IF(DIFF(depth) > 0, DIFF(depth), 0)")
		}},
		{"ECS: no DLQ age alarm", ecsPath, byName(ecsc, "alarm safety"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "DeadLetterQueueAgeAlarm")
		}},
		{"SAM: DLQ age alarm at 14 days", samPath, byName(sam, "alarm safety"), func(t *testing.T, s *Stack) {
			alarm(t, s, "DeadLetterQueueAgeAlarm").Threshold = ptr(1209600.0)
		}},
		{"SAM: no Errors alarm", samPath, byName(sam, "lambda alarms"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "FunctionErrorsAlarm")
		}},
		{"SAM: Throttles alarm on another function", samPath, byName(sam, "lambda alarms"), func(t *testing.T, s *Stack) {
			alarm(t, s, "FunctionThrottlesAlarm").Dimensions[0].Value = "other"
		}},
		{"ECS: no running tasks alarm", ecsPath, byName(ecsc, "running tasks alarm"), func(t *testing.T, s *Stack) {
			delete(s.Resources, "RunningTasksAlarm")
		}},
		{"ECS: running tasks alarm ignores missing data", ecsPath, byName(ecsc, "running tasks alarm"), func(t *testing.T, s *Stack) {
			alarm(t, s, "RunningTasksAlarm").TreatMissingData = ptr("notBreaching")
		}},
		// Settings that deploy and run.
		{"SAM: batching window on FIFO", samPath, byName(sam, "function safety"), func(t *testing.T, s *Stack) {
			s.Params["FifoQueue"] = "true"
			samUntyped(s, "MaximumBatchingWindowInSeconds", 0.0)
		}},
		{"SAM: user ARNs allowed without DescribeUser", samPath, byName(sam, "function safety"), func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_PERFORMED_BY_USER_ARN"] = "allow"
		}},
		{"SAM: no log group output", samPath, byName(sam, "function safety"), func(t *testing.T, s *Stack) {
			delete(s.Outputs, "FunctionLogGroupName")
		}},
		{"ECS: 512 CPU with 512 MiB", ecsPath, byName(ecsc, "task safety"), func(t *testing.T, s *Stack) {
			td, _ := s.GetECSTaskDefinitionWithName("TaskDefinition")
			td.Cpu = ptr("512")
		}},
		{"ECS: user ARN setting left to the default", ecsPath, byName(ecsc, "task safety"), func(t *testing.T, s *Stack) {
			c := container(t, s)
			c.Environment = slices.DeleteFunc(c.Environment, func(e ecs.TaskDefinition_KeyValuePair) bool {
				return val(e.Name) == "CASEBRIDGE_PERFORMED_BY_USER_ARN"
			})
		}},
		// ECS log metric filters.
		{"ECS: applied counts every outcome", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").FilterPattern = `{ $.msg = "message outcome" }`
		}},
		{"ECS: rejected counts retries-exhausted", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "RejectedCallsMetricFilter").FilterPattern = `{ $.msg = "message outcome" && $.outcome = "dead-lettered" }`
		}},
		{"ECS: calls counts messages, not attempts", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "UpdateCaseCallsMetricFilter").MetricTransformations[0].MetricValue = "1"
		}},
		{"ECS: filter on another log group", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").LogGroupName = "/aws/other"
		}},
		{"ECS: no default value (series miss minutes)", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "UpdateCaseCallsMetricFilter").MetricTransformations[0].DefaultValue = nil
		}},
		{"ECS: filter publishes to a shared namespace", ecsPath, byName(ecsc, "log metric filters"), func(t *testing.T, s *Stack) {
			metricFilter(t, s, "AppliedMetricFilter").MetricTransformations[0].MetricNamespace = "casebridge"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustLoad(t, tt.path, paramsFor(declared(t, tt.path), nil))
			if err := tt.check.fn(s); err != nil {
				t.Fatalf("unbroken template already fails %s: %v", tt.check.name, err)
			}
			tt.mutate(t, s)
			err := tt.check.fn(s)
			if err == nil {
				t.Fatalf("check %s passed a template with %s", tt.check.name, tt.name)
			}
			t.Logf("caught: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
		})
	}
}

// TestUnconditionalOptionalGrantIsCaught breaks the template source: a
// field-catalog grant whose condition is always true must fail the grant
// check with the feature off.
func TestUnconditionalOptionalGrantIsCaught(t *testing.T) {
	t.Parallel()
	const cond = `FieldCatalogOn: !Equals [!Ref FieldCatalog, "on"]`
	for _, tc := range []struct{ path, role string }{{samPath, "FunctionRole"}, {ecsPath, "TaskRole"}} {
		data, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), cond) {
			t.Fatalf("%s: no %q to break", tc.path, cond)
		}
		broken := strings.Replace(string(data), cond, `FieldCatalogOn: !Equals ["on", "on"]`, 1)
		s, err := Load([]byte(broken), paramsFor(declared(t, tc.path), nil))
		if err != nil {
			t.Fatal(err)
		}
		allowed := workerGrants(s)
		if tc.role == "FunctionRole" {
			allowed = samGrants(s)
		}
		if err := checkGrants(s, tc.role, allowed); err == nil || !strings.Contains(err.Error(), "cases:ListFields") {
			t.Errorf("%s: unconditional field-catalog grant not caught: %v", tc.path, err)
		}
	}
}
