package contract

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// RejectionError says why a message breaks the contract. It is permanent:
// sending the same message again can never succeed.
type RejectionError struct {
	// Path locates the offending part of the message, e.g. "fields[2].value";
	// empty or "$" when the message as a whole is at fault.
	Path string
	// Rule is the broken rule in words a publisher can act on.
	Rule string
}

func (e *RejectionError) Error() string {
	if e.Path == "" {
		return e.Rule
	}
	return e.Path + ": " + e.Rule
}

func reject(path, format string, args ...any) *RejectionError {
	return &RejectionError{Path: path, Rule: fmt.Sprintf(format, args...)}
}

// CustomEntityPattern is the API model's pattern for performedBy.customEntity,
// anchored because the service matches the whole value.
const CustomEntityPattern = `^[a-zA-Z0-9_\-\.@:/ ]*[a-zA-Z0-9_\-\.@:/]$`

// matchesCustomEntity is CustomEntityPattern without a regexp engine (which
// cost a tenth of decoding a message): every character is in the class,
// space included, and the last one is not a space.
func matchesCustomEntity(s string) bool {
	if s == "" || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '-', c == '.', c == '@', c == ':', c == '/', c == ' ':
		default:
			return false
		}
	}
	return true
}

// Validate checks m against every contract v1 rule that the types can break.
// It returns nil or a *RejectionError naming the first offending path.
// An empty DomainID passes: whether a default domain exists is the consumer's
// business.
func (m *Message) Validate() error {
	if err := m.validate(canonicalPaths); err != nil {
		return err
	}
	return nil
}

// indexPath names field i by its position, as in the canonical form.
func indexPath(i int) string { return "fields[" + strconv.Itoa(i) + "]" }

// fieldPaths names a field's id and value in rejections: fields[2].id and
// fields[2].value in canonical form; the decoder names a shorthand field
// by its key (fields.status) for both.
type fieldPaths func(i int, part string) string

func canonicalPaths(i int, part string) string { return indexPath(i) + "." + part }

// validate returns a *RejectionError rather than error so that in-package
// callers can edit the path; fieldPath names fields in the message's form.
func (m *Message) validate(fieldPath fieldPaths) *RejectionError {
	if m.DomainID != "" {
		if rule := idRule(m.DomainID); rule != "" {
			return reject("domainId", "%s", rule)
		}
	}
	if rule := idRule(m.CaseID); rule != "" {
		return reject("caseId", "%s", rule)
	}
	switch n := len(m.Fields); {
	case n == 0:
		return reject("fields", "must hold at least one field (a message that changes nothing is a publisher bug)")
	case n > MaxFields:
		return reject("fields", "has %d fields, at most %d allowed", n, MaxFields)
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if rule := idRule(f.ID); rule != "" {
			return reject(fieldPath(i, "id"), "%s", rule)
		}
		if rule := f.Value.rule(); rule != nil {
			rule.Path = fieldPath(i, "value") + rule.Path
			return rule
		}
	}
	if i, j := duplicateID(m.Fields); i >= 0 {
		return reject(fieldPath(j, "id"), "duplicate field id %q (also %s)", m.Fields[j].ID, fieldPath(i, "id"))
	}
	if p := m.PerformedBy; p != nil {
		if err := p.validate("performedBy"); err != nil {
			return err
		}
	}
	if m.Version != "" && m.Version != Version {
		return reject("version", "unsupported version %q, only %q is accepted", m.Version, Version)
	}
	if m.EventID != "" {
		if rule := orRule(lengthRule(m.EventID, 1, MaxEventIDLength), controlRule(m.EventID, false)); rule != "" {
			return reject("eventId", "%s", rule)
		}
	}
	if m.OccurredAt != "" {
		if _, err := time.Parse(time.RFC3339, m.OccurredAt); err != nil {
			return reject("occurredAt", "not an RFC 3339 timestamp (e.g. 2026-11-25T09:00:00Z)")
		}
	}
	return nil
}

