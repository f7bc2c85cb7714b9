package consumer

import (
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// PerformedByPolicy is the deployment's rule for the audit claim publishers
// make in performedBy. The zero value allows everything and adds nothing.
type PerformedByPolicy struct {
	// AllowCustomEntities, if not empty, lists the customEntity values allowed:
	// exact values or path.Match patterns such as "billing-*".
	AllowCustomEntities []string
	// ForbidUserArn rejects performedBy.userArn (using it needs connect:DescribeUser).
	ForbidUserArn bool
	// Default is applied when a message has no performedBy; nil adds none.
	Default types.UserUnion
}

// ParsePerformedBy builds a policy from its settings: a comma-separated allow
// list, the userArn switch, and a default ("arn:…" is a userArn, anything else
// a customEntity). A malformed pattern is an error.
func ParsePerformedBy(allow string, forbidUserArn bool, def string) (PerformedByPolicy, error) {
	p := PerformedByPolicy{ForbidUserArn: forbidUserArn}
	for _, pat := range strings.Split(allow, ",") {
		if pat = strings.TrimSpace(pat); pat == "" {
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			return PerformedByPolicy{}, fmt.Errorf("customEntity pattern %q: %w", pat, err)
		}
		p.AllowCustomEntities = append(p.AllowCustomEntities, pat)
	}
	switch def = strings.TrimSpace(def); {
	case def == "":
	case strings.HasPrefix(def, "arn:"):
		p.Default = &types.UserUnionMemberUserArn{Value: def}
	default:
		p.Default = &types.UserUnionMemberCustomEntity{Value: def}
	}
	if err := p.check(p.Default); err != nil {
		return PerformedByPolicy{}, fmt.Errorf("the default performedBy breaks the policy itself: %w", err)
	}
	return p, nil
}

// apply fills in the default and checks in's performedBy; the error says
// which rule was broken, never the whole claim's context.
func (p *PerformedByPolicy) apply(in *connectcases.UpdateCaseInput) error {
	if in.PerformedBy == nil {
		in.PerformedBy = p.Default
		return nil
	}
	return p.check(in.PerformedBy)
}

func (p *PerformedByPolicy) check(u types.UserUnion) error {
	switch v := u.(type) {
	case *types.UserUnionMemberUserArn:
		if p.ForbidUserArn {
			return fmt.Errorf("performedBy.userArn is not allowed by this deployment (CASEBRIDGE_PERFORMED_BY_USER_ARN=forbid)")
		}
	case *types.UserUnionMemberCustomEntity:
		if len(p.AllowCustomEntities) == 0 {
			return nil
		}
		for _, pat := range p.AllowCustomEntities {
			if ok, _ := path.Match(pat, v.Value); ok {
				return nil
			}
		}
		return fmt.Errorf("performedBy.customEntity is not in this deployment's allow list (CASEBRIDGE_PERFORMED_BY_ALLOW: %s)",
			strings.Join(p.AllowCustomEntities, ", "))
	}
	return nil
}
