package deploy

import (
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
)

// Typed accessors for mutations: each fails the test if the resource is gone.

func queue(t *testing.T, s *Stack, name string) *sqs.Queue {
	t.Helper()
	q, err := s.GetSQSQueueWithName(name)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func function(t *testing.T, s *Stack) *serverless.Function {
	t.Helper()
	fn, err := s.GetServerlessFunctionWithName("Function")
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func container(t *testing.T, s *Stack) *ecs.TaskDefinition_ContainerDefinition {
	t.Helper()
	c, err := workerContainer(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setEnv(t *testing.T, s *Stack, name, value string) {
	t.Helper()
	c := container(t, s)
	for i := range c.Environment {
		if val(c.Environment[i].Name) == name {
			c.Environment[i].Value = ptr(value)
			return
		}
	}
	t.Fatalf("no %s in the container environment", name)
}

// statement returns the i-th statement of a role's first inline policy.
func statement(t *testing.T, s *Stack, role string, i int) map[string]any {
	t.Helper()
	r, err := s.GetIAMRoleWithName(role)
	if err != nil {
		t.Fatal(err)
	}
	stmts, _ := dig(r.Policies[0].PolicyDocument, "Statement").([]any)
	st, ok := stmts[i].(map[string]any)
	if !ok {
		t.Fatalf("%s statement %d is %T", role, i, stmts[i])
	}
	return st
}

func addStatement(t *testing.T, s *Stack, role string, st map[string]any) {
	t.Helper()
	r, err := s.GetIAMRoleWithName(role)
	if err != nil {
		t.Fatal(err)
	}
	doc := r.Policies[0].PolicyDocument.(map[string]any)
	doc["Statement"] = append(doc["Statement"].([]any), st)
}

// metric returns the scaling policy's metric query with id.
func metric(t *testing.T, s *Stack, id string) *applicationautoscaling.ScalingPolicy_TargetTrackingMetricDataQuery {
	t.Helper()
	p := s.GetAllApplicationAutoScalingScalingPolicyResources()["BacklogPerTaskScaling"]
	if p == nil {
		t.Fatal("no BacklogPerTaskScaling")
	}
	ms := p.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.Metrics
	for i := range ms {
		if val(ms[i].Id) == id {
			return &ms[i]
		}
	}
	t.Fatalf("no scaling metric %q", id)
	return nil
}

func metricFilter(t *testing.T, s *Stack, name string) *logs.MetricFilter {
	t.Helper()
	f, err := s.GetLogsMetricFilterWithName(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func alarm(t *testing.T, s *Stack, name string) *cloudwatch.Alarm {
	t.Helper()
	a := s.GetAllCloudWatchAlarmResources()[name]
	if a == nil {
		t.Fatalf("no alarm %s", name)
	}
	return a
}

// TestChecksCatchBrokenTemplates proves each invariant check can fail: it
// breaks one thing in the loaded default stack and expects the check to say
// so (while the unbroken stack passes it).

// collectorOn reloads s with TraceCollector=adot: the mutation rows load the
// defaults, and the collector's rows break a stack that has one.
// TestTemplateInvariants holds the unbroken one to every check.
func collectorOn(t *testing.T, s *Stack) {
	t.Helper()
	*s = *mustLoad(t, ecsPath, paramsFor(declared(t, ecsPath), map[string]string{"TraceCollector": "adot"}))
}

// layerOn reloads s (template.yaml) with the ADOT collector layer and the
// Tracing=Active it needs.
func layerOn(t *testing.T, s *Stack) {
	t.Helper()
	*s = *mustLoad(t, samPath, paramsFor(declared(t, samPath),
		map[string]string{"TraceCollectorLayerArn": allOn["TraceCollectorLayerArn"], "Tracing": "Active"}))
}

// collector is the ADOT collector's container definition.
func collector(t *testing.T, s *Stack) *ecs.TaskDefinition_ContainerDefinition {
	t.Helper()
	c, err := taskContainer(s, "adot-collector")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dropStatement removes the statement with sid from a role's first inline policy.
func dropStatement(t *testing.T, s *Stack, role, sid string) {
	t.Helper()
	r, err := s.GetIAMRoleWithName(role)
	if err != nil {
		t.Fatal(err)
	}
	doc := r.Policies[0].PolicyDocument.(map[string]any)
	stmts := doc["Statement"].([]any)
	for i, st := range stmts {
		if dig(st, "Sid") == sid {
			doc["Statement"] = append(stmts[:i:i], stmts[i+1:]...)
			return
		}
	}
	t.Fatalf("%s has no statement %s", role, sid)
}
