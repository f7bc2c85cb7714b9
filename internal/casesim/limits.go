package casesim

import (
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// Limits are the service's resource quotas; past one, the creating call is
// answered 402 ServiceQuotaExceededException. They are adjustable per
// account in AWS, hence settable here; a zero member takes AWS's default.
// Seeds (LoadSeed) are not checked against them: a seed describes a domain
// that already exists.
type Limits struct {
	Domains            int // per account; default 5
	FieldsPerDomain    int // custom fields, deleted ones included; default 500
	OptionsPerField    int // options of one SingleSelect field, inactive ones included; default 500
	TemplatesPerDomain int // default 100
}

// DefaultLimits are AWS's default resource quotas (Amazon Connect Cases
// service quotas, read 2026-12).
var DefaultLimits = Limits{Domains: 5, FieldsPerDomain: 500, OptionsPerField: 500, TemplatesPerDomain: 100}

func (l Limits) withDefaults() Limits {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	d := DefaultLimits
	return Limits{pick(l.Domains, d.Domains), pick(l.FieldsPerDomain, d.FieldsPerDomain),
		pick(l.OptionsPerField, d.OptionsPerField), pick(l.TemplatesPerDomain, d.TemplatesPerDomain)}
}

func quotaExceeded(format string, args ...any) *apiError {
	return &apiError{status: http.StatusPaymentRequired, code: "ServiceQuotaExceededException", message: fmt.Sprintf(format, args...)}
}

// The checks below run with the lock that guards the counted set held.

func (s *Server) checkDomainLimit() *apiError {
	if n := len(s.domains); n >= s.limits.Domains {
		return quotaExceeded("the account has %d domains; the quota is %d per account and Region", n, s.limits.Domains)
	}
	return nil
}

// checkFieldLimit counts deleted custom fields too: whether deleting a
// field frees its place is not documented, so the simulator takes the
// stricter reading (docs/casesim.md lists it as a guess).
func (s *Server) checkFieldLimit(d *domain) *apiError {
	n := 0
	for _, f := range d.fields {
		if f.namespace != types.FieldNamespaceSystem {
			n++
		}
	}
	if n >= s.limits.FieldsPerDomain {
		return quotaExceeded("domain %s has %d fields; the quota is %d per domain", d.id, n, s.limits.FieldsPerDomain)
	}
	return nil
}

func (s *Server) checkOptionLimit(f *field, n int) *apiError {
	if n > s.limits.OptionsPerField {
		return quotaExceeded("field %s would have %d options; the quota is %d per field", f.id, n, s.limits.OptionsPerField)
	}
	return nil
}

func (s *Server) checkTemplateLimit(d *domain) *apiError {
	if n := len(d.templates); n >= s.limits.TemplatesPerDomain {
		return quotaExceeded("domain %s has %d templates; the quota is %d per domain", d.id, n, s.limits.TemplatesPerDomain)
	}
	return nil
}
