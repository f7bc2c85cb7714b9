// Package mapper turns one SQS message body into a Connect Cases UpdateCase
// request (or, by a mapping rule, a request waiting for its case lookup), or
// into a rejection a person can act on.
//
// The steps are: unwrap the envelope (raw, SNS notification, EventBridge
// event; one level) → decode contract v1 strictly → validate (the contract
// package's rules, plus "there is a domain") → build the request. Nothing
// here calls AWS.
package mapper

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/rules"
)

// RejectionError is the contract's rejection: a message that can never
// succeed, whatever is retried. Classify with errors.As.
type RejectionError = contract.RejectionError

// DefaultMaxBodyBytes is the SQS message size limit.
const DefaultMaxBodyBytes = 1 << 20

// Envelope names, as reported in Mapped.Envelope.
const (
	EnvelopeRaw         = "raw"
	EnvelopeSNS         = "sns"
	EnvelopeEventBridge = "eventbridge"
)

// Config is the deployment's part of mapping.
type Config struct {
	DefaultDomainID string // used when the message has no domainId
	MaxBodyBytes    int    // 0 means 1 MiB (the SQS limit)
	// Rules, if set, map events that upstream systems send in their own
	// shape (MapEvent); nil maps contract v1 only.
	Rules *rules.Set
}

// Mapper maps message bodies to UpdateCase requests. The zero value works
// (no default domain, 1 MiB limit). A Mapper is safe for concurrent use.
type Mapper struct {
	cfg Config
}

// New returns a Mapper using contract v1.
func New(cfg Config) *Mapper {
	return &Mapper{cfg: cfg}
}

// Mapped is an accepted message.
type Mapped struct {
	Input      *connectcases.UpdateCaseInput
	EventID    string
	OccurredAt time.Time // zero when absent
	Envelope   string    // "raw", "sns" or "eventbridge"
	// Rule names the mapping rule that mapped the body; "" for contract v1.
	Rule string
	// Lookup, when set, is the case lookup that must supply Input.CaseId
	// (nil until then); its DomainID is Input's.
	Lookup *rules.Lookup
}

// Map turns one body, exactly as SQS delivered it, into a request. The error
// is always a *RejectionError (find it with errors.As).
func (m *Mapper) Map(body []byte) (*Mapped, error) {
	if err := m.checkSize(body); err != nil {
		return nil, err
	}
	payload, envelope, err := m.unwrap(body)
	if err != nil {
		return nil, err
	}
	return m.decode(payload, envelope)
}

// decode maps the contract v1 message an envelope held.
func (m *Mapper) decode(payload []byte, envelope string) (*Mapped, error) {
	msg, err := contract.Decode(payload)
	if err != nil {
		return nil, asRejection(err)
	}
	domain := msg.DomainID
	if domain == "" {
		domain = m.cfg.DefaultDomainID
	}
	if domain == "" {
		return nil, &RejectionError{Path: "domainId", Rule: "required: the message has none and no default domain is configured"}
	}
	out := &Mapped{
		Input:    build(msg, domain),
		EventID:  msg.EventID,
		Envelope: envelope,
	}
	if msg.OccurredAt != "" {
		// Already validated by Decode; a parse error cannot happen.
		out.OccurredAt, _ = time.Parse(time.RFC3339, msg.OccurredAt)
	}
	return out, nil
}

func (m *Mapper) checkSize(body []byte) error {
	limit := m.cfg.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if len(body) > limit {
		return &RejectionError{Path: "$", Rule: fmt.Sprintf("body is %d bytes, over the %d-byte limit", len(body), limit)}
	}
	return nil
}

// build converts a validated message. Strings are shared with msg, not
// copied: the request is the message's only user from here on.
func build(msg *contract.Message, domain string) *connectcases.UpdateCaseInput {
	in := &connectcases.UpdateCaseInput{
		DomainId: &domain,
		CaseId:   &msg.CaseID,
		Fields:   make([]types.FieldValue, len(msg.Fields)),
	}
	for i := range msg.Fields {
		f := &msg.Fields[i]
		in.Fields[i].Id = &f.ID
		in.Fields[i].Value = union(f.Value)
	}
	if p := msg.PerformedBy; p != nil {
		if p.UserArn != "" {
			in.PerformedBy = &types.UserUnionMemberUserArn{Value: p.UserArn}
		} else {
			in.PerformedBy = &types.UserUnionMemberCustomEntity{Value: p.CustomEntity}
		}
	}
	return in
}

func union(v contract.Value) types.FieldValueUnion {
	switch {
	case v.String != nil:
		return &types.FieldValueUnionMemberStringValue{Value: *v.String}
	case v.Double != nil:
		return &types.FieldValueUnionMemberDoubleValue{Value: *v.Double}
	case v.Boolean != nil:
		return &types.FieldValueUnionMemberBooleanValue{Value: *v.Boolean}
	case v.Empty != nil:
		return &types.FieldValueUnionMemberEmptyValue{}
	default:
		return &types.FieldValueUnionMemberUserArnValue{Value: *v.UserArn}
	}
}

func asRejection(err error) *RejectionError {
	var rej *RejectionError
	if errors.As(err, &rej) {
		return rej
	}
	return &RejectionError{Path: "$", Rule: err.Error()}
}
