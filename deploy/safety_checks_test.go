package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/policies"
)

// Invariants added for issue 15: queues that survive the stack and accept
// TLS only, publisher access, alarms that notify on recovery and on new dead
// letters, Fargate sizes Fargate accepts, and settings that follow grants.

const (
	dlqAgeAlarmMax = wantDLQRetention - 86400 // at least a day to act before SQS deletes a dead letter
)

// fargateSizes are the CPU units and memory (MiB) pairs Fargate accepts
// (Linux, up to 4 vCPU): AWS's task size table.
func fargateSizeValid(cpu, mem int) bool {
	switch cpu {
	case 256:
		return mem == 512 || mem == 1024 || mem == 2048
	case 512:
		return mem >= 1024 && mem <= 4096 && mem%1024 == 0
	case 1024:
		return mem >= 2048 && mem <= 8192 && mem%1024 == 0
	case 2048:
		return mem >= 4096 && mem <= 16384 && mem%1024 == 0
	case 4096:
		return mem >= 8192 && mem <= 30720 && mem%1024 == 0
	}
	return false
}

// checkQueueSafety: both queues Retain on deletion and replacement, and a
// queue policy on every queue the template creates that denies any request
// without TLS; the only Allow in it is sqs:SendMessage on the source queue
// for PublisherPrincipalArns, and only when they are given.
func checkQueueSafety(s *Stack) error {
	var errs []error
	queues := s.GetAllSQSQueueResources()
	for name, q := range queues {
		if q.AWSCloudFormationDeletionPolicy != policies.DeletionPolicy("Retain") || q.AWSCloudFormationUpdateReplacePolicy != policies.UpdateReplacePolicy("Retain") {
			errs = append(errs, fmt.Errorf("queue %s: DeletionPolicy %q / UpdateReplacePolicy %q, want Retain (its messages must outlive the stack)",
				name, q.AWSCloudFormationDeletionPolicy, q.AWSCloudFormationUpdateReplacePolicy))
		}
	}
	tlsOnly := map[string]bool{}
	var publisherAllows []map[string]any
	for name, p := range s.GetAllSQSQueuePolicyResources() {
		for i, st := range asList(dig(p.PolicyDocument, "Statement")) {
			stm, _ := st.(map[string]any)
			switch dig(stm, "Effect") {
			case "Deny":
				secure := fmt.Sprint(dig(stm, "Condition", "Bool", "aws:SecureTransport"))
				if secure != "false" || fmt.Sprint(dig(stm, "Principal")) != "*" || !slices.ContainsFunc(asList(dig(stm, "Action")), func(a any) bool { return a == "sqs:*" || a == "*" }) {
					continue
				}
				for _, r := range asList(dig(stm, "Resource")) {
					for qn := range queues {
						if fmt.Sprint(r) == cloudformation.GetAtt(qn, "Arn") && slices.Contains(p.Queues, cloudformation.Ref(qn)) {
							tlsOnly[qn] = true
						}
					}
				}
			case "Allow":
				publisherAllows = append(publisherAllows, stm)
				if acts := asList(dig(stm, "Action")); len(acts) != 1 || acts[0] != "sqs:SendMessage" || fmt.Sprint(dig(stm, "Resource")) != queueArn {
					errs = append(errs, fmt.Errorf("queue policy %s statement %d allows %v on %v; want sqs:SendMessage on the source queue only", name, i, acts, dig(stm, "Resource")))
				}
			}
		}
	}
	for qn := range queues {
		if !tlsOnly[qn] {
			errs = append(errs, fmt.Errorf("queue %s: no queue policy denies requests without TLS (aws:SecureTransport false)", qn))
		}
	}
	want := strings.Trim(s.Params["PublisherPrincipalArns"], " ,")
	switch {
	case want == "" && len(publisherAllows) > 0:
		errs = append(errs, errors.New("the queue policy lets principals send though PublisherPrincipalArns is empty"))
	case want != "" && len(publisherAllows) != 1:
		errs = append(errs, fmt.Errorf("%d Allow statements for PublisherPrincipalArns %q, want 1", len(publisherAllows), want))
	case want != "":
		var got []string
		for _, p := range asList(dig(publisherAllows[0], "Principal", "AWS")) {
			got = append(got, fmt.Sprint(p))
		}
		if strings.Join(got, ",") != strings.ReplaceAll(want, " ", "") {
			errs = append(errs, fmt.Errorf("queue policy lets %v send, want PublisherPrincipalArns %q", got, want))
		}
	}
	return errors.Join(errs...)
}

// publisherGrants is what the exported publisher policy allows: send to the
// source queue, and with a KMS key the two key actions SendMessage needs.
func publisherGrants(s *Stack) map[grant]bool {
	allowed := map[grant]bool{{"sqs:SendMessage", queueArn}: true}
	if k := s.Params["KmsKeyArn"]; k != "" {
		allowed[grant{"kms:GenerateDataKey", k}] = true
		allowed[grant{"kms:Decrypt", k}] = true
	}
	return allowed
}

