package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
)

// TestSAMTracing: the Tracing parameter defaults to PassThrough and sets the
// function's Tracing; FunctionRole may write X-Ray segments exactly when it is
// Active (SAM adds no X-Ray policy to an explicit role, so the template must).
func TestSAMTracing(t *testing.T) {
	t.Parallel()
	decl := declared(t, samPath)
	p, ok := decl["Tracing"]
	if !ok {
		t.Fatal("template.yaml declares no Tracing parameter")
	}
	if p.Default != "PassThrough" || !slices.Equal(p.AllowedValues, []any{"PassThrough", "Active"}) {
		t.Errorf("Tracing: default %v, allowed %v; want PassThrough of [PassThrough Active]", p.Default, p.AllowedValues)
	}
	for _, tc := range []struct {
		value string // "" = the default
		want  string
		xray  bool
	}{{"", "PassThrough", false}, {"PassThrough", "PassThrough", false}, {"Active", "Active", true}} {
		extra := map[string]string{}
		if tc.value != "" {
			extra["Tracing"] = tc.value
		}
		s := mustLoad(t, samPath, paramsFor(decl, extra))
		fn, err := s.GetServerlessFunctionWithName("Function")
		if err != nil {
			t.Fatal(err)
		}
		if got := val(fn.Tracing); got != tc.want {
			t.Errorf("Tracing=%q: function Tracing %q, want %q", tc.value, got, tc.want)
		}
		grants, err := roleGrants(s, "FunctionRole")
		if err != nil {
			t.Fatal(err)
		}
		got := map[grant]bool{}
		for _, g := range grants {
			got[g] = true
		}
		for _, a := range xrayWriteActions {
			if got[grant{a, "*"}] != tc.xray {
				t.Errorf("Tracing=%q: %s granted=%v, want %v", tc.value, a, got[grant{a, "*"}], tc.xray)
			}
		}
	}
}

// collectorImage is the ADOT collector's repository; the tag must be pinned.
const collectorImage = "public.ecr.aws/aws-observability/aws-otel-collector:"

// checkTraceCollector: with TraceCollector=adot the task runs the ADOT
// collector beside the worker, at a pinned version, with the traces-only
// configuration, not essential (tracing never stops the worker), logging to
// the task's log group, started before the worker, which exports to it on
// localhost. Without it the worker runs alone and exports nowhere. The grants
// are checkGrants' (workerGrants).
func checkTraceCollector(s *Stack) error {
	td, err := s.GetECSTaskDefinitionWithName("TaskDefinition")
	if err != nil {
		return err
	}
	w, err := workerContainer(s)
	if err != nil {
		return err
	}
	endpoint, exports := containerEnv(w)["OTEL_EXPORTER_OTLP_ENDPOINT"]
	if s.Params["TraceCollector"] != "adot" {
		var errs []error
		if len(td.ContainerDefinitions) != 1 {
			errs = append(errs, fmt.Errorf("TraceCollector=none: %d containers, want the worker alone", len(td.ContainerDefinitions)))
		}
		if exports {
			errs = append(errs, fmt.Errorf("TraceCollector=none: the worker exports spans to %s", endpoint))
		}
		return errors.Join(errs...)
	}
	var errs []error
	if len(td.ContainerDefinitions) != 2 {
		errs = append(errs, fmt.Errorf("TraceCollector=adot: %d containers, want the worker and the collector", len(td.ContainerDefinitions)))
	}
	c, err := taskContainer(s, "adot-collector")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	tag, pinned := strings.CutPrefix(c.Image, collectorImage)
	if !pinned || !regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(tag) {
		errs = append(errs, fmt.Errorf("collector image %q, want %svX.Y.Z", c.Image, collectorImage))
	}
	if !slices.Equal(c.Command, []string{"--config=/etc/ecs/ecs-xray.yaml"}) {
		errs = append(errs, fmt.Errorf("collector command %v, want the traces-only configuration", c.Command))
	}
	if c.Essential == nil || *c.Essential {
		errs = append(errs, errors.New("the collector is essential: its failure would stop the worker"))
	}
	if lc := c.LogConfiguration; lc == nil || lc.LogDriver != "awslogs" || lc.Options["awslogs-group"] != cloudformation.Ref("LogGroup") {
		errs = append(errs, errors.New("the collector does not log with awslogs to LogGroup"))
	}
	if endpoint != "http://localhost:4318" {
		errs = append(errs, fmt.Errorf("worker OTEL_EXPORTER_OTLP_ENDPOINT %q, want the collector's OTLP/HTTP receiver http://localhost:4318", endpoint))
	}
	if d := w.DependsOnProp; len(d) != 1 || val(d[0].ContainerName) != "adot-collector" || val(d[0].Condition) != "START" {
		errs = append(errs, errors.New("the worker does not wait for the collector to start"))
	}
	return errors.Join(errs...)
}

// checkTraceCollectorLayer: with TraceCollectorLayerArn the function runs
// the layer and exports to its collector on localhost; without it, neither.
func checkTraceCollectorLayer(s *Stack) error {
	fn, err := s.GetServerlessFunctionWithName("Function")
	if err != nil {
		return err
	}
	var env map[string]string
	if fn.Environment != nil {
		env = fn.Environment.Variables
	}
	endpoint, exports := env["OTEL_EXPORTER_OTLP_ENDPOINT"]
	if s.Params["TraceCollectorLayerArn"] == "" {
		if len(fn.Layers) != 0 || exports {
			return fmt.Errorf("no TraceCollectorLayerArn, yet layers %v and endpoint %q", fn.Layers, endpoint)
		}
		return nil
	}
	var errs []error
	if !slices.Equal(fn.Layers, []string{s.Params["TraceCollectorLayerArn"]}) {
		errs = append(errs, fmt.Errorf("layers %v, want the TraceCollectorLayerArn parameter alone", fn.Layers))
	}
	if endpoint != "http://localhost:4318" {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q, want the layer's collector at http://localhost:4318", endpoint))
	}
	return errors.Join(errs...)
}

// TestTraceCollectorLayerNeedsActiveTracing: the layer's collector writes to
// X-Ray with the function's role, which may do so only with Tracing=Active,
// so the template's rule refuses the layer without it.
func TestTraceCollectorLayerNeedsActiveTracing(t *testing.T) {
	t.Parallel()
	decl := declared(t, samPath)
	layer := allOn["TraceCollectorLayerArn"]
	if _, err := LoadFile(samPath, paramsFor(decl, map[string]string{"TraceCollectorLayerArn": layer})); !errors.Is(err, ErrRule) {
		t.Errorf("layer with Tracing=PassThrough: %v, want the rule to refuse", err)
	}
	if _, err := LoadFile(samPath, paramsFor(decl, map[string]string{"TraceCollectorLayerArn": layer, "Tracing": "Active"})); err != nil {
		t.Errorf("layer with Tracing=Active: %v", err)
	}
}
