package deploy

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestParameterPatterns: the parameters whose wrong-but-plausible values
// deploy and then fail (or fail obscurely) refuse them up front, in both
// templates: a KMS key id or alias instead of the key ARN, a Connect
// instance ARN instead of its id, a cluster ARN instead of its name.
func TestParameterPatterns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		param     string
		good, bad []string
	}{
		{"KmsKeyArn",
			[]string{"", allOn["KmsKeyArn"], "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
			[]string{"1234abcd-12ab-34cd-56ef-1234567890ab", "alias/casebridge", "arn:aws:kms:eu-west-1:123456789012:alias/casebridge", " " + allOn["KmsKeyArn"]}},
		{"ConnectInstanceId",
			[]string{"", allOn["ConnectInstanceId"]},
			[]string{"arn:aws:connect:eu-west-1:123456789012:instance/" + allOn["ConnectInstanceId"], "my-instance"}},
		{"ExistingClusterName",
			[]string{"", "shared", "prod_cluster-2"},
			[]string{"arn:aws:ecs:eu-west-1:123456789012:cluster/shared", "a/b"}},
	}
	for _, path := range []string{samPath, ecsPath} {
		decl := declared(t, path)
		for _, c := range cases {
			p, ok := decl[c.param]
			if !ok {
				continue
			}
			if p.AllowedPattern == nil {
				t.Errorf("%s: %s has no AllowedPattern", path, c.param)
				continue
			}
			// CloudFormation matches the whole value; anchor as it does.
			re, err := regexp.Compile("^(?:" + *p.AllowedPattern + ")$")
			if err != nil {
				t.Fatalf("%s: %s: %v", path, c.param, err)
			}
			for _, v := range c.good {
				if !re.MatchString(v) {
					t.Errorf("%s: %s refuses %q", path, c.param, v)
				}
			}
			for _, v := range c.bad {
				if re.MatchString(v) {
					t.Errorf("%s: %s accepts %q", path, c.param, v)
				}
			}
		}
	}
}

// TestMinTasksAboveMaxTasksRefused: the template's rule refuses MinTasks >
// MaxTasks for every MaxTasks, and accepts MinTasks = MaxTasks; without the
// rule the same parameters load (so the test sees the rule, not the loader).
func TestMinTasksAboveMaxTasksRefused(t *testing.T) {
	t.Parallel()
	decl := declared(t, ecsPath)
	for max := 1; max < 10; max++ {
		mx := strconvI(max)
		if _, err := LoadFile(ecsPath, paramsFor(decl, map[string]string{"MinTasks": strconvI(max + 1), "MaxTasks": mx})); !errors.Is(err, ErrRule) {
			t.Errorf("MinTasks %d, MaxTasks %d: %v, want the rule to refuse", max+1, max, err)
		}
		if _, err := LoadFile(ecsPath, paramsFor(decl, map[string]string{"MinTasks": mx, "MaxTasks": mx})); err != nil {
			t.Errorf("MinTasks = MaxTasks = %d: %v", max, err)
		}
	}
	data, err := os.ReadFile(ecsPath)
	if err != nil {
		t.Fatal(err)
	}
	const rule = "MinTasksNotAboveMaxTasks:"
	if !strings.Contains(string(data), rule) {
		t.Fatalf("no %s rule", rule)
	}
	broken := strings.Replace(string(data), "\nRules:\n", "\nMetadata:\n", 1) // the rule, parked where nothing evaluates it
	if _, err := Load([]byte(broken), paramsFor(decl, map[string]string{"MinTasks": "3", "MaxTasks": "2"})); err != nil {
		t.Errorf("without the rule MinTasks 3 > MaxTasks 2 should load: %v", err)
	}
}

func strconvI(i int) string { return strconv.Itoa(i) }
