package worker

import (
	"net/http"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/retry"
)

// Metrics is the worker's Prometheus registry. It implements consumer.Metrics,
// so the core reports into it too. A nil *Metrics records nothing.
type Metrics struct {
	reg            *prometheus.Registry
	outcomes       *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	dlqSends       *prometheus.CounterVec
	receiveErrors  prometheus.Counter
	deletes        prometheus.Counter
	deleteFailures prometheus.Counter
	heartbeats     *prometheus.CounterVec
	lookups        *prometheus.CounterVec
	searches       *prometheus.CounterVec
	calls          *callMeter // UpdateCase successes and throttles
	drained        *callMeter // messages deleted from the source queue
}

var (
	_ consumer.Metrics = (*Metrics)(nil)
	_ lookup.Observer  = (*Metrics)(nil)
)

// LimiterStatus is what the metrics read from the shared limiter.
type LimiterStatus interface {
	Limit() float64   // current rate, calls/s (+Inf when unlimited)
	QuotaBound() bool // callers wait for the quota, or it throttled lately
}

// NewMetrics builds the registry; lim may be nil.
func NewMetrics(lim LimiterStatus) *Metrics {
	m := &Metrics{
		calls:   newCallMeter(time.Now),
		drained: newCallMeter(time.Now),
		reg:     prometheus.NewRegistry(),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_messages_total",
			Help: "Messages handled, by outcome and reason."}, []string{"outcome", "reason"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_updatecase_attempts_total",
			Help: "UpdateCase calls, by error class (ok = success)."}, []string{"class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "casebridge_updatecase_duration_seconds",
			Help: "UpdateCase latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"class"}),
		dlqSends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_dlq_sends_total",
			Help: "Messages sent to the dead-letter queue, by reason and result."}, []string{"reason", "result"}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "casebridge_receive_errors_total",
			Help: "Failed ReceiveMessage calls."}),
		deletes: prometheus.NewCounter(prometheus.CounterOpts{Name: "casebridge_deletes_total",
			Help: "Messages deleted from the source queue."}),
		deleteFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "casebridge_delete_failures_total",
			Help: "Messages whose delete failed for good (they will be delivered again)."}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_heartbeats_total",
			Help: "Visibility extensions of in-flight messages, by result."}, []string{"result"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_lookups_total",
			Help: "Case lookups of mapping rules answered, by source (cache or search)."}, []string{"source"}),
		searches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casebridge_searchcases_calls_total",
			Help: "SearchCases calls of case lookups, by error class (ok = success)."}, []string{"class"}),
	}
	m.reg.MustRegister(m.outcomes, m.attempts, m.latency, m.dlqSends, m.receiveErrors,
		m.deletes, m.deleteFailures, m.heartbeats, m.lookups, m.searches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_updatecase_success_rate",
			Help: "Successful UpdateCase calls per second over the last minute: the rate this instance gets."}, m.calls.successRate),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_quota_bound",
			Help: "1 when the UpdateCase quota limits this instance (a call was throttled in the last minute, or calls wait for the limiter): another instance would not add throughput."},
			func() float64 {
				if m.calls.throttled() || lim != nil && lim.QuotaBound() {
					return 1
				}
				return 0
			}))
	if lim != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_rate_limit_per_second",
			Help: "Current UpdateCase rate of the shared adaptive limiter (+Inf: no limit in force)."}, lim.Limit))
	}
	return m
}

// watchWorker exposes what the worker itself keeps: the messages it holds,
// its backlog estimate (seconds; NaN before the first check) and its estimate
// of the consumers sharing its queue (NaN before the first).
func (m *Metrics) watchWorker(held, drainSeconds, consumers func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_in_flight_messages",
			Help: "Messages received and not yet deleted or released."}, held),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_backlog_drain_seconds",
			Help: "Source queue depth ÷ messages this instance deleted per second over the last minute: how long the backlog takes at that pace (+Inf: nothing drained)."},
			drainSeconds),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casebridge_queue_consumers",
			Help: "Estimated consumers holding the source queue's messages: the queue's in-flight count ÷ the messages this instance holds, while it holds as many as it may (NaN until then)."},
			consumers))
}

// throttledShare is the share of this instance's UpdateCase calls of the
// last minute that were throttled, and how many calls that is of (0, 0
// without metrics).
func (m *Metrics) throttledShare() (float64, int) {
	if m == nil {
		return 0, 0
	}
	return m.calls.throttledShare()
}

// drainRate is messages deleted per second over the last minute (0 without
// metrics): with coalescing, one call drains several.
func (m *Metrics) drainRate() float64 {
	if m == nil {
		return 0
	}
	return m.drained.successRate()
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func (m *Metrics) ObserveOutcome(o consumer.Outcome) {
	if m != nil {
		m.outcomes.WithLabelValues(o.Kind.String(), string(o.Reason)).Inc()
	}
}

func (m *Metrics) ObserveRetryClass(c retry.Class) {
	if m != nil {
		m.attempts.WithLabelValues(classLabel(c)).Inc()
	}
}

func (m *Metrics) ObserveUpdateCase(d time.Duration, c retry.Class) {
	if m != nil {
		m.calls.add(b2i(c == ""), b2i(c == retry.ClassThrottle))
		m.latency.WithLabelValues(classLabel(c)).Observe(d.Seconds())
	}
}

func (m *Metrics) ObserveDeadLetterSend(reason contract.Reason, err error) {
	if m != nil {
		m.dlqSends.WithLabelValues(string(reason), resultLabel(err)).Inc()
	}
}

// ObserveLookup counts a case lookup by where its answer came from.
func (m *Metrics) ObserveLookup(cached bool) {
	if m != nil {
		source := "search"
		if cached {
			source = "cache"
		}
		m.lookups.WithLabelValues(source).Inc()
	}
}

// ObserveSearch counts a SearchCases call by its class.
func (m *Metrics) ObserveSearch(c retry.Class) {
	if m != nil {
		m.searches.WithLabelValues(classLabel(c)).Inc()
	}
}

func (m *Metrics) receiveError() {
	if m != nil {
		m.receiveErrors.Inc()
	}
}

func (m *Metrics) deleted(n int) {
	if m != nil {
		m.drained.add(n, 0)
		m.deletes.Add(float64(n))
	}
}

func (m *Metrics) deleteFailed() {
	if m != nil {
		m.deleteFailures.Inc()
	}
}

func (m *Metrics) heartbeat(err error) {
	if m != nil {
		m.heartbeats.WithLabelValues(resultLabel(err)).Inc()
	}
}

func classLabel(c retry.Class) string {
	if c == "" {
		return "ok"
	}
	return string(c)
}

func resultLabel(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
