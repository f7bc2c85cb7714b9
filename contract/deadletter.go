package contract

import (
	"encoding/json"
	"fmt"
)

// ErrorAttribute is the one message attribute a dead-lettered message gains.
// Its value is a DeadLetterRecord as JSON; the body and every other message
// attribute stay byte for byte as the publisher sent them.
const ErrorAttribute = "casebridge-error"

// Reason says why a message did not end as an applied update. The first five
// dead-letter a message and are the Class of its DeadLetterRecord; the others
// leave it on the source queue for a retry, and appear only in logs and
// metrics.
type Reason string

const (
	// ReasonInvalidMessage: the body is not a valid contract v1 message, or,
	// with mapping rules, no rule maps it (Code says why).
	ReasonInvalidMessage Reason = "invalid-message"
	// ReasonValidation: Connect Cases rejected the update (ValidationException),
	// a value cannot be converted to its field's type, or a rule's case
	// lookup found several cases (CodeAmbiguousLookup).
	ReasonValidation Reason = "validation"
	// ReasonNotFound: the domain or case does not exist (ResourceNotFoundException),
	// or a rule's case lookup found no case (CodeLookupNoMatch).
	ReasonNotFound Reason = "not-found"
	// ReasonForbidden: dead-lettered, performedBy breaks the deployment's
	// policy; left on the queue, Connect Cases denied access (a deployment
	// problem, not the message's).
	ReasonForbidden Reason = "forbidden"
	// ReasonRetriesExhausted: still failing when the receive count reached the
	// deployment's limit; Code and Message carry the last error.
	ReasonRetriesExhausted Reason = "retries-exhausted"

	// ReasonThrottled: the quota gave no room within the message's time budget.
	ReasonThrottled Reason = "throttle"
	// ReasonTransient: 5xx, timeouts and connection errors outlasted the
	// in-process retries.
	ReasonTransient Reason = "transient"
	// ReasonCanceled: casebridge is shutting down; never the message's fault.
	ReasonCanceled Reason = "canceled"
	// ReasonHeldForOrder: an earlier message of the same FIFO group must be
	// retried, so this one was not tried, to keep the group's order.
	ReasonHeldForOrder Reason = "held-for-order"
	// ReasonDLQSendFailed: the message should be dead-lettered but the send to
	// the dead-letter queue failed; it comes back for another try.
	ReasonDLQSendFailed Reason = "dlq-send-failed"
	// ReasonDLQUnformable: the dead-letter copy would break SQS limits (10
	// message attributes, 1 MiB); the message is released unchanged for the
	// queue's own redrive policy to move.
	ReasonDLQUnformable Reason = "dlq-unformable"
)

// Codes casebridge itself puts in a DeadLetterRecord's Code when the cause
// is not an API error (those keep the API's code, e.g.
// "ResourceNotFoundException"). Each goes with one class, so an operator can
// count and redrive them apart (casebridge dlq stats / redrive --code).
const (
	// CodeNoRuleMatched (invalid-message): rules are configured, no rule's
	// condition is true for the event, and the body is not contract v1
	// either.
	CodeNoRuleMatched = "no-rule-matched"
	// CodeExpressionFailed (invalid-message): a rule's expression raised an
	// error on the event (a missing key, a wrong type, its cost limit).
	CodeExpressionFailed = "expression-failed"
	// CodeUnconvertibleValue (validation): a rule's result is not a Cases
	// value, or cannot be converted to its field's type.
	CodeUnconvertibleValue = "unconvertible-value"
	// CodeAmbiguousLookup (validation): a rule's case lookup found more than
	// one case; casebridge never updates several.
	CodeAmbiguousLookup = "ambiguous-lookup"
	// CodeLookupNoMatch (not-found): a rule's case lookup found no case.
	CodeLookupNoMatch = "lookup-no-match"
)

// DeadLetters reports whether r is a dead-letter class.
func (r Reason) DeadLetters() bool {
	switch r {
	case ReasonInvalidMessage, ReasonValidation, ReasonNotFound, ReasonForbidden, ReasonRetriesExhausted:
		return true
	}
	return false
}

// DeadLetterRecord is the value of the casebridge-error attribute: why a
// message was dead-lettered, in a form any language can parse.
type DeadLetterRecord struct {
	Class           Reason `json:"class"`
	Code            string `json:"code,omitempty"` // the Connect Cases error code, or one of the Code constants
	Message         string `json:"message"`        // the error, bounded, never a field value
	ReceiveCount    int    `json:"receiveCount"`
	SourceQueue     string `json:"sourceQueue"`     // queue URL (worker) or ARN (Lambda)
	SourceMessageID string `json:"sourceMessageId"` // the MessageId on the source queue
	FailedAt        string `json:"failedAt"`        // RFC 3339, UTC
}

// ParseDeadLetterRecord reads a casebridge-error attribute's value.
func ParseDeadLetterRecord(value string) (DeadLetterRecord, error) {
	var r DeadLetterRecord
	if err := json.Unmarshal([]byte(value), &r); err != nil {
		return DeadLetterRecord{}, fmt.Errorf("%s attribute: %w", ErrorAttribute, err)
	}
	return r, nil
}
