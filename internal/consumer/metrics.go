package consumer

import (
	"github.com/casebridge/casebridge/contract"

	"time"

	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/retry"
)

// Metrics receives what the core observes; the worker backs it with Prometheus,
// the Lambda with CloudWatch embedded-metric log lines.
type Metrics interface {
	ObserveOutcome(o Outcome)
	// ObserveRetryClass is called after every UpdateCase attempt with its class ("" = success).
	ObserveRetryClass(c retry.Class)
	ObserveUpdateCase(latency time.Duration, c retry.Class)
	ObserveDeadLetterSend(reason contract.Reason, err error)
}

type nopMetrics struct{}

func (nopMetrics) ObserveOutcome(Outcome)                       {}
func (nopMetrics) ObserveRetryClass(retry.Class)                {}
func (nopMetrics) ObserveUpdateCase(time.Duration, retry.Class) {}
func (nopMetrics) ObserveDeadLetterSend(contract.Reason, error) {}

func zapMessage(m Message, reason contract.Reason, err error) []zap.Field {
	return []zap.Field{
		zap.String("messageId", m.ID),
		zap.String("reason", string(reason)),
		zap.Int("receiveCount", m.ReceiveCount),
		zap.Error(err),
	}
}