// checkPublisherAccess: PublisherPolicy grants exactly publisherGrants and
// its ARN is an exported output.
func checkPublisherAccess(s *Stack) error {
	p, err := s.GetIAMManagedPolicyWithName("PublisherPolicy")
	if err != nil {
		return err
	}
	var errs []error
	seen := map[grant]bool{}
	allowed := publisherGrants(s)
	for i, st := range asList(dig(p.PolicyDocument, "Statement")) {
		if dig(st, "Effect") != "Allow" {
			errs = append(errs, fmt.Errorf("PublisherPolicy statement %d is not an Allow", i))
		}
		for _, a := range asList(dig(st, "Action")) {
			for _, r := range asList(dig(st, "Resource")) {
				g := grant{fmt.Sprint(a), fmt.Sprint(r)}
				seen[g] = true
				if !allowed[g] {
					errs = append(errs, fmt.Errorf("PublisherPolicy: grant %s on %s is not on the allowed list", g.action, show(g.resource)))
				}
			}
		}
	}
	for g := range allowed {
		if !seen[g] {
			errs = append(errs, fmt.Errorf("PublisherPolicy: missing grant %s on %s", g.action, show(g.resource)))
		}
	}
	out, ok := s.Outputs["PublisherPolicyArn"]
	if !ok || fmt.Sprint(out.Value) != cloudformation.Ref("PublisherPolicy") || out.Export == nil || out.Export.Name == "" {
		errs = append(errs, errors.New("no exported output PublisherPolicyArn = Ref PublisherPolicy"))
	}
	return errors.Join(errs...)
}

// checkAlarmSafety, both templates: every alarm with AlarmActions has the
// same OKActions; an alarm on new DLQ arrivals that counts both
// casebridge's sends (NumberOfMessagesSent) and native redrive (a rise of
// the DLQ's visible messages, DIFF), so it re-notifies; and an alarm on the
// DLQ's oldest message well before its 14 days run out.
func checkAlarmSafety(s *Stack) error {
	var errs []error
	var arrivals, dlqAge bool
	dlqName := cloudformation.GetAtt("DeadLetterQueue", "QueueName")
	for name, a := range s.GetAllCloudWatchAlarmResources() {
		if !slices.Equal(a.OKActions, a.AlarmActions) {
			errs = append(errs, fmt.Errorf("alarm %s: OKActions %v differ from AlarmActions %v (recovery must notify too)", name, a.OKActions, a.AlarmActions))
		}
		if val(a.MetricName) == "ApproximateAgeOfOldestMessage" && len(a.Dimensions) == 1 && a.Dimensions[0].Value == dlqName &&
			a.ComparisonOperator == "GreaterThanThreshold" && val(a.Statistic) == "Maximum" &&
			val(a.Threshold) > 0 && val(a.Threshold)+float64(val(a.Period)*a.EvaluationPeriods) <= dlqAgeAlarmMax {
			dlqAge = true
		}
		if len(a.Metrics) == 0 {
			continue
		}
		ids := map[string]string{} // query id -> metric name, for DLQ metrics
		var returned []string
		for _, m := range a.Metrics {
			if val(m.ReturnData) || m.ReturnData == nil && m.Expression != nil {
				returned = append(returned, val(m.Expression))
			}
			if m.MetricStat == nil || m.MetricStat.Metric == nil {
				continue
			}
			met := m.MetricStat.Metric
			if val(met.Namespace) == "AWS/SQS" && len(met.Dimensions) == 1 && met.Dimensions[0].Value == dlqName {
				ids[m.Id] = val(met.MetricName) + "/" + m.MetricStat.Stat
			}
		}
		if len(returned) != 1 || a.ComparisonOperator != "GreaterThanThreshold" || val(a.Threshold) != 0 {
			continue
		}
		expr := strings.ReplaceAll(returned[0], " ", "")
		var sent, rise bool
		for id, m := range ids {
			switch m {
			case "NumberOfMessagesSent/Sum":
				sent = sent || strings.Contains(expr, "FILL("+id+",0)")
			case "ApproximateNumberOfMessagesVisible/Maximum":
				rise = rise || strings.Contains(expr, "IF(DIFF("+id+")>0,DIFF("+id+"),0)")
			}
		}
		arrivals = arrivals || sent && rise
	}
	if !arrivals {
		errs = append(errs, errors.New("no alarm on new DLQ arrivals counting both NumberOfMessagesSent and native redrive (rise in visible messages)"))
	}
	if !dlqAge {
		errs = append(errs, fmt.Errorf("no alarm on the DLQ's oldest message (Maximum) firing at least a day before its %d s retention", wantDLQRetention))
	}
	return errors.Join(errs...)
}

