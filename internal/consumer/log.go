package consumer

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/rules"
)

// log writes one line per message outcome: ids, outcome, reason, the bounded
// error text, never a field value.
func (c *Core) log(m Message, out Outcome) {
	fields := []zap.Field{
		zap.String("messageId", m.ID),
		zap.String("caseId", out.CaseID),
		zap.String("domainId", out.DomainID),
		zap.String("outcome", out.Kind.String()),
		zap.String("reason", string(out.Reason)),
		zap.Int("attempts", out.Attempts),
		zap.Int("receiveCount", m.ReceiveCount),
		zap.Duration("duration", out.Duration),
	}
	if m.Span != nil {
		// The id that joins this line to its trace (only when there is one).
		if sc := m.Span.SpanContext(); sc.IsValid() {
			fields = append(fields, zap.String("traceId", sc.TraceID().String()))
		}
	}
	if out.EventID != "" {
		fields = append(fields, zap.String("eventId", out.EventID))
	}
	if out.Rule != "" {
		fields = append(fields, zap.String("rule", out.Rule))
	}
	if out.Code != "" {
		fields = append(fields, zap.String("code", out.Code))
	}
	if out.Kind == RetryLater {
		fields = append(fields, zap.Duration("delay", out.Delay))
	}
	if out.Err != nil {
		// Error texts never hold field values: mapper rejections name paths and
		// rules, and API messages are passed through errorText's bound.
		fields = append(fields, zap.String("error", errorText(out.Err)))
	}
	switch {
	case out.Reason == contract.ReasonForbidden || out.Reason == contract.ReasonDLQSendFailed || out.Reason == contract.ReasonDLQUnformable:
		c.o.Logger.Error("message outcome", fields...)
	case out.Kind == Done:
		c.o.Logger.Info("message outcome", fields...)
	default:
		c.o.Logger.Warn("message outcome", fields...)
	}
}

// maxErrorText bounds an error's text in logs and on the DLQ.
const maxErrorText = 1024

// errorText is the error's text, bounded so a huge upstream message cannot flood
// logs or the DLQ attribute.
func errorText(err error) string {
	var rej *contract.RejectionError
	var scrubbed *scrubbedError
	var api smithy.APIError
	s := err.Error()
	var mapErr *rules.MapError
	switch {
	case errors.As(err, &mapErr):
		// Before the rejection it may wrap: the code and rule come first.
		s = mapErrorText(mapErr)
	case errors.As(err, &rej):
		s = rej.Error()
	case errors.As(err, &scrubbed):
		s = scrubbed.msg
	case errors.As(err, &api) && api.ErrorMessage() != "":
		// The service's own words; the SDK's wrapping (operation, request id) is noise here.
		s = api.ErrorMessage()
	}
	if len(s) > maxErrorText {
		s = fmt.Sprintf("%s…", truncateUTF8(s, maxErrorText-len("…")))
	}
	return s
}

// WithLogger returns a Core that logs to l and shares everything else (the
// limiter, the circuit, the clients) with c; the Lambda uses it to put each
// invocation's request id on every line.
func (c *Core) WithLogger(l *zap.Logger) *Core {
	cp := *c
	cp.o.Logger = l
	return &cp
}
