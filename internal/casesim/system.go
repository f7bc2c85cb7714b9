package casesim

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

// systemField is one of the fields the service puts in every new domain, in
// namespace System, with the field's name as its id.
type systemField struct {
	name     string
	typ      types.FieldType
	readOnly bool     // set by the service; CreateCase and UpdateCase may not write it
	options  []string // SingleSelect options
}

// systemFields are the service's system fields as the Connect admin guide
// lists them. The set and the types are from the guide; which are read-only
// is the simulator's reading of "set by the system" there.
var systemFields = []systemField{
	{name: "title", typ: types.FieldTypeText},
	{name: "customer_id", typ: types.FieldTypeText},
	{name: "summary", typ: types.FieldTypeText},
	{name: "status", typ: types.FieldTypeSingleSelect, options: []string{"open", "closed"}},
	{name: "case_reason", typ: types.FieldTypeSingleSelect},
	{name: "assigned_user", typ: types.FieldTypeUser},
	{name: "case_id", typ: types.FieldTypeText, readOnly: true},
	{name: "reference_number", typ: types.FieldTypeText, readOnly: true},
	{name: "created_datetime", typ: types.FieldTypeDateTime, readOnly: true},
	{name: "last_updated_datetime", typ: types.FieldTypeDateTime, readOnly: true},
	{name: "last_closed_datetime", typ: types.FieldTypeDateTime, readOnly: true},
}

// requiredOnCreate are the system fields CreateCase requires whatever the
// template says.
var requiredOnCreate = []string{"title", "customer_id"}

// addSystemFields gives a domain created through CreateDomain the system
// fields, as the service does. Seeded domains get only what the seed lists,
// so existing seeds (whose custom "status" or "title" would clash) keep
// working.
func (s *Server) addSystemFields(d *domain, now time.Time) {
	for _, sf := range systemFields {
		f := &field{id: sf.name, name: sf.name, typ: sf.typ, namespace: types.FieldNamespaceSystem,
			readOnly: sf.readOnly, created: now, modified: now}
		f.arn = s.arn(d.id, "field", f.id)
		if len(sf.options) > 0 {
			opts := make([]option, len(sf.options))
			for i, v := range sf.options {
				opts[i] = option{Name: v, Value: v, Active: true}
			}
			f.setOptions(opts)
		}
		d.addField(f)
	}
}

// isSystem reports whether id names one of the domain's system fields.
func (d *domain) isSystem(id string) bool {
	f := d.fields[id]
	return f != nil && f.namespace == types.FieldNamespaceSystem
}

// stamp writes the system-set values a CreateCase (created) or UpdateCase
// gives a case, for the system fields the domain has. DateTimes are
// ISO-8601 stringValues, the simulator's guess at the wire form (see
// docs/message-format.md). The caller holds c.mu and d.mu.
func (d *domain) stamp(c *caseRec, now time.Time, created bool) {
	ts := &types.FieldValueUnionMemberStringValue{Value: now.UTC().Format(timeFormat)}
	if created {
		if d.isSystem("case_id") {
			c.values["case_id"] = &types.FieldValueUnionMemberStringValue{Value: c.id}
		}
		if d.isSystem("reference_number") {
			c.values["reference_number"] = &types.FieldValueUnionMemberStringValue{Value: c.id[:8]}
		}
		if d.isSystem("created_datetime") {
			c.values["created_datetime"] = ts
		}
	}
	if d.isSystem("last_updated_datetime") {
		c.values["last_updated_datetime"] = ts
	}
}

// markReadOnly makes a seeded domain's System fields named like the
// service's read-only system fields read-only, as in a domain made by
// CreateDomain.
func markReadOnly(d *domain) {
	for _, sf := range systemFields {
		if f := d.fields[sf.name]; sf.readOnly && f != nil && f.namespace == types.FieldNamespaceSystem {
			f.readOnly = true
		}
	}
}
