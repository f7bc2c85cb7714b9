package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The invariants both templates must hold, each a function of one resolved
// template that returns an error naming what is broken. Tests run them over
// many parameter sets and prove each one fails on a broken copy.

const (
	wantDLQRetention   = 1209600 // 14 days: dead-lettered bodies may hold personal data
	wantMaxReceiveCnt  = 10      // native redrive: a safety net behind CASEBRIDGE_MAX_RECEIVES
	fargateMaxStopTime = 120
)

// grant is one allowed (action, resource) pair of a least-privilege role.
type grant struct{ action, resource string }

func sub(s string) string { return Canonical(map[string]any{"Fn::Sub": s}) }
func getAtt(res, attr string) string {
	return Canonical(map[string]any{"Fn::GetAtt": []any{res, attr}})
}

const (
	domainARN   = "arn:${AWS::Partition}:cases:${AWS::Region}:${AWS::AccountId}:domain/${CasesDomainId}"
	connectUser = "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:instance/${ConnectInstanceId}/agent/*"
)

// workerGrants is what the worker or the function may do, given r's
// parameters: the blueprint's list and nothing else. required marks grants
// that must be present (the rest are optional features that must be present
// exactly when their feature is on).
func workerGrants(r *Resolved) (allowed map[grant]bool) {
	allowed = map[grant]bool{}
	queue, dlq := getAtt("Queue", "Arn"), getAtt("DeadLetterQueue", "Arn")
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"} {
		allowed[grant{a, queue}] = true
	}
	allowed[grant{"sqs:SendMessage", dlq}] = true
	for _, res := range []string{sub(domainARN), sub(domainARN + "/*")} {
		allowed[grant{"cases:UpdateCase", res}] = true
		if r.Params["FieldCatalog"] == "on" {
			for _, a := range []string{"cases:ListFields", "cases:BatchGetField", "cases:ListFieldOptions"} {
				allowed[grant{a, res}] = true
			}
		}
	}
	if r.Params["ConnectInstanceId"] != "" {
		allowed[grant{"connect:DescribeUser", sub(connectUser)}] = true
	}
	if k := r.Params["KmsKeyArn"]; k != "" {
		allowed[grant{"kms:Decrypt", Canonical(k)}] = true
		allowed[grant{"kms:GenerateDataKey", Canonical(k)}] = true
	}
	return allowed
}

