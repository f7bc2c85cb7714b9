package deploy

import (
	"slices"
	"testing"
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
