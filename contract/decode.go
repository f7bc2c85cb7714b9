package contract

import (
	"io"

	"github.com/casebridge/casebridge/internal/jsonpool"

	"github.com/go-json-experiment/json/jsontext"
)

// Decode strictly decodes one contract v1 message, in canonical or shorthand
// form, and validates it. The error is always a *RejectionError.
//
// Strict means: keys match exactly (case included), unknown and duplicate
// keys are rejected, null is never a value except a shorthand field's,
// numbers must fit a float64, the text must be valid UTF-8 and hold exactly
// one JSON object. Decoding walks the tokens of jsontext (the mirror of Go's
// encoding/json/v2), which checks the syntax, so no generic decoding into
// interface{} ever loses a number's precision or a key's order.
func Decode(data []byte) (*Message, error) {
	p := jsonpool.Get(data)
	defer p.Release()
	d := decoder{dec: p.Decoder, data: data}
	m := new(Message)
	if rej := d.message(m); rej != nil {
		return nil, rej
	}
	fieldPath := fieldPaths(canonicalPaths)
	if d.shorthand {
		fieldPath = func(i int, _ string) string { return keyPath("fields", m.Fields[i].ID) }
	}
	if rej := m.validate(fieldPath); rej != nil {
		return nil, rej
	}
	return m, nil
}

type decoder struct {
	dec       *jsontext.Decoder
	data      []byte // the input, which the decoder reads in place
	src       string // one copy of data, made on first need, that strings slice
	shorthand bool
	scratch   []byte // unquoting buffer for values with escapes
}

// fieldLoc names a field being decoded without building its path string
// unless there is something to report.
type fieldLoc struct {
	i   int
	key string // set in shorthand form
}

func (l fieldLoc) path() string {
	if l.key != "" {
		return keyPath("fields", l.key)
	}
	return indexPath(l.i)
}

func (d *decoder) message(m *Message) *RejectionError {
	if d.dec.PeekKind() != '{' {
		if rej := d.syntax(); rej != nil {
			return rej
		}
		return reject("$", "message must be a JSON object")
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.convert(err)
	}
	var hasCase, hasFields bool
	for d.dec.PeekKind() != '}' {
		key, rej := d.name()
		if rej != nil {
			return rej
		}
		switch string(key) {
		case "domainId":
			if m.DomainID, rej = d.str("domainId"); rej == nil && m.DomainID == "" {
				rej = reject("domainId", "%s", lengthRule("", 1, MaxIDLength))
			}
		case "caseId":
			hasCase = true
			m.CaseID, rej = d.str("caseId")
		case "fields":
			hasFields = true
			rej = d.fields(m)
		case "performedBy":
			m.PerformedBy = new(PerformedBy)
			rej = d.performedBy(m.PerformedBy)
		case "version":
			if m.Version, rej = d.str("version"); rej == nil && m.Version == "" {
				rej = reject("version", "unsupported version \"\", only %q is accepted", Version)
			}
		case "eventId":
			if m.EventID, rej = d.str("eventId"); rej == nil && m.EventID == "" {
				rej = reject("eventId", "%s", lengthRule("", 1, MaxEventIDLength))
			}
		case "occurredAt":
			if m.OccurredAt, rej = d.str("occurredAt"); rej == nil && m.OccurredAt == "" {
				rej = reject("occurredAt", "not an RFC 3339 timestamp (e.g. 2026-11-25T09:00:00Z)")
			}
		default:
			rej = unknownKey("", key, "domainId, caseId, fields, performedBy, version, eventId, occurredAt")
		}
		if rej != nil {
			return rej
		}
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.convert(err)
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if rej := d.convert(err); rej != nil && err != nil {
			return rej
		}
		return reject("$", "unexpected data after the message object")
	}
	switch {
	case !hasCase:
		return reject("caseId", "required")
	case !hasFields:
		return reject("fields", "required")
	}
	return nil
}

// fields decodes the canonical list or the shorthand object.
func (d *decoder) fields(m *Message) *RejectionError {
	// Most messages set a few fields: one allocation instead of append's
	// doubling from one.
	m.Fields = make([]Field, 0, 8)
	switch d.dec.PeekKind() {
	case '[':
		d.dec.ReadToken()
		for i := 0; d.dec.PeekKind() != ']'; i++ {
			if i >= MaxFields {
				return reject("fields", "more than %d fields", MaxFields)
			}
			m.Fields = append(m.Fields, Field{})
			if rej := d.field(&m.Fields[i], fieldLoc{i: i}); rej != nil {
				return rej
			}
		}
	case '{':
		d.shorthand = true
		d.dec.ReadToken()
		for i := 0; d.dec.PeekKind() != '}'; i++ {
			if i >= MaxFields {
				return reject("fields", "more than %d fields", MaxFields)
			}
			key, rej := d.name()
			if rej != nil {
				return rej
			}
			loc := fieldLoc{i: i, key: string(key)}
			if loc.key == "" {
				return reject("fields", "a field id is empty (ids are 1 to %d characters)", MaxIDLength)
			}
			m.Fields = append(m.Fields, Field{ID: loc.key})
			if rej := d.shortValue(&m.Fields[i].Value, loc); rej != nil {
				return rej
			}
		}
	default:
		if rej := d.syntax(); rej != nil {
			return rej
		}
		return reject("fields", "must be a list of {\"id\", \"value\"} objects or an object of id: value pairs")
	}
	_, err := d.dec.ReadToken() // the closing ']' or '}'
	return d.convert(err)
}

