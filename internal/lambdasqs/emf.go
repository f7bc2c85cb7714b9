package lambdasqs

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/retry"
)

// EMF collects the core's metrics over one invocation and writes them as one
// CloudWatch embedded-metric-format log line, so the Lambda needs no metrics
// service: CloudWatch Logs turns the line into metrics.
type EMF struct {
	Namespace    string // "casebridge" when empty
	FunctionName string

	mu        sync.Mutex
	counts    map[string]float64
	latencies []float64 // milliseconds
}

var (
	_ consumer.Metrics = (*EMF)(nil)
	_ lookup.Observer  = (*EMF)(nil)
)

var emfCounters = []string{"Applied", "DeadLettered", "RetryLater", "Retries", "Throttles", "DLQSends", "DLQSendFailures",
	"LookupCacheHits", "SearchCasesCalls", "SearchCasesThrottles"}

func (e *EMF) add(name string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]float64{}
	}
	e.counts[name] += v
}

func (e *EMF) ObserveOutcome(o consumer.Outcome) {
	switch o.Kind {
	case consumer.Done:
		e.add("Applied", 1)
	case consumer.DeadLettered:
		e.add("DeadLettered", 1)
	default:
		e.add("RetryLater", 1)
	}
}

func (e *EMF) ObserveRetryClass(c retry.Class) {
	switch c {
	case "":
	case retry.ClassThrottle:
		e.add("Throttles", 1)
		e.add("Retries", 1)
	default:
		e.add("Retries", 1)
	}
}

func (e *EMF) ObserveUpdateCase(d time.Duration, _ retry.Class) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// EMF takes at most 100 values per metric per line; more is noise for one batch anyway.
	if len(e.latencies) < 100 {
		e.latencies = append(e.latencies, float64(d.Microseconds())/1000)
	}
}

func (e *EMF) ObserveDeadLetterSend(_ contract.Reason, err error) {
	if err != nil {
		e.add("DLQSendFailures", 1)
		return
	}
	e.add("DLQSends", 1)
}

// ObserveLookup counts case lookups answered from the cache (the rest made
// or shared a search, counted by ObserveSearch).
func (e *EMF) ObserveLookup(cached bool) {
	if cached {
		e.add("LookupCacheHits", 1)
	}
}

// ObserveSearch counts SearchCases calls, and the throttled ones apart.
func (e *EMF) ObserveSearch(c retry.Class) {
	e.add("SearchCasesCalls", 1)
	if c == retry.ClassThrottle {
		e.add("SearchCasesThrottles", 1)
	}
}

// Flush writes the invocation's metrics as one EMF line and resets them.
func (e *EMF) Flush(w io.Writer, requestID string, now time.Time) error {
	e.mu.Lock()
	counts, lat := e.counts, e.latencies
	e.counts, e.latencies = nil, nil
	e.mu.Unlock()
	ns := e.Namespace
	if ns == "" {
		ns = "casebridge"
	}
	type metric struct{ Name, Unit string }
	metrics := make([]metric, 0, len(emfCounters)+1)
	line := map[string]any{"FunctionName": e.FunctionName, "requestId": requestID}
	for _, name := range emfCounters {
		metrics = append(metrics, metric{name, "Count"})
		line[name] = counts[name]
	}
	if len(lat) > 0 {
		metrics = append(metrics, metric{"UpdateCaseLatency", "Milliseconds"})
		line["UpdateCaseLatency"] = lat
	}
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  ns,
			"Dimensions": [][]string{{"FunctionName"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
