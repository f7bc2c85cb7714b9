package mapper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/rules"
)

// MapEvent maps one body, exactly as SQS delivered it, with the
// deployment's mapping rules (Config.Rules) and contract v1:
//
//  1. The event the rules see is the publisher's: an SNS notification's
//     Message, or else the body itself. An EventBridge event is given
//     whole (source, detail-type, detail), since its source and type are
//     what a rule tells events apart by.
//  2. The first rule whose condition is true maps it.
//  3. If no rule's condition is true, the body is mapped as contract v1
//     (envelopes unwrapped as by Map), so contract v1 publishers keep
//     working; a rule can still claim their bodies by matching them first.
//  4. If that fails too, the error is a *rules.MapError with
//     rules.CodeNoRuleMatched that wraps contract v1's *RejectionError;
//     but a body that claims to be contract v1 (an object with a caseId,
//     after its envelope) gets contract v1's *RejectionError alone, so
//     its publisher reads the same reason with rules as without.
//
// A rule whose expression fails on the event (rules.CodeExpressionFailed)
// or yields no Cases value (rules.CodeUnconvertibleValue) ends there, also
// for a contract v1 body: falling through would hide a broken rule.
// Errors are a *RejectionError or a *rules.MapError. With no rules it is
// Map.
func (m *Mapper) MapEvent(ctx context.Context, body []byte) (*Mapped, error) {
	if m.cfg.Rules == nil {
		return m.Map(body)
	}
	if err := m.checkSize(body); err != nil {
		return nil, err
	}
	payload, envelope, err := m.unwrap(body)
	if err != nil {
		return nil, err
	}
	event := body
	if envelope == EnvelopeSNS {
		event = payload
	}
	res, err := m.cfg.Rules.Map(ctx, event)
	if err == nil {
		return m.fromRule(res, envelope)
	}
	var me *rules.MapError
	if !errors.As(err, &me) || (me.Code != rules.CodeNoRuleMatched && me.Code != rules.CodeInvalidEvent) {
		return nil, err
	}
	mapped, cerr := m.decode(payload, envelope) // unwrapped once, above
	if cerr == nil {
		return mapped, nil
	}
	if me.Code == rules.CodeInvalidEvent || claimsContractV1(payload) {
		return nil, cerr // contract v1's words for it, as without rules
	}
	return nil, &rules.MapError{Code: rules.CodeNoRuleMatched,
		Err: fmt.Errorf("no rule's condition is true for this event, and as contract v1: %w", cerr)}
}

// claimsContractV1 reports whether payload is a JSON object with a caseId
// member: a contract v1 message, however broken, not an upstream event.
// It runs only on a body both the rules and contract v1 refused.
func claimsContractV1(payload []byte) bool {
	var top map[string]json.RawMessage
	return json.Unmarshal(payload, &top) == nil && top["caseId"] != nil
}

// fromRule completes a rule's result with the default domain.
func (m *Mapper) fromRule(res rules.Result, envelope string) (*Mapped, error) {
	in := res.Input
	if in.DomainId == nil || *in.DomainId == "" {
		if m.cfg.DefaultDomainID == "" {
			return nil, &RejectionError{Path: "domainId", Rule: fmt.Sprintf("required: rule %q names no domain, and no default domain is configured", res.Rule)}
		}
		cp := *in
		cp.DomainId = &m.cfg.DefaultDomainID
		in = &cp
	}
	out := &Mapped{Input: in, Envelope: envelope, Rule: res.Rule}
	if res.Lookup != nil {
		l := *res.Lookup
		l.DomainID = *in.DomainId
		out.Lookup = &l
	}
	return out, nil
}

// FailureReason is how a body MapEvent refused is dead-lettered: its class
// and code, the same for the consumer and `casebridge check`.
func FailureReason(err error) (contract.Reason, string) {
	var me *rules.MapError
	if !errors.As(err, &me) {
		return contract.ReasonInvalidMessage, ""
	}
	switch me.Code {
	case rules.CodeNoRuleMatched:
		return contract.ReasonInvalidMessage, contract.CodeNoRuleMatched
	case rules.CodeExpressionFailed:
		return contract.ReasonInvalidMessage, contract.CodeExpressionFailed
	case rules.CodeUnconvertibleValue:
		// The event has a value, just not one Cases takes: the same verdict
		// as a value the field catalog cannot convert.
		return contract.ReasonValidation, contract.CodeUnconvertibleValue
	}
	return contract.ReasonInvalidMessage, ""
}