// field decodes one {"id": …, "value": {…}} entry of the canonical form.
func (d *decoder) field(f *Field, loc fieldLoc) *RejectionError {
	if d.dec.PeekKind() != '{' {
		if rej := d.syntax(); rej != nil {
			return rej
		}
		return reject(loc.path(), "must be an object {\"id\", \"value\"}")
	}
	d.dec.ReadToken()
	var hasID, hasValue bool
	for d.dec.PeekKind() != '}' {
		key, rej := d.name()
		if rej != nil {
			return rej
		}
		switch string(key) {
		case "id":
			hasID = true
			if f.ID, rej = d.str(""); rej != nil {
				rej.Path = loc.path() + ".id"
			}
		case "value":
			hasValue = true
			rej = d.union(&f.Value, loc)
		default:
			rej = unknownKey(loc.path(), key, "id, value")
		}
		if rej != nil {
			return rej
		}
	}
	d.dec.ReadToken()
	switch {
	case !hasID:
		return reject(loc.path()+".id", "required")
	case !hasValue:
		return reject(loc.path()+".value", "required")
	}
	return nil
}

// shortValue decodes a shorthand field value: a JSON scalar or null picks
// the member by its JSON type; an object is a union as in canonical form.
func (d *decoder) shortValue(v *Value, loc fieldLoc) *RejectionError {
	switch d.dec.PeekKind() {
	case '"':
		s, rej := d.str("")
		v.String = &s
		return rej
	case '0':
		f, rej := d.num(loc.path)
		v.Double = &f
		return rej
	case 't', 'f':
		tok, err := d.dec.ReadToken()
		if err != nil { // a peeked 't' may still be a broken literal
			return d.convert(err)
		}
		b := tok.Bool()
		v.Boolean = &b
		return nil
	case 'n':
		if _, err := d.dec.ReadToken(); err != nil {
			return d.convert(err)
		}
		v.Empty = &Empty{}
		return nil
	case '{':
		return d.union(v, loc)
	default:
		if rej := d.syntax(); rej != nil {
			return rej
		}
		return reject(loc.path(), "must be a string, number, boolean, null or a value union object")
	}
}

// union decodes the five-member FieldValueUnion. Membership (zero or two
// members) is left to validation, which works on the types.
func (d *decoder) union(v *Value, loc fieldLoc) *RejectionError {
	path := func() string { return loc.path() + ".value" }
	if loc.key != "" {
		path = loc.path
	}
	if d.dec.PeekKind() != '{' {
		if rej := d.syntax(); rej != nil {
			return rej
		}
		return reject(path(), "must be an object with one of stringValue, doubleValue, booleanValue, emptyValue, userArnValue")
	}
	d.dec.ReadToken()
	for d.dec.PeekKind() != '}' {
		key, rej := d.name()
		if rej != nil {
			return rej
		}
		member := func() string { return path() + "." + string(key) }
		switch string(key) {
		case "stringValue", "userArnValue":
			var s string
			if s, rej = d.str(""); rej != nil {
				rej.Path = member()
				break
			}
			if key[0] == 's' {
				v.String = &s
			} else {
				v.UserArn = &s
			}
		case "doubleValue":
			if d.dec.PeekKind() != '0' {
				rej = d.typeError(member(), "a number")
				break
			}
			var f float64
			f, rej = d.num(member)
			v.Double = &f
		case "booleanValue":
			k := d.dec.PeekKind()
			if k != 't' && k != 'f' {
				rej = d.typeError(member(), "a boolean")
				break
			}
			tok, err := d.dec.ReadToken()
			if err != nil {
				return d.convert(err)
			}
			b := tok.Bool()
			v.Boolean = &b
		case "emptyValue":
			if d.dec.PeekKind() != '{' {
				rej = d.typeError(member(), "{}")
				break
			}
			val, err := d.dec.ReadValue()
			if err != nil {
				return d.convert(err)
			}
			if !isEmptyObject(val) {
				rej = reject(member(), "must be {} (no keys)")
			}
			v.Empty = &Empty{}
		default:
			rej = unknownKey(path(), key, "stringValue, doubleValue, booleanValue, emptyValue, userArnValue")
		}
		if rej != nil {
			return rej
		}
	}
	d.dec.ReadToken()
	return nil
}

func (d *decoder) performedBy(p *PerformedBy) *RejectionError {
	if d.dec.PeekKind() != '{' {
		return d.typeError("performedBy", "an object with userArn or customEntity")
	}
	d.dec.ReadToken()
	for d.dec.PeekKind() != '}' {
		key, rej := d.name()
		if rej != nil {
			return rej
		}
		var s string
		switch string(key) {
		case "userArn":
			if s, rej = d.str("performedBy.userArn"); rej == nil && s == "" {
				rej = reject("performedBy.userArn", "%s", lengthRule("", 1, MaxIDLength))
			}
			p.UserArn = s
		case "customEntity":
			if s, rej = d.str("performedBy.customEntity"); rej == nil && s == "" {
				rej = reject("performedBy.customEntity", "%s", lengthRule("", 1, MaxIDLength))
			}
			p.CustomEntity = s
		default:
			rej = unknownKey("performedBy", key, "userArn, customEntity")
		}
		if rej != nil {
			return rej
		}
	}
	d.dec.ReadToken()
	return nil
}
