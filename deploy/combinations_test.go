package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestParameterCombinations renders the parameter combinations that
// interact, not one parameter at a time, and holds every rendered stack to
// every invariant: FIFO × batching window × user ARNs on/off × KMS on/off in
// template.yaml; every Fargate task size, and FIFO × user ARNs × KMS ×
// existing cluster × publishers in deploy/ecs.yaml.
func TestParameterCombinations(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	onOff := func(on string) []string { return []string{"", on} }
	ecsDecl := declared(t, ecsPath)
	var samCombos, ecsCombos []map[string]string
	for _, fifo := range []string{"false", "true"} {
		for _, window := range []string{"0", "20"} {
			for _, user := range onOff(allOn["ConnectInstanceId"]) {
				for _, kms := range onOff(allOn["KmsKeyArn"]) {
					samCombos = append(samCombos, map[string]string{"FifoQueue": fifo, "MaximumBatchingWindowInSeconds": window, "ConnectInstanceId": user, "KmsKeyArn": kms})
				}
			}
		}
	}
	for _, size := range ecsDecl["TaskSize"].AllowedValues {
		ecsCombos = append(ecsCombos, map[string]string{"TaskSize": fmt.Sprint(size)})
	}
	for _, fifo := range []string{"false", "true"} {
		for _, user := range onOff(allOn["ConnectInstanceId"]) {
			for _, kms := range onOff(allOn["KmsKeyArn"]) {
				for _, cluster := range onOff(allOn["ExistingClusterName"]) {
					for _, pubs := range []string{"", "arn:aws:iam::210987654321:root,arn:aws:iam::123456789012:role/publisher"} {
						ecsCombos = append(ecsCombos, map[string]string{"FifoQueue": fifo, "ConnectInstanceId": user, "KmsKeyArn": kms,
							"ExistingClusterName": cluster, "PublisherPrincipalArns": pubs, "MinTasks": "2", "MaxTasks": "3"})
					}
				}
			}
		}
	}
	run := func(path string, combos []map[string]string, checks []check, extra func(*Stack) error) {
		for _, c := range combos {
			s, err := LoadFile(path, paramsFor(declared(t, path), c))
			if err != nil {
				t.Errorf("%s %v: %v", path, c, err)
				continue
			}
			for _, ch := range append(checks, check{"combination", extra}) {
				if err := ch.fn(s); err != nil {
					t.Errorf("%s %v %s:\n%v", path, c, ch.name, err)
				}
			}
		}
	}
	run(samPath, samCombos, samChecks(), func(s *Stack) error {
		_, hasWindow := s.Untyped["Function"]["Events.Queue.Properties.MaximumBatchingWindowInSeconds"]
		if fifo := s.Params["FifoQueue"] == "true"; fifo == hasWindow {
			return fmt.Errorf("FIFO %v, batching window passed %v: want a window exactly on standard queues", fifo, hasWindow)
		}
		return nil
	})
	run(ecsPath, ecsCombos, ecsChecks(df.binaryPath), func(s *Stack) error {
		var errs []error
		_, created := s.Resources["Cluster"]
		existing := s.Params["ExistingClusterName"]
		if created == (existing != "") {
			errs = append(errs, fmt.Errorf("cluster created %v with ExistingClusterName %q", created, existing))
		}
		if st, err := s.GetApplicationAutoScalingScalableTargetWithName("ScalableTarget"); err == nil && existing != "" &&
			!strings.Contains(st.ResourceId, existing) {
			errs = append(errs, fmt.Errorf("scalable target %s is not in cluster %s", show(st.ResourceId), existing))
		}
		return errors.Join(errs...)
	})
	t.Logf("rendered %d template.yaml and %d ecs.yaml combinations", len(samCombos), len(ecsCombos))
}