// checkLambdaAlarms: Errors and Throttles of the function, any > 0.
func checkLambdaAlarms(s *Stack) error {
	var errs []error
	for _, metric := range []string{"Errors", "Throttles"} {
		found := false
		for _, a := range s.GetAllCloudWatchAlarmResources() {
			found = found || val(a.Namespace) == "AWS/Lambda" && val(a.MetricName) == metric && len(a.Dimensions) == 1 &&
				a.Dimensions[0].Name == "FunctionName" && a.Dimensions[0].Value == cloudformation.Ref("Function") &&
				val(a.Statistic) == "Sum" && a.ComparisonOperator == "GreaterThanThreshold" && val(a.Threshold) == 0
		}
		if !found {
			errs = append(errs, fmt.Errorf("no alarm on the function's %s > 0", metric))
		}
	}
	return errors.Join(errs...)
}

// checkRunningTasksAlarm: the service's RunningTaskCount (Minimum) below
// MinTasks, missing data breaching (no task reports nothing).
func checkRunningTasksAlarm(s *Stack) error {
	min, _ := num(s.Params["MinTasks"])
	cluster := cloudformation.Ref("Cluster")
	if c := s.Params["ExistingClusterName"]; c != "" {
		cluster = c
	}
	for _, a := range s.GetAllCloudWatchAlarmResources() {
		dims := map[string]string{}
		for _, d := range a.Dimensions {
			dims[d.Name] = d.Value
		}
		if val(a.Namespace) == "ECS/ContainerInsights" && val(a.MetricName) == "RunningTaskCount" &&
			dims["ServiceName"] == cloudformation.GetAtt("Service", "Name") && dims["ClusterName"] == cluster &&
			val(a.Statistic) == "Minimum" && a.ComparisonOperator == "LessThanThreshold" && val(a.Threshold) == min &&
			val(a.TreatMissingData) == "breaching" {
			return nil
		}
	}
	return fmt.Errorf("no alarm on the service's RunningTaskCount (Minimum) < MinTasks (%v) in cluster %s, missing data breaching", min, show(cluster))
}

// wantUserArnSetting is CASEBRIDGE_PERFORMED_BY_USER_ARN for s: allow only
// when connect:DescribeUser is granted (ConnectInstanceId set).
func wantUserArnSetting(s *Stack) string {
	if s.Params["ConnectInstanceId"] != "" {
		return "allow"
	}
	return "forbid"
}

func checkUserArnSetting(env map[string]string, s *Stack) error {
	if got, want := env["CASEBRIDGE_PERFORMED_BY_USER_ARN"], wantUserArnSetting(s); got != want {
		return fmt.Errorf("CASEBRIDGE_PERFORMED_BY_USER_ARN=%q with ConnectInstanceId %q, want %q (connect:DescribeUser is granted only with it)", got, s.Params["ConnectInstanceId"], want)
	}
	return nil
}

// checkSAMSafety: no batching window on a FIFO event source, the user-ARN
// setting follows the grant, the log group is an output.
func checkSAMSafety(s *Stack) error {
	fn, err := s.GetServerlessFunctionWithName("Function")
	if err != nil {
		return err
	}
	var errs []error
	env := map[string]string{}
	if fn.Environment != nil {
		env = fn.Environment.Variables
	}
	if err := checkUserArnSetting(env, s); err != nil {
		errs = append(errs, err)
	}
	for k, v := range s.Untyped["Function"] {
		if strings.HasSuffix(k, ".MaximumBatchingWindowInSeconds") {
			if s.Params["FifoQueue"] == "true" {
				errs = append(errs, fmt.Errorf("FIFO event source has MaximumBatchingWindowInSeconds %v: Lambda rejects any batching window on FIFO", v))
			} else if fmt.Sprint(v) != s.Params["MaximumBatchingWindowInSeconds"] {
				errs = append(errs, fmt.Errorf("batching window %v, want MaximumBatchingWindowInSeconds %s", v, s.Params["MaximumBatchingWindowInSeconds"]))
			}
		}
	}
	if out, ok := s.Outputs["FunctionLogGroupName"]; !ok || fmt.Sprint(out.Value) != cloudformation.Ref("FunctionLogGroup") {
		errs = append(errs, errors.New("no output FunctionLogGroupName = Ref FunctionLogGroup"))
	}
	return errors.Join(errs...)
}

// checkECSSafety: a Fargate-valid task size, the user-ARN setting follows
// the grant.
func checkECSSafety(s *Stack) error {
	var errs []error
	td, err := s.GetECSTaskDefinitionWithName("TaskDefinition")
	if err != nil {
		return err
	}
	cpu, cerr := num(val(td.Cpu))
	mem, merr := num(val(td.Memory))
	if cerr != nil || merr != nil || !fargateSizeValid(int(cpu), int(mem)) {
		errs = append(errs, fmt.Errorf("task size cpu %q memory %q is not a pair Fargate accepts", val(td.Cpu), val(td.Memory)))
	}
	c, err := workerContainer(s)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := checkUserArnSetting(containerEnv(c), s); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
