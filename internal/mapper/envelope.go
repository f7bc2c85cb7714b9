package mapper

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/casebridge/casebridge/internal/jsonpool"

	"github.com/go-json-experiment/json/jsontext"
)

// unwrap finds the contract inside an SNS notification or EventBridge event,
// one level deep. Any body that is not recognisably an envelope is returned
// as is, so the extractor reports its faults with paths of its own; a body
// that is not JSON is rejected here.
//
// Detection looks only at top-level keys. A body holding any contract v1 key
// (other than "version", which EventBridge events carry too) is raw, however
// its keys are ordered; the walk stops there, so a raw message costs a
// look at its first key.
func (m *Mapper) unwrap(body []byte) (payload []byte, envelope string, err error) {
	p := jsonpool.Get(body)
	defer p.Release()
	dec := p.Decoder
	if dec.PeekKind() != '{' {
		return body, EnvelopeRaw, nil
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, "", invalidJSON(err)
	}
	var (
		snsType                    string // set when it is not "Notification"
		hasType, isNotification    bool
		hasDetailType              bool
		message, detail            []byte
		messageIsString, hasDetail bool
	)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, "", invalidJSON(err)
		}
		switch string(name) {
		case `"domainId"`, `"caseId"`, `"fields"`, `"performedBy"`, `"eventId"`, `"occurredAt"`:
			return body, EnvelopeRaw, nil
		case `"Type"`:
			hasType = true
			if dec.PeekKind() == '"' {
				val, err := dec.ReadValue()
				if err != nil {
					return nil, "", invalidJSON(err)
				}
				isNotification = string(val) == `"Notification"`
				if !isNotification {
					unq, _ := jsontext.AppendUnquote(nil, val)
					snsType = string(unq)
				}
				continue
			}
		case `"Message"`:
			if dec.PeekKind() == '"' {
				val, err := dec.ReadValue()
				if err != nil {
					return nil, "", invalidJSON(err)
				}
				// Unquoted at once: val is only valid until the next read.
				message, err = jsontext.AppendUnquote(nil, val)
				if err != nil {
					return nil, "", invalidJSON(err)
				}
				messageIsString = true
				continue
			}
		case `"detail-type"`:
			hasDetailType = true
		case `"detail"`:
			val, err := dec.ReadValue()
			if err != nil {
				return nil, "", invalidJSON(err)
			}
			detail, hasDetail = bytes.Clone(val), true
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return nil, "", invalidJSON(err)
		}
	}
	// The envelope itself must be one well-formed JSON object.
	if _, err := dec.ReadToken(); err != nil {
		return nil, "", invalidJSON(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return nil, "", &RejectionError{Path: "$", Rule: "unexpected data after the JSON object"}
		}
		return nil, "", invalidJSON(err)
	}
	switch {
	case hasType && !isNotification:
		return nil, "", &RejectionError{Path: "Type", Rule: "SNS message of type " + quote(snsType) + " is not a Notification"}
	case hasType && !messageIsString:
		return nil, "", &RejectionError{Path: "Message", Rule: "SNS notification without a string Message"}
	case hasType:
		return message, EnvelopeSNS, nil
	case hasDetailType && !hasDetail:
		return nil, "", &RejectionError{Path: "detail", Rule: "EventBridge event without detail"}
	case hasDetailType:
		return detail, EnvelopeEventBridge, nil
	}
	return body, EnvelopeRaw, nil
}

// invalidJSON reports a body that is not one well-formed JSON object. Only
// bodies without a contract key before the fault get here; the others are
// left to the extractor, which names a path inside the contract.
func invalidJSON(err error) *RejectionError {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &RejectionError{Path: "$", Rule: "invalid JSON: unexpected end of input"}
	}
	return &RejectionError{Path: "$", Rule: "invalid JSON: " + strings.TrimPrefix(err.Error(), "jsontext: ")}
}

func quote(s string) string {
	b, _ := jsontext.AppendQuote(nil, s)
	return string(b)
}
