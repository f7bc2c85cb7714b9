package deploy

import (
	"os"
	"strings"
	"testing"
)

// brokenTemplate is one mutation of a template that a named check must catch.
type brokenTemplate struct {
	name   string // the subtest's name: what the mutation breaks
	check  string // the check that must fail once the mutation is applied
	mutate func(t *testing.T, s *Stack)
}

// TestChecksCatchBrokenTemplates applies each mutation to its template as
// loaded with only the required parameters, and requires the check named
// beside it to pass the template before and fail it after: a check that
// cannot fail proves nothing. The rows are in mutation_sam_test.go and
// mutation_ecs_test.go.
func TestChecksCatchBrokenTemplates(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	templates := []struct {
		path   string
		checks []check
		broken []brokenTemplate
	}{
		{samPath, samChecks(), samBrokenTemplates()},
		{ecsPath, ecsChecks(df.binaryPath), ecsBrokenTemplates()},
	}
	for _, tmpl := range templates {
		for _, tt := range tmpl.broken {
			c := checkNamed(t, tmpl.checks, tt.check)
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := mustLoad(t, tmpl.path, paramsFor(declared(t, tmpl.path), nil))
				if err := c.fn(s); err != nil {
					t.Fatalf("unbroken template already fails %s: %v", c.name, err)
				}
				tt.mutate(t, s)
				err := c.fn(s)
				if err == nil {
					t.Fatalf("check %s passed a template with %s", c.name, tt.name)
				}
				t.Logf("caught: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
			})
		}
	}
}

// checkNamed fails the test if cs has no check called name: a row naming a
// check that is gone would otherwise test nothing.
func checkNamed(t testing.TB, cs []check, name string) check {
	t.Helper()
	for _, c := range cs {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no check %q", name)
	return check{}
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
