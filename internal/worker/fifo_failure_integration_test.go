package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/quota"
	"github.com/casebridge/casebridge/internal/testkit/fifosqs"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/internal/worker"
)

// fifoBed is the FIFO-faithful SQS server with a source and a dead-letter
// FIFO queue, and the Cases simulator.
type fifoBed struct {
	sqs      *sqs.Client
	src, dlq string
	sim      *casesim.Server
	simURL   string
}

func newFIFOBed(t *testing.T, faults casesim.Faults) *fifoBed {
	t.Helper()
	srv, endpoint, err := fifosqs.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := &fifoBed{sqs: testbed.NewSQSClient(endpoint)}
	for _, q := range []struct {
		name string
		url  *string
	}{{"src.fifo", &b.src}, {"dlq.fifo", &b.dlq}} {
		out, err := b.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(q.name),
			Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "10"}})
		if err != nil {
			t.Fatal(err)
		}
		*q.url = aws.ToString(out.QueueUrl)
	}
	b.sim, b.simURL = testbed.StartCasesimT(t, casesim.Options{Faults: faults})
	return b
}

// sendPriorities sends n updates over five interleaved groups (one per case):
// message i sets priority i on caseID(i), and summary to summaries[i] if any.
func (b *fifoBed) sendPriorities(t *testing.T, n int, summaries map[int]string) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"caseId":%q,"fields":{"priority":%d}}`, caseID(i), i)
		if s, ok := summaries[i]; ok {
			body = fmt.Sprintf(`{"caseId":%q,"fields":{"priority":%d,"summary":%q}}`, caseID(i), i, s)
		}
		if _, err := b.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(b.src), MessageBody: aws.String(body),
			MessageGroupId: aws.String(caseID(i)), MessageDeduplicationId: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// run starts a worker with a real core whose Cases client talks to casesURL
// until every case has its last priority, then stops it and checks that both
// queues are empty.
func (b *fifoBed) run(t *testing.T, casesURL string, coalesce bool, n int) {
	t.Helper()
	core, err := consumer.New(consumer.Options{Cases: testbed.NewCasesClient(casesURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
		DLQ: b.sqs, DLQURL: b.dlq, Coalesce: coalesce, BackoffBase: 10 * time.Millisecond,
		Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID}), Limiter: quota.NewLimiter(quota.LimiterConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Options{SQS: b.sqs, QueueURL: b.src, Handler: core, Coalesce: coalesce, WaitTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	eventually(t, 60*time.Second, "every case at its last priority", func() bool {
		for k := range 5 {
			f, _ := b.sim.CaseFields(domainID, caseID(k))
			if doubleValue(f["priority"]) != float64(n-5+k) {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{b.src, b.dlq} {
		out, err := b.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err != nil {
			t.Fatal(err)
		}
		if v, nv := out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]; v != "0" || nv != "0" {
			t.Errorf("%s holds %s visible + %s in flight, want nothing left", u, v, nv)
		}
	}
}

// checkOrder fails when a case's priorities were applied out of order.
func (b *fifoBed) checkOrder(t *testing.T) {
	t.Helper()
	last := map[string]float64{}
	for _, u := range b.sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if p, ok := doubleOf(f); ok {
				if prev, seen := last[u.CaseID]; seen && p <= prev {
					t.Errorf("case %s: priority %v applied after %v: group order broken", u.CaseID, p, prev)
				}
				last[u.CaseID] = p
			}
		}
	}
}

// failingFront answers 500 to the first `fails` UpdateCase calls whose body
// holds marker, and passes everything else to the simulator. It records the
// order in which calls were answered: marker failures, marker success,
// successes for the marker's own case (its group's later messages, which
// must wait for it) and successes for other cases.
type failingFront struct {
	marker     string
	markerCase string
	fails      int

	mu     sync.Mutex
	failed int
	events []string // "fail", "marker-ok", "group-ok", "other-ok"
}

func (f *failingFront) start(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		marked := strings.Contains(string(body), f.marker)
		f.mu.Lock()
		if marked && f.failed < f.fails {
			f.failed++
			f.events = append(f.events, "fail")
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", "InternalServerException")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"message":"injected for the test"}`)
			return
		}
		f.mu.Unlock()
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK && r.Method == http.MethodPut {
			what := "other-ok"
			switch {
			case marked:
				what = "marker-ok"
			case strings.HasSuffix(r.URL.Path, "/cases/"+f.markerCase):
				what = "group-ok"
			}
			f.mu.Lock()
			f.events = append(f.events, what)
			f.mu.Unlock()
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFIFOGroupFailingMidway: on the FIFO-faithful server, the second message
// of one group fails every in-process attempt. It goes back to the queue, the
// rest of its group is not applied before it, other groups go on meanwhile,
// and in the end every message is applied once, in order, and deleted.
func TestFIFOGroupFailingMidway(t *testing.T) {
	for _, coalesce := range []bool{false, true} {
		t.Run(fmt.Sprintf("coalesce=%v", coalesce), func(t *testing.T) {
			b := newFIFOBed(t, casesim.Faults{Rate: 40, Burst: 2})
			const n = 100
			// Message 5 is group caseID(0)'s second; 3 failures outlast the
			// core's 3 in-process attempts, so it must go back to the queue.
			// (Its summary survives merging, so the marker works when coalescing.)
			b.sendPriorities(t, n, map[int]string{5: "fail-me"})
			front := &failingFront{marker: "fail-me", markerCase: caseID(5), fails: 3}
			b.run(t, front.start(t, b.simURL), coalesce, n)
			b.checkOrder(t)

			front.mu.Lock()
			events := append([]string(nil), front.events...)
			front.mu.Unlock()
			lastFail, markerOK, othersBetween := -1, -1, 0
			for i, e := range events {
				switch {
				case e == "fail":
					lastFail = i
				case e == "marker-ok" && markerOK < 0:
					markerOK = i
				}
			}
			for _, e := range events[lastFail+1 : max(markerOK, lastFail+1)] {
				if e == "other-ok" {
					othersBetween++
				}
			}
			t.Logf("%d calls answered; marker failed 3 times, applied at call %d; %d other calls succeeded meanwhile", len(events), markerOK, othersBetween)
			if lastFail < 0 || markerOK < lastFail {
				t.Fatalf("the failing message was never retried after its failures (events %v)", events)
			}
			if ok := len(events) - 3; !coalesce && ok != n {
				t.Errorf("%d successful calls for %d messages without coalescing: one applied twice or not at all", ok, n)
			}
			othersAfter := 0
			for _, e := range events[markerOK+1:] {
				if e == "other-ok" {
					othersAfter++
				}
			}
			// Other groups must not wait for the failed one: if they still had
			// work after it was applied, some of it must have been done while it
			// waited. (With coalescing, they are often finished before that.)
			if othersAfter > 0 && othersBetween == 0 {
				t.Errorf("no other group made progress while the failed message waited to be retried (%d of their calls came only after it)", othersAfter)
			}
		})
	}
}
