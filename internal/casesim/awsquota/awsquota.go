// Package awsquota holds AWS's published default API quotas for Amazon
// Connect Cases, per account and Region. They live here, in a package of
// their own with no dependencies, so that the simulator (casesim's
// --quotas aws-default) and the client side (the field catalog's pacing)
// read the same numbers: a change to AWS's table is made once.
//
// Source: AWS's "Amazon Connect Cases API throttling quotas" table, read
// 2026-12. Every value is adjustable per account through Service Quotas,
// and AWS has lowered them before (the 2023 table had UpdateCase and
// CreateCase at 10/s), so callers must take the applied value from
// configuration; these are only the defaults.
package awsquota

import "sort"

// Quota is a token bucket: Rate calls per second on average, at most Burst
// at once.
type Quota struct {
	Rate  float64
	Burst int
}

// ControlPlane is the default for the operations the table lumps together
// as "the other control-plane calls" (ListFields, CreateField, UpdateField,
// BatchPutFieldOptions, CreateDomain, CreateTemplate, …).
var ControlPlane = Quota{Rate: 2, Burst: 5}

// named lists every operation whose default differs from ControlPlane, and
// the control-plane operations the simulator serves, so For and Defaults
// can name them.
var named = map[string]Quota{
	"UpdateCase":          {Rate: 2, Burst: 2},
	"ListCasesForContact": {Rate: 2, Burst: 2},
	"CreateCase":          {Rate: 2, Burst: 10},
	"SearchCases":         {Rate: 2, Burst: 10},
	"ListTemplates":       {Rate: 2, Burst: 10},
	"GetCase":             {Rate: 4, Burst: 10},
	"BatchGetField":       {Rate: 8, Burst: 25},
	"ListFieldOptions":    {Rate: 6, Burst: 16},

	"CreateDomain":         ControlPlane,
	"CreateField":          ControlPlane,
	"ListFields":           ControlPlane,
	"DeleteField":          ControlPlane,
	"UpdateField":          ControlPlane,
	"BatchPutFieldOptions": ControlPlane,
	"CreateTemplate":       ControlPlane,
}

// For returns the default quota of an operation; operations the table does
// not name are control-plane calls.
func For(op string) Quota {
	if q, ok := named[op]; ok {
		return q
	}
	return ControlPlane
}

// Defaults returns a fresh copy of the named operations' defaults.
func Defaults() map[string]Quota {
	out := make(map[string]Quota, len(named))
	for op, q := range named {
		out[op] = q
	}
	return out
}

// Operations returns the named operations, sorted.
func Operations() []string {
	ops := make([]string, 0, len(named))
	for op := range named {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}
