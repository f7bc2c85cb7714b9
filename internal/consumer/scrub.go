package consumer

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/smithy-go"
)

// redactedMark stands in for a field value quoted back by the service.
const redactedMark = "<value>"

// scrubbedError carries an API error whose message had the request's field
// values removed: logs and DLQ reasons must never hold them (they may be
// personal data), yet services like to quote the value they rejected.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub removes in's field values (and performedBy's custom entity, which the
// API marks sensitive) from err's service message.
func scrub(err error, in *connectcases.UpdateCaseInput) error {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) || api.ErrorMessage() == "" {
		return err
	}
	msg := api.ErrorMessage()
	for _, f := range in.Fields {
		switch v := f.Value.(type) {
		case *types.FieldValueUnionMemberStringValue:
			msg = redact(msg, v.Value)
		case *types.FieldValueUnionMemberUserArnValue:
			msg = redact(msg, v.Value)
		}
	}
	if p, ok := in.PerformedBy.(*types.UserUnionMemberCustomEntity); ok {
		msg = redact(msg, p.Value)
	}
	return &scrubbedError{err: err, msg: msg}
}

// redact replaces every occurrence of value in msg that stands as a whole
// token (not inside a longer word), so a value like "a" does not shred the text.
func redact(msg, value string) string {
	if value == "" || value == redactedMark {
		return msg
	}
	var b strings.Builder
	rest := msg
	for {
		i := strings.Index(rest, value)
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := i + len(value)
		if boundary(rest[:i], true) && boundary(rest[end:], false) {
			b.WriteString(rest[:i])
			b.WriteString(redactedMark)
		} else {
			b.WriteString(rest[:end])
		}
		rest = rest[end:]
	}
}

// boundary reports whether the text next to a match ends (before) or starts
// (after) with something that is not a letter or digit.
func boundary(s string, before bool) bool {
	if s == "" {
		return true
	}
	var r rune
	if before {
		r, _ = utf8.DecodeLastRuneInString(s)
	} else {
		r, _ = utf8.DecodeRuneInString(s)
	}
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}