// duplicateID returns the positions of the first repeated id, or -1, -1.
// Messages carry a handful of fields, so a quadratic scan beats a map's
// allocation; big messages still get a map.
func duplicateID(fields []Field) (first, again int) {
	if len(fields) <= 16 {
		for j := 1; j < len(fields); j++ {
			for i := 0; i < j; i++ {
				if fields[i].ID == fields[j].ID {
					return i, j
				}
			}
		}
		return -1, -1
	}
	seen := make(map[string]int, len(fields))
	for j := range fields {
		if i, dup := seen[fields[j].ID]; dup {
			return i, j
		}
		seen[fields[j].ID] = j
	}
	return -1, -1
}

// rule returns nil or a rejection whose Path is relative to the value
// (empty, or ".stringValue" and the like); callers prefix their own path.
func (v *Value) rule() *RejectionError {
	const path = ""
	names, n := v.members()
	switch n {
	case 0:
		return reject(path, "union has no member (set one of stringValue, doubleValue, booleanValue, emptyValue, userArnValue)")
	case 1:
	case 2:
		return reject(path, "union has both %s and %s", names[0], names[1])
	default:
		return reject(path, "union has %d members, exactly one allowed", n)
	}
	switch {
	case v.String != nil:
		if rule := orRule(byteLengthRule(*v.String, MaxStringValueLength), controlRule(*v.String, true)); rule != "" {
			return reject(".stringValue", "%s", rule)
		}
	case v.Double != nil:
		if math.IsNaN(*v.Double) || math.IsInf(*v.Double, 0) {
			return reject(".doubleValue", "must be a finite number")
		}
	case v.UserArn != nil:
		if rule := controlRule(*v.UserArn, false); rule != "" {
			return reject(".userArnValue", "%s", rule)
		}
	}
	return nil
}

func (p *PerformedBy) validate(path string) *RejectionError {
	switch {
	case p.UserArn != "" && p.CustomEntity != "":
		return reject(path, "union has both userArn and customEntity")
	case p.UserArn != "":
		if rule := idRule(p.UserArn); rule != "" {
			return reject(path+".userArn", "%s", rule)
		}
		return nil
	case p.CustomEntity != "":
		if rule := lengthRule(p.CustomEntity, 1, MaxIDLength); rule != "" {
			return reject(path+".customEntity", "%s", rule)
		}
		if !matchesCustomEntity(p.CustomEntity) {
			return reject(path+".customEntity", "must match %s", CustomEntityPattern)
		}
		return nil
	default:
		return reject(path, "union has no member (set userArn or customEntity, or leave performedBy out)")
	}
}

// idRule checks an identifier: 1 to MaxIDLength code points, no control characters.
func idRule(s string) string {
	return orRule(lengthRule(s, 1, MaxIDLength), controlRule(s, false))
}

func orRule(first, second string) string {
	if first != "" {
		return first
	}
	return second
}

// controlRule rejects control characters (U+0000–U+001F, U+007F): escaped in
// JSON they decode fine, but no case field or id should carry a NUL or an
// escape sequence. Text values may hold tab, line feed and carriage return.
func controlRule(s string, text bool) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != 0x7f {
			continue
		}
		if text && (c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		return fmt.Sprintf("control character U+%04X at character %d is not allowed", c, utf8.RuneCountInString(s[:i])+1)
	}
	return ""
}

// byteLengthRule returns "" when s has at most hi bytes of UTF-8; see
// MaxStringValueLength for why bytes.
func byteLengthRule(s string, hi int) string {
	if len(s) <= hi {
		return ""
	}
	return fmt.Sprintf("length %d bytes in UTF-8, at most %d bytes", len(s), hi)
}

// lengthRule returns "" when s has lo to hi code points (the service counts
// code points), else the broken rule.
func lengthRule(s string, lo, hi int) string {
	// len(s) bounds the rune count from above, so most values skip counting.
	if len(s) >= lo && len(s) <= hi {
		return ""
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n >= lo && n <= hi:
		return ""
	case lo == 0:
		return fmt.Sprintf("length %d, at most %d characters", n, hi)
	default:
		return fmt.Sprintf("length %d, must be %d to %d characters", n, lo, hi)
	}
}
