// Package consumer is casebridge's one core: it turns one SQS message into exactly
// one outcome (applied, left on the queue for later, or dead-lettered with a reason),
// following casebridge's error policy (docs/architecture.md). Transports (the Lambda handler, the
// worker's long-poll loop) adapt their messages to Message and carry out the Outcome;
// they never decide policy, and this package knows nothing about either of them.
package consumer

import (
	"context"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"
)

// CasesAPI is the one Connect Cases call the core makes.
type CasesAPI interface {
	UpdateCase(ctx context.Context, in *connectcases.UpdateCaseInput, optFns ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error)
}

// QueueSender is the one SQS call the core makes: sending to the dead-letter queue.
type QueueSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Message is what a transport hands the core: an SQS message, whatever delivered it.
type Message struct {
	ID           string                                    // SQS MessageId
	Body         string                                    // exactly as delivered
	Attributes   map[string]sqstypes.MessageAttributeValue // message attributes, kept byte for byte on the DLQ
	ReceiveCount int                                       // ApproximateReceiveCount (0 if unknown)
	GroupID      string                                    // MessageGroupId on FIFO queues
	SourceQueue  string                                    // queue URL or ARN, reported on the DLQ
	// Span is the transport's span for this message (its parent is the
	// publisher's context), or nil. The core starts its spans (the limiter
	// wait, each UpdateCase call, the DLQ send) as its children and records the
	// outcome on it; the transport ends it once it has carried the outcome out.
	Span trace.Span
}

// Kind is what the transport must do with the message.
type Kind int

const (
	// Done: the update was applied; delete the message.
	Done Kind = iota + 1
	// DeadLettered: the message is on the DLQ with its reason; delete the original.
	DeadLettered
	// RetryLater: leave the message on the queue, invisible for Outcome.Delay
	// (the Lambda reports it as a batch item failure).
	RetryLater
)

func (k Kind) String() string {
	switch k {
	case Done:
		return "applied"
	case DeadLettered:
		return "dead-lettered"
	case RetryLater:
		return "retry-later"
	default:
		return "unknown"
	}
}

// Deletes reports whether the transport should delete the original message.
func (k Kind) Deletes() bool { return k == Done || k == DeadLettered }

// Outcome is the core's verdict on one message.
type Outcome struct {
	Kind     Kind
	Reason   contract.Reason // why it was not applied; empty for Done
	Delay    time.Duration   // RetryLater: how long the message should stay invisible (never 0)
	Err      error           // the last error, if any
	Code     string          // the API's error code, if any
	Attempts int             // UpdateCase calls made
	CaseID   string
	DomainID string
	EventID  string // the publisher's eventId, if any
	Rule     string // the mapping rule that mapped the message; "" for contract v1
	Duration time.Duration
}

// Handler is what transports depend on.
type Handler interface {
	// Handle decides one message of a standard queue.
	Handle(ctx context.Context, m Message) Outcome
	// HandleGroup decides consecutive messages of one FIFO message group, in
	// order, one outcome per message. g carries the group's state from one
	// call to the next: the transport keeps one Group per group id for as long
	// as messages of that group are in its hands.
	HandleGroup(ctx context.Context, g *Group, msgs []Message) []Outcome
}