// cfnLintActions reads the IAM actions cfn-lint knows (its bundled
// Policies.json: service prefix -> lower-case action names). It skips the
// test where cfn-lint is not installed, except under CI=true.
func cfnLintActions(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import cfnlint,os;print(os.path.dirname(cfnlint.__file__))").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint's package not found and CI=true: %v", err)
		}
		t.Skipf("NOTICE: cfn-lint is not installed (python3 cannot import cfnlint): %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "data", "AdditionalSpecs", "Policies.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]struct{ Actions map[string]any }
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	known := map[string]map[string]bool{}
	for svc, v := range raw {
		known[svc] = map[string]bool{}
		for a := range v.Actions {
			known[svc][strings.ToLower(a)] = true
		}
	}
	if !known["cases"]["updatecase"] || !known["sqs"]["sendmessage"] {
		t.Fatal("cfn-lint's Policies.json lacks cases:UpdateCase or sqs:SendMessage: format changed?")
	}
	return known
}

// unknownActions returns the actions cfn-lint does not know ("svc:*" and
// "*" pass when the service is known).
func unknownActions(known map[string]map[string]bool, actions []string) []string {
	var bad []string
	for _, a := range actions {
		if a == "*" {
			continue
		}
		svc, name, ok := strings.Cut(a, ":")
		if !ok || known[svc] == nil || (name != "*" && !known[svc][strings.ToLower(name)]) {
			bad = append(bad, a)
		}
	}
	sort.Strings(bad)
	return bad
}

// templateActions lists every action in the stack's IAM roles, managed
// policies and queue policies.
func templateActions(s *Stack) []string {
	var docs []any
	for _, r := range s.GetAllIAMRoleResources() {
		for _, p := range r.Policies {
			docs = append(docs, p.PolicyDocument)
		}
	}
	for _, p := range s.GetAllIAMManagedPolicyResources() {
		docs = append(docs, p.PolicyDocument)
	}
	for _, p := range s.GetAllSQSQueuePolicyResources() {
		docs = append(docs, p.PolicyDocument)
	}
	var out []string
	for _, d := range docs {
		for _, st := range asList(dig(d, "Statement")) {
			for _, a := range asList(dig(st, "Action")) {
				out = append(out, fmt.Sprint(a))
			}
		}
	}
	return out
}

// TestIAMActionsKnownToCfnLint: every action the hand-written expected
// grant lists name, and every action either template grants, is an action
// cfn-lint's IAM data knows, so a misspelt action fails here even where the
// grant list and the template agree on the misspelling.
func TestIAMActionsKnownToCfnLint(t *testing.T) {
	t.Parallel()
	known := cfnLintActions(t)
	params := map[string]string{"PublisherPrincipalArns": "arn:aws:iam::210987654321:root"}
	for k, v := range allOn {
		params[k] = v
	}
	for _, path := range []string{samPath, ecsPath} {
		s := mustLoad(t, path, paramsFor(declared(t, path), params))
		var expected []string
		lists := []map[grant]bool{workerGrants(s), publisherGrants(s)}
		if path == samPath {
			lists = append(lists, samGrants(s))
		} else {
			lists = append(lists, ecsExecutionGrants(s))
		}
		for _, l := range lists {
			for g := range l {
				expected = append(expected, g.action)
			}
		}
		if bad := unknownActions(known, expected); len(bad) > 0 {
			t.Errorf("%s: expected grants name actions cfn-lint does not know: %v", path, bad)
		}
		if bad := unknownActions(known, templateActions(s)); len(bad) > 0 {
			t.Errorf("%s: the template grants actions cfn-lint does not know: %v", path, bad)
		}
		// The check itself: a misspelt action in the template is caught.
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		broken := strings.Replace(string(data), "Action: cases:UpdateCase\n", "Action: cases:UpdateCases\n", 1)
		if broken == string(data) {
			t.Fatalf("%s: no cases:UpdateCase grant to misspell", path)
		}
		bs, err := Load([]byte(broken), paramsFor(declared(t, path), params))
		if err != nil {
			t.Fatal(err)
		}
		if bad := unknownActions(known, templateActions(bs)); len(bad) != 1 || bad[0] != "cases:UpdateCases" {
			t.Errorf("%s: misspelt cases:UpdateCases not caught (unknown: %v)", path, bad)
		}
	}
	if bad := unknownActions(known, []string{"sqs:SendMesage", "kms:GenerateDataKeys", "nosuch:Thing"}); len(bad) != 3 {
		t.Errorf("misspellings not caught: %v", bad)
	}
}
