package casesim

import (
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// Limits from the service model (botocore connectcases 2022-10-03).
const (
	maxIDLen          = 500
	maxFieldValues    = 220
	maxStringValue    = 4100 // UTF-8 bytes (the stricter reading of "characters")
	maxSummaryValue   = 3000 // the system summary field, UTF-8 bytes likewise
	maxNameLen        = 100
	maxDescriptionLen = 255
	maxBatchGetFields = 50
	maxRequiredFields = 100 // a template's requiredFields
)

var customEntityPattern = regexp.MustCompile(`^[a-zA-Z0-9_\-\.@:/ ]*[a-zA-Z0-9_\-\.@:/]$`)

type option struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Active bool   `json:"active"`
}

type field struct {
	id, name, arn, description string
	typ                        types.FieldType
	namespace                  types.FieldNamespace
	options                    []option
	active                     map[string]bool // active option values; empty = any value
	deleted                    bool
	created, modified          time.Time
	attributes                 *wireAttributes // as created; nil when none were given
	readOnly                   bool            // a system field only the service sets
}

func (f *field) setOptions(opts []option) {
	f.options = opts
	f.active = make(map[string]bool, len(opts))
	for _, o := range opts {
		if o.Active {
			f.active[o.Value] = true
		}
	}
}

type template struct {
	id, name, arn string
	status        types.TemplateStatus
	required      map[string]bool
}

type caseRec struct {
	mu         sync.Mutex
	id, arn    string
	templateID string
	values     map[string]types.FieldValueUnion
}

// domain holds one Cases domain. mu guards the catalogue (fields,
// templates, the case index); each case has its own lock so updates to
// different cases never wait for each other.
type domain struct {
	id, name, arn string
	created       time.Time

	mu           sync.RWMutex
	fields       map[string]*field
	fieldOrder   []string // creation order, for ListFields
	fieldByName  map[string]string
	templates    map[string]*template
	tmplByName   map[string]string
	cases        map[string]*caseRec
	clientTokens map[string]tokenUse // CreateCase idempotency
}

func newDomain(id, name, arn string, now time.Time) *domain {
	return &domain{
		id: id, name: name, arn: arn, created: now,
		fields: map[string]*field{}, fieldByName: map[string]string{},
		templates: map[string]*template{}, tmplByName: map[string]string{},
		cases: map[string]*caseRec{}, clientTokens: map[string]tokenUse{},
	}
}

func (d *domain) addField(f *field) {
	d.fields[f.id] = f
	d.fieldOrder = append(d.fieldOrder, f.id)
	d.fieldByName[f.name] = f.id
}

// checkLen reports a length violation in code points, as the service counts.
func checkLen(path, s string, minLen, maxLen int) *apiError {
	n := utf8.RuneCountInString(s)
	if n < minLen || n > maxLen {
		return validationf("%s: length %d is outside %d..%d", path, n, minLen, maxLen)
	}
	return nil
}

// checkFieldShapes validates what the model alone constrains (counts,
// lengths, one union member), before any resource is looked up.
func checkFieldShapes(fields []wireFieldValue) *apiError {
	if len(fields) > maxFieldValues {
		return validationf("fields: %d entries exceed the maximum of %d", len(fields), maxFieldValues)
	}
	for i := range fields {
		fv := &fields[i]
		if fv.ID == nil {
			return validationf("fields[%d].id: required", i)
		}
		if n := utf8.RuneCountInString(*fv.ID); n < 1 || n > maxIDLen {
			return validationf("fields[%d].id: length %d is outside 1..%d", i, n, maxIDLen)
		}
		if fv.Value == nil {
			return validationf("fields[%d].value: required", i)
		}
		if _, n := fv.Value.member(); n != 1 {
			return validationf("fields[%d].value: union must set exactly one member, got %d", i, n)
		}
		// Text limits count UTF-8 bytes: the model says 4100 characters and
		// that multi-byte text lowers the limit without saying how, so the
		// simulator takes the strictest reading (contract.MaxStringValueLength
		// takes the same one).
		if s := fv.Value.StringValue; s != nil && len(*s) > maxStringValue {
			return validationf("fields[%d].value.stringValue: %d bytes in UTF-8 exceed the maximum of %d", i, len(*s), maxStringValue)
		}
		if d := fv.Value.DoubleValue; d != nil && (math.IsNaN(float64(*d)) || math.IsInf(float64(*d), 0)) {
			return validationf("fields[%d].value.doubleValue: must be a finite number", i)
		}
	}
	return nil
}

// checkPerformedBy validates performedBy's shape and then, with
// DenyUserArn, answers as the service does to a caller without
// connect:DescribeUser on the named user.
func (s *Server) checkPerformedBy(u *wireUser) *apiError {
	if e := checkPerformedByShape(u); e != nil || u == nil || u.UserArn == nil || !s.denyUserArn {
		return e
	}
	return &apiError{status: http.StatusForbidden, code: "AccessDeniedException",
		message: "User is not authorized to perform: connect:DescribeUser on resource: " + *u.UserArn}
}

