package deploy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
)

// The invariants both templates must hold, each a function of one loaded
// stack that returns an error naming what is broken. Tests run them over
// many parameter sets and prove each one fails on a broken copy.

const (
	wantDLQRetention   = 1209600 // 14 days: dead-lettered bodies may hold personal data
	wantQueueRetention = 1209600 // 14 days, SQS's maximum: a quota-bound backlog drains slowly, and SQS deletes what outlives retention
	wantMaxReceiveCnt  = 10      // native redrive: a safety net behind CASEBRIDGE_MAX_RECEIVES
	fargateMaxStopTime = 120
)

var (
	queueArn = cloudformation.GetAtt("Queue", "Arn")
	dlqArn   = cloudformation.GetAtt("DeadLetterQueue", "Arn")
)

// grant is one allowed (action, resource) pair of a least-privilege role.
type grant struct{ action, resource string }

func domainARN(s *Stack) string {
	return "arn:${AWS::Partition}:cases:${AWS::Region}:${AWS::AccountId}:domain/" + s.Params["CasesDomainId"]
}

// workerGrants is what the worker or the function may do, given s's
// parameters: the documented list and nothing else. The optional features'
// grants are on the list exactly when their feature is on, and checkGrants
// wants every listed grant present.
func workerGrants(s *Stack) map[grant]bool {
	allowed := map[grant]bool{}
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"} {
		allowed[grant{a, queueArn}] = true
	}
	allowed[grant{"sqs:SendMessage", dlqArn}] = true
	for _, res := range []string{cloudformation.Sub(domainARN(s)), cloudformation.Sub(domainARN(s) + "/*")} {
		allowed[grant{"cases:UpdateCase", res}] = true
		if s.Params["FieldCatalog"] == "on" {
			for _, a := range []string{"cases:ListFields", "cases:BatchGetField", "cases:ListFieldOptions"} {
				allowed[grant{a, res}] = true
			}
		}
		if s.Params["RulesFile"] != "" {
			allowed[grant{"cases:SearchCases", res}] = true
		}
	}
	if id := s.Params["ConnectInstanceId"]; id != "" {
		users := "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:instance/" + id + "/agent/*"
		allowed[grant{"connect:DescribeUser", cloudformation.Sub(users)}] = true
	}
	if k := s.Params["KmsKeyArn"]; k != "" {
		allowed[grant{"kms:Decrypt", k}] = true
		allowed[grant{"kms:GenerateDataKey", k}] = true
	}
	if s.Params["TraceCollector"] == "adot" { // ecs.yaml: the collector sidecar shares the task role
		for _, a := range xrayWriteActions {
			allowed[grant{a, "*"}] = true
		}
	}
	return allowed
}

// roleGrants flattens a role's inline policies into (action, resource) pairs.
func roleGrants(s *Stack, name string) ([]grant, error) {
	role, err := s.GetIAMRoleWithName(name)
	if err != nil {
		return nil, err
	}
	if len(role.ManagedPolicyArns) > 0 {
		return nil, fmt.Errorf("role %s attaches managed policies; grants must be listed inline", name)
	}
	var out []grant
	for _, p := range role.Policies {
		stmts, _ := dig(p.PolicyDocument, "Statement").([]any)
		for i, st := range stmts {
			if dig(st, "Effect") != "Allow" {
				return nil, fmt.Errorf("role %s statement %d: only Allow statements are expected", name, i)
			}
			if dig(st, "NotAction") != nil || dig(st, "NotResource") != nil {
				return nil, fmt.Errorf("role %s statement %d: NotAction/NotResource grant too much", name, i)
			}
			for _, a := range asList(dig(st, "Action")) {
				for _, r := range asList(dig(st, "Resource")) {
					out = append(out, grant{fmt.Sprint(a), fmt.Sprint(r)})
				}
			}
		}
	}
	return out, nil
}

