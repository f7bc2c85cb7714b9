package dlqtool

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/mapper"
)

// Count is the number of DLQ messages with one class and code.
type Count struct {
	Class contract.Reason `json:"class"`
	Code  string          `json:"code,omitempty"`
	Count int             `json:"count"`
}

// Stats counts the DLQ's messages.
type Stats struct {
	Total   int     `json:"total"`
	ByClass []Count `json:"byClass"` // sorted by count, largest first
	ByCode  []Count `json:"byCode"`  // class and code pairs, sorted likewise
	// Depth is the queue's ApproximateNumberOfMessages before the scan (-1
	// if unknown): more than Total when the scan could not see everything
	// (later messages of FIFO groups, messages held by someone else).
	Depth int `json:"depth"`
	// OldestFailure is the earliest failedAt (zero when no message has one).
	OldestFailure time.Time `json:"oldestFailure,omitzero"`
}

// Stats counts every message on the DLQ by reason class and error code.
func (t *Tool) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Depth: t.depth(ctx)}
	byClass, byCode := map[contract.Reason]int{}, map[[2]string]int{}
	err := t.scan(ctx, func(_ context.Context, h *held) (bool, error) {
		class, code := classOf(reasonOf(h.msg))
		s.Total++
		byClass[class]++
		byCode[[2]string{string(class), code}]++
		if r := reasonOf(h.msg); r != nil {
			if at, err := time.Parse(time.RFC3339, r.FailedAt); err == nil && (s.OldestFailure.IsZero() || at.Before(s.OldestFailure)) {
				s.OldestFailure = at
			}
		}
		return false, nil
	})
	for class, n := range byClass {
		s.ByClass = append(s.ByClass, Count{Class: class, Count: n})
	}
	for k, n := range byCode {
		s.ByCode = append(s.ByCode, Count{Class: contract.Reason(k[0]), Code: k[1], Count: n})
	}
	sortCounts(s.ByClass)
	sortCounts(s.ByCode)
	return s, err
}

func sortCounts(cs []Count) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Count != cs[j].Count {
			return cs[i].Count > cs[j].Count
		}
		if cs[i].Class != cs[j].Class {
			return cs[i].Class < cs[j].Class
		}
		return cs[i].Code < cs[j].Code
	})
}

// Entry is one DLQ message as an operator sees it. Field values (and the
// body, which holds them) are only filled in when asked for: they may be
// personal data.
type Entry struct {
	MessageID    string                     `json:"messageId"`
	Reason       *contract.DeadLetterRecord `json:"reason,omitempty"`
	CaseID       string                     `json:"caseId,omitempty"`
	DomainID     string                     `json:"domainId,omitempty"`
	Fields       []FieldView                `json:"fields,omitempty"`
	RedriveCount int                        `json:"redriveCount,omitempty"`
	SentAt       time.Time                  `json:"sentAt,omitzero"` // when it reached the DLQ
	Body         string                     `json:"body,omitempty"`  // only with values shown
}

// FieldView names one field of the message; Value only with values shown.
type FieldView struct {
	ID    string `json:"id"`
	Value any    `json:"value,omitempty"`
}

// PeekOptions selects what Peek shows.
type PeekOptions struct {
	Limit      int  // at most this many messages; 0 = all
	ShowValues bool // include field values and the body
}

// Peek returns the DLQ's messages with their reasons, case ids and field
// ids, and leaves them all on the queue.
func (t *Tool) Peek(ctx context.Context, o PeekOptions) ([]Entry, error) {
	var out []Entry
	err := t.scan(ctx, func(_ context.Context, h *held) (bool, error) {
		out = append(out, describe(h.msg, o.ShowValues))
		return o.Limit > 0 && len(out) >= o.Limit, nil
	})
	return out, err
}

// noDomain stands in for a missing domainId so the mapper can parse the
// rest of a message that relied on the worker's default domain.
const noDomain = "\x00"

func describe(m sqstypes.Message, showValues bool) Entry {
	e := Entry{
		MessageID:    aws.ToString(m.MessageId),
		Reason:       reasonOf(m),
		RedriveCount: redriveCount(m),
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		e.SentAt = time.UnixMilli(ms).UTC()
	}
	if showValues {
		e.Body = aws.ToString(m.Body)
	}
	mapped, err := mapper.New(mapper.Config{DefaultDomainID: noDomain}).Map([]byte(aws.ToString(m.Body)))
	if err != nil {
		return e // an invalid message: its reason says why
	}
	in := mapped.Input
	e.CaseID = aws.ToString(in.CaseId)
	if d := aws.ToString(in.DomainId); d != noDomain {
		e.DomainID = d
	}
	for _, f := range in.Fields {
		v := FieldView{ID: aws.ToString(f.Id)}
		if showValues {
			v.Value = plain(f.Value)
		}
		e.Fields = append(e.Fields, v)
	}
	return e
}

// plain turns a value union into its shorthand JSON form.
func plain(u types.FieldValueUnion) any {
	switch v := u.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return v.Value
	case *types.FieldValueUnionMemberDoubleValue:
		return v.Value
	case *types.FieldValueUnionMemberBooleanValue:
		return v.Value
	case *types.FieldValueUnionMemberUserArnValue:
		return map[string]string{"userArnValue": v.Value}
	default:
		return map[string]any{"emptyValue": struct{}{}}
	}
}

// depth is the queue's approximate number of messages, or -1.
func (t *Tool) depth(ctx context.Context) int {
	out, err := t.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(t.dlqURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.o.Logger.Debug("queue depth unknown", zap.Error(err))
		return -1
	}
	n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		return -1
	}
	return n
}