func checkPerformedByShape(u *wireUser) *apiError {
	if u == nil {
		return nil
	}
	switch {
	case u.UserArn != nil && u.CustomEntity != nil, u.UserArn == nil && u.CustomEntity == nil:
		return validationf("performedBy: union must set exactly one of userArn, customEntity")
	case u.UserArn != nil:
		return checkLen("performedBy.userArn", *u.UserArn, 1, maxIDLen)
	default:
		if err := checkLen("performedBy.customEntity", *u.CustomEntity, 1, maxIDLen); err != nil {
			return err
		}
		if !customEntityPattern.MatchString(*u.CustomEntity) {
			return validationf("performedBy.customEntity: does not match pattern %s", customEntityPattern)
		}
	}
	return nil
}

// wantMember is the union member each field type takes. DateTime takes an
// ISO-8601 stringValue here; the service's representation is unverified.
func wantMember(t types.FieldType) string {
	switch t {
	case types.FieldTypeNumber:
		return "doubleValue"
	case types.FieldTypeBoolean:
		return "booleanValue"
	case types.FieldTypeUser:
		return "userArnValue"
	default:
		return "stringValue"
	}
}

// checkFieldValues validates values against the domain's catalogue and
// converts them. has reports whether the case already holds a value for a
// field (deleted fields stay writable then); tmpl may be nil. The caller
// holds d.mu for reading and the case's lock, if any.
func (d *domain) checkFieldValues(fields []wireFieldValue, has func(string) bool, tmpl *template) ([]types.FieldValue, *apiError) {
	out := make([]types.FieldValue, len(fields))
	var seen map[string]int
	if len(fields) > 8 {
		seen = make(map[string]int, len(fields))
	}
	for i := range fields {
		id, u := *fields[i].ID, fields[i].Value
		if seen != nil {
			if j, dup := seen[id]; dup {
				return nil, validationf("fields[%d].id: duplicate field id %q (also fields[%d])", i, id, j)
			}
			seen[id] = i
		} else {
			for j := 0; j < i; j++ {
				if *fields[j].ID == id {
					return nil, validationf("fields[%d].id: duplicate field id %q (also fields[%d])", i, id, j)
				}
			}
		}
		f, ok := d.fields[id]
		if !ok {
			return nil, validationf("fields[%d].id: field %q does not exist in domain %s", i, id, d.id)
		}
		if f.deleted && (has == nil || !has(id)) {
			return nil, validationf("fields[%d].id: field %q is deleted and the case has no value for it", i, id)
		}
		if f.readOnly {
			return nil, validationf("fields[%d].id: system field %q is set by the service and cannot be written", i, id)
		}
		member, _ := u.member()
		if member == "emptyValue" {
			if tmpl != nil && tmpl.required[id] {
				return nil, validationf("fields[%d].value: field %q is required by template %q and cannot be cleared", i, id, tmpl.name)
			}
		} else if want := wantMember(f.typ); member != want {
			return nil, validationf("fields[%d].value: field %q has type %s, which takes %s, not %s", i, id, f.typ, want, member)
		} else if member == "stringValue" {
			if err := checkString(i, f, *u.StringValue); err != nil {
				return nil, err
			}
		}
		out[i] = types.FieldValue{Id: fields[i].ID, Value: u.toSDK()}
	}
	return out, nil
}

func checkString(i int, f *field, s string) *apiError {
	switch f.typ {
	case types.FieldTypeSingleSelect:
		if len(f.active) > 0 && !f.active[s] {
			return validationf("fields[%d].value.stringValue: %q is not an active option of field %q (options: %s)", i, s, f.id, strings.Join(f.activeValues(), ", "))
		}
	case types.FieldTypeDateTime:
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return validationf("fields[%d].value.stringValue: field %q has type DateTime and takes an ISO-8601 timestamp", i, f.id)
		}
	}
	if f.id == "summary" && len(s) > maxSummaryValue {
		return validationf("fields[%d].value.stringValue: field summary takes at most %d bytes in UTF-8, not %d", i, maxSummaryValue, len(s))
	}
	return nil
}

func (f *field) activeValues() []string {
	vs := make([]string, 0, len(f.active))
	for _, o := range f.options {
		if o.Active {
			vs = append(vs, o.Value)
		}
	}
	return vs
}

// apply writes validated values; emptyValue removes the value. The caller
// holds c.mu.
func (c *caseRec) apply(fields []types.FieldValue) {
	for _, fv := range fields {
		if _, empty := fv.Value.(*types.FieldValueUnionMemberEmptyValue); empty {
			delete(c.values, *fv.Id)
			continue
		}
		c.values[*fv.Id] = fv.Value
	}
}

func (c *caseRec) snapshot() map[string]types.FieldValueUnion {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]types.FieldValueUnion, len(c.values))
	for k, v := range c.values {
		m[k] = cloneUnion(v)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