func asList(v any) []any {
	if s, ok := v.([]any); ok {
		return s
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// checkGrants holds role to exactly allowed.
func checkGrants(s *Stack, role string, allowed map[grant]bool) error {
	got, err := roleGrants(s, role)
	if err != nil {
		return err
	}
	var errs []error
	seen := map[grant]bool{}
	for _, g := range got {
		seen[g] = true
		if g.action == "*" || strings.HasSuffix(g.action, ":*") {
			errs = append(errs, fmt.Errorf("%s: service-wide action wildcard %q", role, g.action))
		}
		if g.resource == "*" && !allowed[g] {
			errs = append(errs, fmt.Errorf("%s: %s on resource \"*\"", role, g.action))
		}
		if !allowed[g] {
			errs = append(errs, fmt.Errorf("%s: grant %s on %s is not on the allowed list", role, g.action, show(g.resource)))
		}
	}
	for g := range allowed {
		if !seen[g] {
			errs = append(errs, fmt.Errorf("%s: missing grant %s on %s", role, g.action, show(g.resource)))
		}
	}
	return errors.Join(errs...)
}

// checkQueues: both queues encrypted and kept 14 days, redrive to the DLQ
// at 10 receives, above the consumer's own CASEBRIDGE_MAX_RECEIVES.
func checkQueues(s *Stack, maxReceives string) error {
	var errs []error
	for _, name := range []string{"Queue", "DeadLetterQueue"} {
		q, err := s.GetSQSQueueWithName(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sse := q.SqsManagedSseEnabled != nil && *q.SqsManagedSseEnabled
		kms := val(q.KmsMasterKeyId) != ""
		if !sse && !kms {
			errs = append(errs, fmt.Errorf("queue %s is not encrypted at rest", name))
		}
		if k := s.Params["KmsKeyArn"]; k != "" && val(q.KmsMasterKeyId) != k {
			errs = append(errs, fmt.Errorf("queue %s does not use the given KMS key", name))
		}
		if want := s.Params["FifoQueue"] == "true"; want != val(q.FifoQueue) {
			errs = append(errs, fmt.Errorf("queue %s: FifoQueue=%v, want %v", name, val(q.FifoQueue), want))
		}
	}
	if dlq, err := s.GetSQSQueueWithName("DeadLetterQueue"); err == nil && val(dlq.MessageRetentionPeriod) != wantDLQRetention {
		errs = append(errs, fmt.Errorf("DLQ retention %d s, want %d", val(dlq.MessageRetentionPeriod), wantDLQRetention))
	}
	q, err := s.GetSQSQueueWithName("Queue")
	if err != nil {
		return errors.Join(errs...)
	}
	if got := val(q.MessageRetentionPeriod); got != wantQueueRetention {
		errs = append(errs, fmt.Errorf("source queue retention %d s, want %d (14 days)", got, wantQueueRetention))
	}
	if target := fmt.Sprint(dig(q.RedrivePolicy, "deadLetterTargetArn")); target != dlqArn {
		errs = append(errs, fmt.Errorf("redrive target is %s, want the DLQ", show(target)))
	}
	mrc, _ := num(dig(q.RedrivePolicy, "maxReceiveCount"))
	if mrc != wantMaxReceiveCnt {
		errs = append(errs, fmt.Errorf("maxReceiveCount %v, want %d", mrc, wantMaxReceiveCnt))
	}
	if ours, err := num(maxReceives); err != nil || ours >= mrc {
		errs = append(errs, fmt.Errorf("CASEBRIDGE_MAX_RECEIVES %q must be a number below maxReceiveCount %v", maxReceives, mrc))
	}
	return errors.Join(errs...)
}

// checkAlarms: DLQ depth > 0; the source queue's age of oldest message
// above OldestMessageAlarmSeconds (not draining) and above
// ExpiryAlarmPercent of the queue's retention (the backlog nears expiry: SQS
// deletes messages older than retention without a trace); every alarm
// notifies AlarmTopicArn when it is given, and nothing else.
func checkAlarms(s *Stack) error {
	var errs []error
	var dlqDepth, draining, expiry bool
	var retention float64
	if q, err := s.GetSQSQueueWithName("Queue"); err == nil {
		retention = float64(val(q.MessageRetentionPeriod))
	}
	pct, _ := num(s.Params["ExpiryAlarmPercent"])
	drainingAfter, _ := num(s.Params["OldestMessageAlarmSeconds"])
	var wantActions []string
	if topic := s.Params["AlarmTopicArn"]; topic != "" {
		wantActions = []string{topic}
	}
	for name, a := range s.GetAllCloudWatchAlarmResources() {
		if !slices.Equal(a.AlarmActions, wantActions) {
			errs = append(errs, fmt.Errorf("alarm %s notifies %v, want %v (AlarmTopicArn)", name, a.AlarmActions, wantActions))
		}
		if val(a.Namespace) != "AWS/SQS" || len(a.Dimensions) != 1 || a.Dimensions[0].Name != "QueueName" {
			continue
		}
		queue := a.Dimensions[0].Value
		above := a.ComparisonOperator == "GreaterThanThreshold"
		threshold := val(a.Threshold)
		switch {
		case queue == cloudformation.GetAtt("DeadLetterQueue", "QueueName") && val(a.MetricName) == "ApproximateNumberOfMessagesVisible":
			dlqDepth = dlqDepth || above && threshold == 0
		case queue == cloudformation.GetAtt("Queue", "QueueName") && val(a.MetricName) == "ApproximateAgeOfOldestMessage":
			if !above || val(a.Statistic) != "Maximum" {
				errs = append(errs, fmt.Errorf("alarm %s: want Maximum age GreaterThanThreshold", name))
				continue
			}
			draining = draining || threshold == drainingAfter
			if threshold == pct/100*retention {
				expiry = true
				// Time to act: the alarm must fire well before SQS deletes, and
				// its whole evaluation window must fit in what is left.
				if left := retention - threshold; left < float64(val(a.Period)*a.EvaluationPeriods) || threshold >= retention {
					errs = append(errs, fmt.Errorf("alarm %s leaves %v s before expiry", name, left))
				}
			}
		}
	}
	if !dlqDepth {
		errs = append(errs, errors.New("no alarm on DLQ depth > 0"))
	}
	if !draining {
		errs = append(errs, fmt.Errorf("no alarm on the source queue's age of oldest message above OldestMessageAlarmSeconds (%v s)", drainingAfter))
	}
	if !expiry || retention == 0 || pct <= 0 || pct >= 100 {
		errs = append(errs, fmt.Errorf("no alarm on the source queue's age of oldest message above ExpiryAlarmPercent (%v %%) of its retention (%v s)", pct, retention))
	}
	return errors.Join(errs...)
}

// --- SAM (template.yaml) ---

var samEnv = []string{
	"CASEBRIDGE_DLQ_URL", "CASEBRIDGE_DOMAIN_ID", "CASEBRIDGE_MAX_RECEIVES", "CASEBRIDGE_MAX_CONCURRENCY",
	"CASEBRIDGE_RATE_LIMIT", "CASEBRIDGE_LOG_LEVEL", "CASEBRIDGE_FIELD_CATALOG", "CASEBRIDGE_COALESCE",
}

func checkSAMFunction(s *Stack) error {
	fn, err := s.GetServerlessFunctionWithName("Function")
	if err != nil {
		return err
	}
	var errs []error
	if val(fn.Runtime) != "provided.al2023" {
		errs = append(errs, fmt.Errorf("Runtime %q, want provided.al2023", val(fn.Runtime)))
	}
	if !slices.Equal(fn.Architectures, []string{"arm64"}) {
		errs = append(errs, fmt.Errorf("Architectures %v, want [arm64]", fn.Architectures))
	}
	if val(fn.Handler) != "bootstrap" {
		errs = append(errs, fmt.Errorf("Handler %q, want bootstrap", val(fn.Handler)))
	}
	if val(fn.Role) != cloudformation.GetAtt("FunctionRole", "Arn") {
		errs = append(errs, errors.New("function must use FunctionRole (SAM-generated roles escape the grant check)"))
	}
	// The Tracing parameter sets the function's Tracing (SAM's TracingConfig.Mode).
	if want := s.Params["Tracing"]; val(fn.Tracing) != want || want == "" {
		errs = append(errs, fmt.Errorf("function Tracing %q, want the Tracing parameter %q", val(fn.Tracing), want))
	}
	if fn.Policies != nil {
		errs = append(errs, errors.New("function Policies would add grants beside FunctionRole"))
	}
	// FunctionRole may write logs to FunctionLogGroup only, so the function
	// must log there.
	if fmt.Sprint(dig(s.Untyped["Function"]["LoggingConfig"], "LogGroup")) != cloudformation.Ref("FunctionLogGroup") {
		errs = append(errs, errors.New("function does not log to FunctionLogGroup (LoggingConfig.LogGroup)"))
	}
	env := map[string]string{}
	if fn.Environment != nil {
		env = fn.Environment.Variables
	}
	for _, k := range samEnv {
		if _, ok := env[k]; !ok {
			errs = append(errs, fmt.Errorf("function environment lacks %s", k))
		}
	}
	if env["CASEBRIDGE_DLQ_URL"] != cloudformation.Ref("DeadLetterQueue") {
		errs = append(errs, errors.New("CASEBRIDGE_DLQ_URL is not the DLQ's URL"))
	}

	var sqsEvents []string
	for name, e := range fn.Events {
		if e.Type == "SQS" {
			sqsEvents = append(sqsEvents, name)
		}
	}
	if len(sqsEvents) != 1 {
		return errors.Join(append(errs, fmt.Errorf("%d SQS event sources, want 1", len(sqsEvents)))...)
	}
	name := sqsEvents[0]
	ev := fn.Events[name].Properties
	if ev == nil || ev.SQSEvent == nil {
		return errors.Join(append(errs, fmt.Errorf("event %s: goformation cannot read its properties as an SQS event", name))...)
	}
	untyped := func(prop string) any { return s.Untyped["Function"]["Events."+name+".Properties."+prop] }
	if ev.SQSEvent.Queue != queueArn {
		errs = append(errs, fmt.Errorf("event source reads %s, want the source queue", show(ev.SQSEvent.Queue)))
	}
	if !slices.Contains(asList(untyped("FunctionResponseTypes")), any("ReportBatchItemFailures")) {
		errs = append(errs, errors.New("event source lacks FunctionResponseTypes: [ReportBatchItemFailures]"))
	}
	if mc, err := num(dig(untyped("ScalingConfig"), "MaximumConcurrency")); err != nil || mc < 2 || mc > 1000 {
		errs = append(errs, fmt.Errorf("ScalingConfig.MaximumConcurrency %v, want 2..1000", dig(untyped("ScalingConfig"), "MaximumConcurrency")))
	}
	if bs := val(ev.SQSEvent.BatchSize); bs < 1 || bs > 10 {
		errs = append(errs, fmt.Errorf("BatchSize %d, want 1..10", bs))
	}
	// Lambda's rule: visibility >= 6 x function timeout (+ batching window).
	window, _ := num(untyped("MaximumBatchingWindowInSeconds"))
	q, err := s.GetSQSQueueWithName("Queue")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if vis, timeout := val(q.VisibilityTimeout), val(fn.Timeout); timeout == 0 || float64(vis) < float64(6*timeout)+window {
		errs = append(errs, fmt.Errorf("queue visibility %d s < 6 x timeout %d s + window %v s", vis, timeout, window))
	}
	return errors.Join(errs...)
}

func samGrants(s *Stack) map[grant]bool {
	allowed := workerGrants(s)
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		allowed[grant{a, cloudformation.GetAtt("FunctionLogGroup", "Arn")}] = true
	}
	// Active tracing: the Lambda service writes the invocation's segment with
	// the function's role (X-Ray has no resource-level permissions for these).
	if s.Params["Tracing"] == "Active" {
		for _, a := range xrayWriteActions {
			allowed[grant{a, "*"}] = true
		}
	}
	return allowed
}

// xrayWriteActions are what Lambda's active tracing needs of the function's
// role, and the ECS trace collector's X-Ray exporter of the task role: the
// write half of AWSXrayWriteOnlyAccess, which SAM attaches only to roles it
// generates.
var xrayWriteActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

func samMaxReceives(s *Stack) string {
	fn, err := s.GetServerlessFunctionWithName("Function")
	if err != nil || fn.Environment == nil {
		return ""
	}
	return fn.Environment.Variables["CASEBRIDGE_MAX_RECEIVES"]
}

// --- helpers ---

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func num(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("%v (%T) is not a number", v, v)
}

// show renders a value goformation keeps symbolic (base64 of the intrinsic's
// JSON) readably, for error messages.
func show(v string) string {
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && strings.HasPrefix(string(b), "{") {
		return string(b)
	}
	return strconv.Quote(v)
}
