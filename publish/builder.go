// Package publish is what upstream systems use to ask casebridge to update a
// case: it builds contract v1 messages, checks them with the contract
// package's rules (the very code the consumer runs, so a message this package
// accepts is one the consumer accepts) and sends them to an SQS queue,
// standard or FIFO, or to an SNS topic.
//
//	msg, err := publish.Update(caseID).
//		Set("status", "closed").Set("priority", 3).Clear("reason").
//		By(publish.CustomEntity("billing")).
//		Message()
//	id, err := publish.NewSQS(sqsClient, queueURL).Send(ctx, msg)
package publish

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/contract"
)

// The contract v1 types, re-exported so publishers import one package.
type (
	Message        = contract.Message
	Field          = contract.Field
	Value          = contract.Value
	PerformedBy    = contract.PerformedBy
	RejectionError = contract.RejectionError
)

// Value constructors, re-exported from the contract package.
var (
	StringValue  = contract.StringValue
	DoubleValue  = contract.DoubleValue
	BooleanValue = contract.BooleanValue
	EmptyValue   = contract.EmptyValue
	UserArnValue = contract.UserArnValue
)

// CustomEntity names a system (not a Connect user) as the one who made the change.
func CustomEntity(name string) *PerformedBy { return &PerformedBy{CustomEntity: name} }

// User names a Connect user, by ARN, as the one who made the change.
func User(arn string) *PerformedBy { return &PerformedBy{UserArn: arn} }

// Builder assembles one message. Its methods chain; the first mistake is kept
// and reported by Message, so a chain needs one error check at the end.
// A Builder is not safe for concurrent use.
type Builder struct {
	msg contract.Message
	err error
}

// Update starts a message that updates the case caseID.
func Update(caseID string) *Builder {
	return &Builder{msg: contract.Message{CaseID: caseID}}
}

// Domain sets the Cases domain; leave it out when the consumer has a default.
func (b *Builder) Domain(domainID string) *Builder {
	b.msg.DomainID = domainID
	return b
}

// Set appends a field. v may be a string, any Go integer or float type, a
// bool, nil (clears the field, like Clear), or a Value for the other members
// (e.g. UserArnValue). Other types are a mistake reported by Message.
func (b *Builder) Set(fieldID string, v any) *Builder {
	val, err := toValue(v)
	if err != nil && b.err == nil {
		b.err = &RejectionError{Path: "fields[" + strconv.Itoa(len(b.msg.Fields)) + "].value", Rule: err.Error()}
	}
	b.msg.Fields = append(b.msg.Fields, contract.Field{ID: fieldID, Value: val})
	return b
}

// Clear appends a field that empties fieldID (emptyValue).
func (b *Builder) Clear(fieldID string) *Builder {
	b.msg.Fields = append(b.msg.Fields, contract.Field{ID: fieldID, Value: contract.EmptyValue()})
	return b
}

// By records who made the change (see CustomEntity and User).
func (b *Builder) By(p *PerformedBy) *Builder {
	b.msg.PerformedBy = p
	return b
}

// EventID sets the event id: logged by the consumer, and the deduplication
// id on FIFO queues and topics.
func (b *Builder) EventID(id string) *Builder {
	b.msg.EventID = id
	return b
}

// OccurredAt records when the change happened upstream.
func (b *Builder) OccurredAt(t time.Time) *Builder {
	b.msg.OccurredAt = t.UTC().Format(time.RFC3339Nano)
	return b
}

// Message returns the message, or the first broken rule as a
// *RejectionError (classify with errors.As), checked by contract's Validate.
func (b *Builder) Message() (*Message, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := b.msg
	m.Fields = append([]contract.Field(nil), b.msg.Fields...) // later Sets must not change it
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Encode validates m and returns its canonical JSON, the body to publish.
func Encode(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("publish: encoding message: %w", err)
	}
	return body, nil
}

func toValue(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return contract.EmptyValue(), nil
	case Value:
		return x, nil
	case *Value:
		if x == nil {
			return contract.EmptyValue(), nil
		}
		return *x, nil
	case string:
		return contract.StringValue(x), nil
	case bool:
		return contract.BooleanValue(x), nil
	case float64:
		return contract.DoubleValue(x), nil
	case float32:
		return contract.DoubleValue(float64(x)), nil
	case int:
		return exactInt(int64(x))
	case int8:
		return exactInt(int64(x))
	case int16:
		return exactInt(int64(x))
	case int32:
		return exactInt(int64(x))
	case int64:
		return exactInt(x)
	case uint:
		return exactUint(uint64(x))
	case uint8:
		return exactUint(uint64(x))
	case uint16:
		return exactUint(uint64(x))
	case uint32:
		return exactUint(uint64(x))
	case uint64:
		return exactUint(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return Value{}, fmt.Errorf("number %s does not fit a float64", x)
		}
		return contract.DoubleValue(f), nil
	default:
		return Value{}, fmt.Errorf("unsupported Go type %T (use a string, number, bool, nil or a Value)", v)
	}
}

// maxExact is 2^53: beyond it a float64 (the API's doubleValue) loses integers,
// and a silently rounded id or amount is worse than an error.
const maxExact = 1 << 53

func exactInt(i int64) (Value, error) {
	if i > maxExact || i < -maxExact {
		return Value{}, fmt.Errorf("integer %d cannot be held exactly by doubleValue (|n| ≤ 2^53)", i)
	}
	return contract.DoubleValue(float64(i)), nil
}

func exactUint(u uint64) (Value, error) {
	if u > maxExact {
		return Value{}, fmt.Errorf("integer %d cannot be held exactly by doubleValue (n ≤ 2^53)", u)
	}
	return contract.DoubleValue(float64(u)), nil
}

// InferValue reads a command-line value the way the shorthand form reads
// JSON: null clears the field, true and false are booleans, a JSON number is
// a doubleValue, and anything else is a string. Use StringValue to force a string.
func InferValue(s string) Value {
	switch s {
	case "null":
		return contract.EmptyValue()
	case "true":
		return contract.BooleanValue(true)
	case "false":
		return contract.BooleanValue(false)
	}
	if isJSONNumber(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
			return contract.DoubleValue(f)
		}
	}
	return contract.StringValue(s)
}

// isJSONNumber reports whether s is a number in JSON's grammar, so that
// strconv's extras ("Inf", "0x1p3", "1_000") stay strings, as in the
// shorthand form.
func isJSONNumber(s string) bool {
	var n json.Number
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || strings.TrimSpace(s) != s {
		return false
	}
	return json.Unmarshal([]byte(s), &n) == nil
}
