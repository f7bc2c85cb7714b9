// Package contract defines message contract v1, the JSON document upstream
// systems publish to ask casebridge to update one Amazon Connect case, and
// holds the one implementation of its rules.
//
// The rules live on the Go types (Message.Validate), not in the JSON decoder,
// so a publisher that builds messages in Go checks them with the same code
// the consumer runs. Decode adds what only the JSON form can get wrong:
// unknown or duplicate keys, wrong JSON types, null union members, numbers
// that overflow float64, invalid UTF-8.
package contract

// Version is the only contract version this package accepts. A message may
// omit it; any other value is rejected so that a v2 can be told apart.
const Version = "1"

// Limits from the UpdateCase API model; exceeding them would only earn a
// ValidationException from the service, so they are checked before sending.
// Lengths count Unicode code points, except MaxStringValueLength.
const (
	MaxIDLength = 500 // domainId, caseId, field id, performedBy members
	// MaxStringValueLength bounds a stringValue in UTF-8 bytes. The model
	// says 4100 characters and that multi-byte text lowers the effective
	// limit, without saying how; counting bytes is the strictest reading,
	// and the simulator (internal/casesim) takes the same one, so a value
	// this check passes is one the simulator accepts too.
	MaxStringValueLength = 4100
	MaxFields            = 220 // entries in fields
	MaxEventIDLength     = 128 // eventId (an SQS FIFO deduplication id is at most 128)
)

// Message is one contract v1 message: "set these fields on this case".
// Its JSON encoding (encoding/json or v2) is the canonical form.
type Message struct {
	// DomainID may be empty when the consumer has a default domain.
	DomainID string `json:"domainId,omitempty"`
	// CaseID is required.
	CaseID string `json:"caseId"`
	// Fields holds 1 to MaxFields entries, applied in order.
	Fields []Field `json:"fields"`
	// PerformedBy is optional; when set it names exactly one member.
	PerformedBy *PerformedBy `json:"performedBy,omitempty"`
	// Version is empty or "1".
	Version string `json:"version,omitempty"`
	// EventID is empty or 1 to MaxEventIDLength code points; logged, and the
	// publisher's FIFO deduplication id.
	EventID string `json:"eventId,omitempty"`
	// OccurredAt is empty or an RFC 3339 timestamp. Kept as text so that the
	// rule can be checked on the type and the publisher's value is logged as sent.
	OccurredAt string `json:"occurredAt,omitempty"`
}

// Field is one entry of Message.Fields, the API's FieldValue.
type Field struct {
	ID    string `json:"id"`
	Value Value  `json:"value"`
}

// Value is the API's FieldValueUnion: exactly one member must be set.
// Pointers let a zero value ("" or 0 or false) be told apart from an unset
// member, and let Validate report a union with two members.
type Value struct {
	String  *string  `json:"stringValue,omitempty"`
	Double  *float64 `json:"doubleValue,omitempty"`
	Boolean *bool    `json:"booleanValue,omitempty"`
	Empty   *Empty   `json:"emptyValue,omitempty"`
	UserArn *string  `json:"userArnValue,omitempty"`
}

// Empty is the emptyValue member, encoded as {}; it clears the field.
type Empty struct{}

// PerformedBy is the API's UserUnion: set exactly one of the two members.
type PerformedBy struct {
	UserArn      string `json:"userArn,omitempty"`
	CustomEntity string `json:"customEntity,omitempty"`
}

// StringValue returns a Value holding s as stringValue.
func StringValue(s string) Value { return Value{String: &s} }

// DoubleValue returns a Value holding f as doubleValue.
func DoubleValue(f float64) Value { return Value{Double: &f} }

// BooleanValue returns a Value holding b as booleanValue.
func BooleanValue(b bool) Value { return Value{Boolean: &b} }

// EmptyValue returns a Value that clears the field.
func EmptyValue() Value { return Value{Empty: &Empty{}} }

// UserArnValue returns a Value holding arn as userArnValue.
func UserArnValue(arn string) Value { return Value{UserArn: &arn} }

// members lists the names of the union members that are set, in the API's order.
func (v Value) members() (names [5]string, n int) {
	add := func(set bool, name string) {
		if set {
			names[n] = name
			n++
		}
	}
	add(v.String != nil, "stringValue")
	add(v.Double != nil, "doubleValue")
	add(v.Boolean != nil, "booleanValue")
	add(v.Empty != nil, "emptyValue")
	add(v.UserArn != nil, "userArnValue")
	return names, n
}
