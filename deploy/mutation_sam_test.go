package deploy

import (
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

// setQueueEventProperty sets a property of the function's SQS event source
// where the checks read it: in Stack.Untyped, as goformation's type has no
// field for it.
func setQueueEventProperty(s *Stack, prop string, v any) {
	s.Untyped["Function"]["Events.Queue.Properties."+prop] = v
}

// samBrokenTemplates: each row breaks the Lambda (SAM) template in one way
// a check of samChecks must catch (TestChecksCatchBrokenTemplates).
func samBrokenTemplates() []brokenTemplate {
	return []brokenTemplate{
		// Queues.
		{"SAM: DLQ keeps 4 days", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").MessageRetentionPeriod = ptr(345600)
		}},
		{"SAM: source queue keeps 4 days", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").MessageRetentionPeriod = ptr(345600)
		}},
		{"SAM: queue unencrypted", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").SqsManagedSseEnabled = nil
		}},
		{"SAM: maxReceiveCount 8", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").RedrivePolicy.(map[string]any)["maxReceiveCount"] = 8.0
		}},
		{"SAM: CASEBRIDGE_MAX_RECEIVES 10", "queues", func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_MAX_RECEIVES"] = "10"
		}},
		{"SAM: standard DLQ behind a FIFO queue", "queues", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").FifoQueue = ptr(true)
		}},
		// Alarms.
		{"SAM: no DLQ alarm", "alarms", func(t *testing.T, s *Stack) {
			delete(s.Resources, "DeadLetterQueueDepthAlarm")
		}},
		{"SAM: DLQ alarm at 5 messages", "alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "DeadLetterQueueDepthAlarm").Threshold = ptr(5.0)
		}},
		{"SAM: no expiry alarm", "alarms", func(t *testing.T, s *Stack) {
			delete(s.Resources, "BacklogExpiryAlarm")
		}},
		{"SAM: expiry alarm on the DLQ", "alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "BacklogExpiryAlarm").Dimensions[0].Value = cloudformation.GetAtt("DeadLetterQueue", "QueueName")
		}},
		// Function.
		{"SAM: x86_64", "function", func(t *testing.T, s *Stack) {
			function(t, s).Architectures = []string{"x86_64"}
		}},
		{"SAM: function Tracing ignores the parameter", "function", func(t *testing.T, s *Stack) {
			function(t, s).Tracing = nil
		}},
		{"SAM: Tracing Active without the X-Ray grant", "function role least privilege", func(t *testing.T, s *Stack) {
			s.Params["Tracing"] = "Active"
			function(t, s).Tracing = ptr("Active")
		}},
		{"SAM: collector layer, spans sent nowhere", "trace collector layer", func(t *testing.T, s *Stack) {
			layerOn(t, s)
			delete(function(t, s).Environment.Variables, "OTEL_EXPORTER_OTLP_ENDPOINT")
		}},
		{"SAM: spans sent to a collector no layer runs", "trace collector layer", func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318"
		}},
		{"SAM: a layer other than the parameter's", "trace collector layer", func(t *testing.T, s *Stack) {
			layerOn(t, s)
			function(t, s).Layers = []string{"arn:aws:lambda:eu-west-1:123456789012:layer:other:1"}
		}},
		{"SAM: go1.x runtime", "function", func(t *testing.T, s *Stack) {
			function(t, s).Runtime = ptr("go1.x")
		}},
		{"SAM: no ReportBatchItemFailures", "function", func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "Events.Queue.Properties.FunctionResponseTypes")
		}},
		{"SAM: no MaximumConcurrency", "function", func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "Events.Queue.Properties.ScalingConfig")
		}},
		{"SAM: batch of 100", "function", func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent.BatchSize = ptr(100)
		}},
		{"SAM: visibility 5 x timeout", "function", func(t *testing.T, s *Stack) {
			queue(t, s, "Queue").VisibilityTimeout = ptr(300)
		}},
		{"SAM: visibility ignores batching window", "function", func(t *testing.T, s *Stack) {
			setQueueEventProperty(s, "MaximumBatchingWindowInSeconds", 20.0)
			queue(t, s, "Queue").VisibilityTimeout = ptr(360)
		}},
		{"SAM: SAM policies beside the role", "function", func(t *testing.T, s *Stack) {
			function(t, s).Policies = &serverless.Function_Policies{String: ptr("AmazonSQSFullAccess")}
		}},
		{"SAM: event source on the DLQ", "function", func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent.Queue = dlqArn
		}},
		{"SAM: event properties goformation cannot read", "function", func(t *testing.T, s *Stack) {
			function(t, s).Events["Queue"].Properties.SQSEvent = nil
		}},
		{"SAM: logs to the default log group", "function", func(t *testing.T, s *Stack) {
			delete(s.Untyped["Function"], "LoggingConfig")
		}},
		{"SAM: CASEBRIDGE_DLQ_URL is the source queue", "function", func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_DLQ_URL"] = cloudformation.Ref("Queue")
		}},
		// Least privilege.
		{"SAM: resource *", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 2)["Resource"] = "*" // SendMessage anywhere
		}},
		{"SAM: sqs:* on the queue", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 1)["Action"] = "sqs:*"
		}},
		{"SAM: SendMessage on the source queue too", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 2)["Resource"] = []any{dlqArn, queueArn}
		}},
		{"SAM: UpdateCase in every domain", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 3)["Resource"].([]any)[1] = cloudformation.Sub("arn:${AWS::Partition}:cases:${AWS::Region}:${AWS::AccountId}:domain/*")
		}},
		{"SAM: managed policy", "function role least privilege", func(t *testing.T, s *Stack) {
			r, _ := s.GetIAMRoleWithName("FunctionRole")
			r.ManagedPolicyArns = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
		}},
		{"SAM: UpdateCase missing", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 3)["Action"] = "cases:GetCase"
		}},
		{"SAM: Deny statement", "function role least privilege", func(t *testing.T, s *Stack) {
			statement(t, s, "FunctionRole", 0)["Effect"] = "Deny"
		}},
		// Issue 15: queues survive the stack and take TLS only.
		{"SAM: DLQ deleted with the stack", "queue safety", func(t *testing.T, s *Stack) {
			queue(t, s, "DeadLetterQueue").AWSCloudFormationDeletionPolicy = ""
		}},
		{"SAM: no queue policy", "queue safety", func(t *testing.T, s *Stack) {
			delete(s.Resources, "QueuePolicy")
		}},
		{"SAM: TLS deny on SecureTransport true", "queue safety", func(t *testing.T, s *Stack) {
			qp, _ := s.GetSQSQueuePolicyWithName("QueuePolicy")
			dig(qp.PolicyDocument, "Statement").([]any)[0].(map[string]any)["Condition"] = map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}
		}},
		// Publisher access.
		{"SAM: publisher policy sends to the DLQ", "publisher access", func(t *testing.T, s *Stack) {
			p, _ := s.GetIAMManagedPolicyWithName("PublisherPolicy")
			dig(p.PolicyDocument, "Statement").([]any)[0].(map[string]any)["Resource"] = dlqArn
		}},
		// Alarms that tell the truth.
		{"SAM: an alarm without OKActions", "alarm safety", func(t *testing.T, s *Stack) {
			for _, a := range s.GetAllCloudWatchAlarmResources() {
				a.AlarmActions = []string{allOn["AlarmTopicArn"]}
				a.OKActions = []string{allOn["AlarmTopicArn"]}
			}
			alarm(t, s, "DeadLetterQueueDepthAlarm").OKActions = nil
		}},
		{"SAM: arrivals alarm misses native redrive", "alarm safety", func(t *testing.T, s *Stack) {
			a := alarm(t, s, "DeadLetterQueueArrivalsAlarm")
			a.Metrics[2].Expression = ptr("FILL(sent, 0)")
		}},
		{"SAM: DLQ age alarm at 14 days", "alarm safety", func(t *testing.T, s *Stack) {
			alarm(t, s, "DeadLetterQueueAgeAlarm").Threshold = ptr(1209600.0)
		}},
		{"SAM: no Errors alarm", "lambda alarms", func(t *testing.T, s *Stack) {
			delete(s.Resources, "FunctionErrorsAlarm")
		}},
		{"SAM: Throttles alarm on another function", "lambda alarms", func(t *testing.T, s *Stack) {
			alarm(t, s, "FunctionThrottlesAlarm").Dimensions[0].Value = "other"
		}},
		// Settings that deploy and run.
		{"SAM: batching window on FIFO", "function safety", func(t *testing.T, s *Stack) {
			s.Params["FifoQueue"] = "true"
			setQueueEventProperty(s, "MaximumBatchingWindowInSeconds", 0.0)
		}},
		{"SAM: user ARNs allowed without DescribeUser", "function safety", func(t *testing.T, s *Stack) {
			function(t, s).Environment.Variables["CASEBRIDGE_PERFORMED_BY_USER_ARN"] = "allow"
		}},
		{"SAM: no log group output", "function safety", func(t *testing.T, s *Stack) {
			delete(s.Outputs, "FunctionLogGroupName")
		}},
	}
}
