package consumer

import (
	"github.com/casebridge/casebridge/contract"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"
)

const (
	maxMessageAttributes = 10      // SQS: at most 10 message attributes per message
	maxMessageBytes      = 1 << 20 // SQS: body + attribute names, types and values
	dlqSendTimeout       = 10 * time.Second
)

// deadLetter sends m to the DLQ with its reason. Only a confirmed send makes the
// outcome DeadLettered (so the transport deletes); anything else leaves the
// message on the source queue.
func (c *Core) deadLetter(ctx context.Context, m Message, out Outcome) Outcome {
	record := contract.DeadLetterRecord{
		Class:           out.Reason,
		Code:            out.Code,
		Message:         errorText(out.Err),
		ReceiveCount:    m.ReceiveCount,
		SourceQueue:     m.SourceQueue,
		SourceMessageID: m.ID,
		FailedAt:        c.o.Now().UTC().Format(time.RFC3339),
	}
	in, err := buildDeadLetter(c.o.DLQURL, m, record)
	if err != nil {
		// Cannot be formed within SQS limits: release it unchanged so the queue's
		// native redrive moves it; say exactly why.
		c.o.Logger.Error("dead-letter message cannot be formed; releasing for native redrive",
			zapMessage(m, out.Reason, err)...)
		return Outcome{Kind: RetryLater, Reason: contract.ReasonDLQUnformable, Delay: c.o.MinRetryDelay,
			Err: fmt.Errorf("%s: %w", out.Reason, err), Code: out.Code, Attempts: out.Attempts,
			CaseID: out.CaseID, DomainID: out.DomainID, EventID: out.EventID, Rule: out.Rule}
	}
	// The budget may be spent (that is often why we are here); the send gets its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dlqSendTimeout)
	defer cancel()
	sctx, span := c.tracer.Start(sctx, SpanDLQSend, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(AttrReason.String(string(out.Reason))))
	_, err = c.o.DLQ.SendMessage(sctx, in)
	endWithError(span, err != nil, "send failed")
	c.o.Metrics.ObserveDeadLetterSend(out.Reason, err)
	if err != nil {
		return Outcome{Kind: RetryLater, Reason: contract.ReasonDLQSendFailed, Delay: c.o.MinRetryDelay,
			Err: fmt.Errorf("sending to DLQ (%s): %w", out.Reason, err), Code: out.Code,
			Attempts: out.Attempts, CaseID: out.CaseID, DomainID: out.DomainID, EventID: out.EventID, Rule: out.Rule}
	}
	out.Kind = DeadLettered
	return out
}

// buildDeadLetter copies m's body and attributes byte for byte and adds the
// casebridge-error attribute, or says why that would break SQS limits.
func buildDeadLetter(dlqURL string, m Message, record contract.DeadLetterRecord) (*sqs.SendMessageInput, error) {
	if _, ok := m.Attributes[contract.ErrorAttribute]; !ok && len(m.Attributes) >= maxMessageAttributes {
		return nil, fmt.Errorf("message already has %d message attributes, SQS allows %d, no room for %s",
			len(m.Attributes), maxMessageAttributes, contract.ErrorAttribute)
	}
	value, err := json.Marshal(record)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", contract.ErrorAttribute, err)
	}
	attrs := make(map[string]sqstypes.MessageAttributeValue, len(m.Attributes)+1)
	size := len(m.Body)
	for k, v := range m.Attributes {
		if k == contract.ErrorAttribute { // a redriven message that failed again: the new reason wins
			continue
		}
		attrs[k] = v
		size += len(k) + attributeSize(v)
	}
	errAttr := sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(string(value))}
	attrs[contract.ErrorAttribute] = errAttr
	size += len(contract.ErrorAttribute) + attributeSize(errAttr)
	if size > maxMessageBytes {
		return nil, fmt.Errorf("body and attributes with %s would be %d bytes, over the SQS limit of %d",
			contract.ErrorAttribute, size, maxMessageBytes)
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String(m.Body), MessageAttributes: attrs}
	if strings.HasSuffix(dlqURL, ".fifo") {
		group := m.GroupID
		if group == "" {
			group = m.ID
		}
		// Deduplicate on the source message so a retried send does not duplicate it.
		sum := sha256.Sum256([]byte(m.SourceQueue + "\x00" + m.ID))
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String(hex.EncodeToString(sum[:]))
	}
	return in, nil
}

func attributeSize(v sqstypes.MessageAttributeValue) int {
	return len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