// roleGrants flattens a role's inline policies into (action, resource) pairs.
func roleGrants(r *Resolved, role string) ([]grant, error) {
	res := r.Resource(role)
	if res == nil {
		return nil, fmt.Errorf("role %s missing", role)
	}
	if Dig(res, "Type") != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s is %v, not an IAM role", role, Dig(res, "Type"))
	}
	if Dig(res, "Properties", "ManagedPolicyArns") != nil {
		return nil, fmt.Errorf("role %s attaches managed policies; grants must be listed inline", role)
	}
	var out []grant
	policies, _ := Dig(res, "Properties", "Policies").([]any)
	for _, p := range policies {
		stmts, _ := Dig(p, "PolicyDocument", "Statement").([]any)
		for i, s := range stmts {
			if Dig(s, "Effect") != "Allow" {
				return nil, fmt.Errorf("role %s statement %d: only Allow statements are expected", role, i)
			}
			if Dig(s, "NotAction") != nil || Dig(s, "NotResource") != nil {
				return nil, fmt.Errorf("role %s statement %d: NotAction/NotResource grant too much", role, i)
			}
			for _, a := range asList(Dig(s, "Action")) {
				for _, rsrc := range asList(Dig(s, "Resource")) {
					out = append(out, grant{fmt.Sprint(a), Canonical(rsrc)})
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

// checkGrants holds role to exactly allowed (plus extra, for log and image
// grants that only one template's role has).
func checkGrants(r *Resolved, role string, allowed map[grant]bool) error {
	got, err := roleGrants(r, role)
	if err != nil {
		return err
	}
	var errs []error
	seen := map[grant]bool{}
	for _, g := range got {
		seen[g] = true
		action := g.action
		if action == "*" || strings.HasSuffix(action, ":*") {
			errs = append(errs, fmt.Errorf("%s: service-wide action wildcard %q", role, action))
		}
		if g.resource == `"*"` && !allowed[g] {
			errs = append(errs, fmt.Errorf("%s: %s on resource \"*\"", role, action))
		}
		if !allowed[g] {
			errs = append(errs, fmt.Errorf("%s: grant %s on %s is not on the allowed list", role, action, g.resource))
		}
	}
	for g := range allowed {
		if !seen[g] {
			errs = append(errs, fmt.Errorf("%s: missing grant %s on %s", role, g.action, g.resource))
		}
	}
	return errors.Join(errs...)
}

// checkQueues: both queues encrypted, DLQ kept 14 days, redrive to the DLQ
// at 10 receives, above the consumer's own CASEBRIDGE_MAX_RECEIVES.
func checkQueues(r *Resolved, maxReceives string) error {
	var errs []error
	for _, q := range []string{"Queue", "DeadLetterQueue"} {
		props, _ := Dig(r.Resource(q), "Properties").(map[string]any)
		if props == nil {
			errs = append(errs, fmt.Errorf("queue %s missing", q))
			continue
		}
		sse := props["SqsManagedSseEnabled"] == true
		kms := props["KmsMasterKeyId"] != nil && props["KmsMasterKeyId"] != ""
		if !sse && !kms {
			errs = append(errs, fmt.Errorf("queue %s is not encrypted at rest", q))
		}
		if r.Params["KmsKeyArn"] != "" && Canonical(props["KmsMasterKeyId"]) != Canonical(r.Params["KmsKeyArn"]) {
			errs = append(errs, fmt.Errorf("queue %s does not use the given KMS key", q))
		}
		if fifo := r.Params["FifoQueue"] == "true"; fifo != (props["FifoQueue"] == true) {
			errs = append(errs, fmt.Errorf("queue %s: FifoQueue=%v, want %v", q, props["FifoQueue"], fifo))
		}
	}
	if n, _ := num(Dig(r.Resource("DeadLetterQueue"), "Properties", "MessageRetentionPeriod")); n != wantDLQRetention {
		errs = append(errs, fmt.Errorf("DLQ retention %v s, want %d", n, wantDLQRetention))
	}
	redrive := Dig(r.Resource("Queue"), "Properties", "RedrivePolicy")
	if Canonical(Dig(redrive, "deadLetterTargetArn")) != getAtt("DeadLetterQueue", "Arn") {
		errs = append(errs, fmt.Errorf("redrive target is %s, want the DLQ", Canonical(Dig(redrive, "deadLetterTargetArn"))))
	}
	mrc, _ := num(Dig(redrive, "maxReceiveCount"))
	if mrc != wantMaxReceiveCnt {
		errs = append(errs, fmt.Errorf("maxReceiveCount %v, want %d", mrc, wantMaxReceiveCnt))
	}
	if ours, err := num(maxReceives); err != nil || ours >= mrc {
		errs = append(errs, fmt.Errorf("CASEBRIDGE_MAX_RECEIVES %q must be a number below maxReceiveCount %v", maxReceives, mrc))
	}
	return errors.Join(errs...)
}

// checkAlarms: DLQ depth, and the source queue's age of oldest message.
func checkAlarms(r *Resolved) error {
	var dlqDepth, oldest bool
	for _, name := range r.ResourcesOfType("AWS::CloudWatch::Alarm") {
		p := Dig(r.Resource(name), "Properties")
		if Dig(p, "Namespace") != "AWS/SQS" {
			continue
		}
		dims, _ := Dig(p, "Dimensions").([]any)
		if len(dims) != 1 || Dig(dims[0], "Name") != "QueueName" {
			continue
		}
		queue := Canonical(Dig(dims[0], "Value"))
		threshold, _ := num(Dig(p, "Threshold"))
		above := Dig(p, "ComparisonOperator") == "GreaterThanThreshold"
		switch {
		case queue == getAtt("DeadLetterQueue", "QueueName") && Dig(p, "MetricName") == "ApproximateNumberOfMessagesVisible":
			dlqDepth = above && threshold == 0
		case queue == getAtt("Queue", "QueueName") && Dig(p, "MetricName") == "ApproximateAgeOfOldestMessage":
			oldest = above && threshold > 0
		}
	}
	var errs []error
	if !dlqDepth {
		errs = append(errs, errors.New("no alarm on DLQ depth > 0"))
	}
	if !oldest {
		errs = append(errs, errors.New("no alarm on the source queue's age of oldest message"))
	}
	return errors.Join(errs...)
}

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

// --- SAM (template.yaml) ---

func checkSAMFunction(r *Resolved) error {
	fn := r.Resource("Function")
	if Dig(fn, "Type") != "AWS::Serverless::Function" {
		return errors.New("no AWS::Serverless::Function named Function")
	}
	p := Dig(fn, "Properties")
	var errs []error
	if Dig(p, "Runtime") != "provided.al2023" {
		errs = append(errs, fmt.Errorf("Runtime %v, want provided.al2023", Dig(p, "Runtime")))
	}
	if Canonical(Dig(p, "Architectures")) != `["arm64"]` {
		errs = append(errs, fmt.Errorf("Architectures %s, want [arm64]", Canonical(Dig(p, "Architectures"))))
	}
	if Dig(p, "Handler") != "bootstrap" {
		errs = append(errs, fmt.Errorf("Handler %v, want bootstrap", Dig(p, "Handler")))
	}
	if Canonical(Dig(p, "Role")) != getAtt("FunctionRole", "Arn") {
		errs = append(errs, errors.New("function must use FunctionRole (SAM-generated roles escape the grant check)"))
	}
	if Dig(p, "Policies") != nil {
		errs = append(errs, errors.New("function Policies would add grants beside FunctionRole"))
	}
	events, _ := Dig(p, "Events").(map[string]any)
	var sqs []any
	for _, e := range events {
		if Dig(e, "Type") == "SQS" {
			sqs = append(sqs, e)
		}
	}
	if len(sqs) != 1 {
		return errors.Join(append(errs, fmt.Errorf("%d SQS event sources, want 1", len(sqs)))...)
	}
	ep := Dig(sqs[0], "Properties")
	if Canonical(Dig(ep, "Queue")) != getAtt("Queue", "Arn") {
		errs = append(errs, fmt.Errorf("event source reads %s, want the source queue", Canonical(Dig(ep, "Queue"))))
	}
	if !slices.Contains(asList(Dig(ep, "FunctionResponseTypes")), any("ReportBatchItemFailures")) {
		errs = append(errs, errors.New("event source lacks FunctionResponseTypes: [ReportBatchItemFailures]"))
	}
	if mc, err := num(Dig(ep, "ScalingConfig", "MaximumConcurrency")); err != nil || mc < 2 || mc > 1000 {
		errs = append(errs, fmt.Errorf("ScalingConfig.MaximumConcurrency %v, want 2..1000", Dig(ep, "ScalingConfig", "MaximumConcurrency")))
	}
	if bs, err := num(Dig(ep, "BatchSize")); err != nil || bs < 1 || bs > 10 {
		errs = append(errs, fmt.Errorf("BatchSize %v, want 1..10", Dig(ep, "BatchSize")))
	}
	// Lambda's rule: visibility >= 6 x function timeout (+ batching window).
	timeout, err1 := num(Dig(p, "Timeout"))
	window, _ := num(Dig(ep, "MaximumBatchingWindowInSeconds"))
	vis, err2 := num(Dig(r.Resource("Queue"), "Properties", "VisibilityTimeout"))
	if err1 != nil || err2 != nil || vis < 6*timeout+window {
		errs = append(errs, fmt.Errorf("queue visibility %v s < 6 x timeout %v s + window %v s", vis, timeout, window))
	}
	env, _ := Dig(p, "Environment", "Variables").(map[string]any)
	for _, k := range []string{"CASEBRIDGE_DLQ_URL", "CASEBRIDGE_DOMAIN_ID", "CASEBRIDGE_MAX_RECEIVES", "CASEBRIDGE_MAX_CONCURRENCY", "CASEBRIDGE_RATE_LIMIT", "CASEBRIDGE_LOG_LEVEL", "CASEBRIDGE_FIELD_CATALOG"} {
		if _, ok := env[k]; !ok {
			errs = append(errs, fmt.Errorf("function environment lacks %s", k))
		}
	}
	if Canonical(env["CASEBRIDGE_DLQ_URL"]) != Canonical(map[string]any{"Ref": "DeadLetterQueue"}) {
		errs = append(errs, errors.New("CASEBRIDGE_DLQ_URL is not the DLQ's URL"))
	}
	return errors.Join(errs...)
}

func samGrants(r *Resolved) map[grant]bool {
	allowed := workerGrants(r)
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		allowed[grant{a, getAtt("FunctionLogGroup", "Arn")}] = true
	}
	return allowed
}

func samMaxReceives(r *Resolved) string {
	return fmt.Sprint(Dig(r.Resource("Function"), "Properties", "Environment", "Variables", "CASEBRIDGE_MAX_RECEIVES"))
}
