package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/checkcmd"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lambdasqs"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// Known bugs in code this package does not own. An entry makes its subtest
// skip with the bug's description while the bug is there, and fail once the
// bug is fixed (so the entry gets removed): the assertion itself never changes.
// None are known now.
var knownBugs = map[string]string{}

// checkBugs are known bugs of the check command only.
var checkBugs = map[string]string{}

// verdict asserts that h was rejected with a text naming its problem.
func verdict(t *testing.T, h hostile, bugs map[string]string, rejected bool, text string) {
	t.Helper()
	good := rejected && strings.Contains(text, h.Want)
	if bug, ok := bugs[h.File]; ok {
		if good {
			t.Errorf("%s now passes: remove it from the known bugs (%s)", h.File, bug)
			return
		}
		t.Skipf("BUG: %s (got rejected=%v %q)", bug, rejected, text)
	}
	switch {
	case !rejected:
		t.Errorf("%s accepted (%s), want a rejection naming %q", h.File, text, h.Want)
	case !good:
		t.Errorf("%s rejected with %q, which does not name %q", h.File, text, h.Want)
	}
}

// TestHostileDecoder: every corpus body is rejected by the mapper with a
// *RejectionError whose text names the problem.
func TestHostileDecoder(t *testing.T) {
	m := mapper.New(mapper.Config{DefaultDomainID: domainID, MaxBodyBytes: corpusMaxBody})
	for _, h := range loadCorpus(t) {
		t.Run(h.File, func(t *testing.T) {
			_, err := m.Map(h.body)
			var rej *mapper.RejectionError
			if err != nil && !errors.As(err, &rej) {
				t.Fatalf("error %T is not a *RejectionError: %v", err, err)
			}
			text := "accepted"
			if err != nil {
				text = err.Error()
			}
			verdict(t, h, knownBugs, err != nil, text)
		})
	}
}

// TestHostileCheckCommand: `casebridge check` gives every corpus file an
// invalid-message verdict naming the problem, in one run over all files.
func TestHostileCheckCommand(t *testing.T) {
	corpus := loadCorpus(t)
	dir := corpusDir(t)
	args := []string{"--domain", domainID}
	for _, h := range corpus {
		args = append(args, filepath.Join(dir, h.File))
	}
	env := map[string]string{"CASEBRIDGE_MAX_BODY_BYTES": fmt.Sprint(corpusMaxBody)}
	var stdout, stderr bytes.Buffer
	code := checkcmd.Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	if code != checkcmd.ExitRejected {
		t.Errorf("exit %d, want %d (rejected); stderr: %s", code, checkcmd.ExitRejected, stderr.String())
	}
	got := map[string]struct {
		OK     bool
		Reason string
		Error  string
	}{}
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var v struct {
			File   string
			OK     bool
			Reason string
			Error  string
		}
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("output is not JSON lines: %v", err)
		}
		got[filepath.Base(v.File)] = struct {
			OK     bool
			Reason string
			Error  string
		}{v.OK, v.Reason, v.Error}
	}
	bugs := map[string]string{}
	for k, v := range knownBugs {
		bugs[k] = v
	}
	for k, v := range checkBugs {
		bugs[k] = v
	}
	for _, h := range corpus {
		t.Run(h.File, func(t *testing.T) {
			v, ok := got[h.File]
			if !ok {
				t.Fatalf("no verdict")
			}
			if !v.OK && v.Reason != string(contract.ReasonInvalidMessage) {
				t.Errorf("reason %q, want %q", v.Reason, contract.ReasonInvalidMessage)
			}
			verdict(t, h, bugs, !v.OK, v.Error)
		})
	}
}

// TestHostileMemoryBounded: decoding the corpus many times neither keeps
// memory (no growth of the live heap) nor allocates out of proportion to the
// input (the 10,000-level nestings included).
func TestHostileMemoryBounded(t *testing.T) {
	corpus := loadCorpus(t)
	m := mapper.New(mapper.Config{DefaultDomainID: domainID, MaxBodyBytes: corpusMaxBody})
	size := 0
	for _, h := range corpus {
		size += len(h.body)
	}
	pass := func() {
		for _, h := range corpus {
			_, _ = m.Map(h.body)
		}
	}
	pass() // warm pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const passes = 50
	for range passes {
		pass()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perPass := (after.TotalAlloc - before.TotalAlloc) / passes
	t.Logf("corpus %d bytes; %d bytes allocated per pass (%.1f× the input); live heap %+d bytes after %d passes",
		size, perPass, float64(perPass)/float64(size), growth, passes)
	if growth > 1<<20 {
		t.Errorf("live heap grew by %d bytes over %d passes: something keeps hostile bodies", growth, passes)
	}
	if perPass > uint64(8*size) {
		t.Errorf("%d bytes allocated per pass over a %d-byte corpus: more than 8× the input", perPass, size)
	}
}

// TestHostileLambdaHandler: every corpus body, as a record of an SQS event,
// goes through the Lambda handler with a real core (real SDK, the simulator,
// goaws as the DLQ). Bodies SQS can carry are dead-lettered as
// invalid-message with a reason naming the problem and reported as done;
// bodies SQS could never deliver (raw NUL, invalid UTF-8) must still be
// rejected as invalid-message, without a crash, whatever the DLQ then says.
func TestHostileLambdaHandler(t *testing.T) {
	w := newWorld(t, 30)
	core, err := consumer.New(consumer.Options{
		Cases: testbed.NewCasesClient(w.simURL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
		DLQ:   testbed.NewSQSClient(w.sqsURL), DLQURL: w.dlq,
		Mapper: mapper.New(mapper.Config{DefaultDomainID: domainID, MaxBodyBytes: corpusMaxBody}),
	})
	if err != nil {
		t.Fatal(err)
	}
	corpus := loadCorpus(t)
	var mu sync.Mutex
	outcomes := map[string]consumer.Outcome{}
	h := &lambdasqs.Handler{Core: outcomeRecorder{core, &mu, outcomes}}
	failed := map[string]bool{}
	for start := 0; start < len(corpus); start += 10 {
		var ev events.SQSEvent
		for i, c := range corpus[start:min(start+10, len(corpus))] {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: c.File, ReceiptHandle: fmt.Sprint("rh-", start+i), Body: string(c.body),
				Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
				MessageAttributes: map[string]events.SQSMessageAttribute{markerAttr: {DataType: "String", StringValue: aws.String(c.File)}},
				EventSource:       "aws:sqs", EventSourceARN: srcARN, AWSRegion: "us-east-1",
			})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := h.Handle(ctx, ev)
		cancel()
		if err != nil {
			t.Fatalf("Handle returned an error: %v", err)
		}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	dlq := w.drainDLQ()
	for _, c := range corpus {
		t.Run(c.File, func(t *testing.T) {
			out := outcomes[c.File]
			if !c.SQS {
				// SQS could never deliver this body, and SQS (here goaws, or the
				// SDK's MD5 check) may refuse it on the DLQ too: what matters is
				// that the core judged it invalid-message and did not crash. The
				// rejection's wording is checked by TestHostileDecoder; a failed
				// DLQ send's outcome carries only the send error.
				text := fmt.Sprint(out.Err)
				rejected := out.Reason == contract.ReasonInvalidMessage ||
					(out.Reason == contract.ReasonDLQSendFailed && strings.Contains(text, "("+string(contract.ReasonInvalidMessage)+")"))
				if !rejected {
					t.Errorf("outcome %s/%s (%s), want invalid-message", out.Kind, out.Reason, text)
				}
				t.Logf("outcome %s/%s", out.Kind, out.Reason)
				return
			}
			d := dlq[c.File]
			text := fmt.Sprintf("outcome %s/%s, %d on the DLQ", out.Kind, out.Reason, len(d))
			rejected := len(d) == 1 && d[0].reason.Class == contract.ReasonInvalidMessage && !failed[c.File]
			if rejected {
				text = d[0].reason.Message
				if !bytes.Equal([]byte(d[0].body), c.body) {
					t.Errorf("DLQ body differs from the original (%d vs %d bytes)", len(d[0].body), len(c.body))
				}
			}
			verdict(t, c, knownBugs, rejected, text)
		})
	}
}

// outcomeRecorder keeps each record's outcome, keyed by message id.
type outcomeRecorder struct {
	consumer.Handler
	mu  *sync.Mutex
	out map[string]consumer.Outcome
}

func (r outcomeRecorder) Handle(ctx context.Context, m consumer.Message) consumer.Outcome {
	o := r.Handler.Handle(ctx, m)
	r.mu.Lock()
	r.out[m.ID] = o
	r.mu.Unlock()
	return o
}

// TestHostileThroughSQSWorker: every corpus body SQS accepts is sent to the
// queue and consumed by the worker binary: each is dead-lettered as
// invalid-message, byte for byte, with a reason naming the problem; the worker
// never crashes and the queue ends empty.
func TestHostileThroughSQSWorker(t *testing.T) {
	w := newWorld(t, 5)
	corpus := loadCorpus(t)
	sent := 0
	for _, c := range corpus {
		if !c.SQS {
			continue
		}
		_, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(w.src), MessageBody: aws.String(string(c.body)),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{markerAttr: {DataType: aws.String("String"), StringValue: aws.String(c.File)}},
		})
		if err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		sent++
	}
	p := w.startWorker()
	w.waitEmpty(30 * time.Second)
	if !p.running() {
		t.Fatal("worker exited")
	}
	p.stop(t)
	if strings.Contains(p.out.String(), "panic") {
		t.Errorf("worker output mentions a panic")
	}
	dlq := w.drainDLQ()
	appliedN := len(w.sim.AppliedUpdates())
	for _, c := range corpus {
		if !c.SQS {
			continue
		}
		t.Run(c.File, func(t *testing.T) {
			d := dlq[c.File]
			text := fmt.Sprintf("%d on the DLQ", len(d))
			rejected := len(d) == 1 && d[0].reason.Class == contract.ReasonInvalidMessage
			if len(d) == 1 {
				text = string(d[0].reason.Class) + ": " + d[0].reason.Message
				if d[0].body != string(c.body) {
					t.Errorf("DLQ body differs from the original (%d vs %d bytes)", len(d[0].body), len(c.body))
				}
			}
			verdict(t, c, knownBugs, rejected, text)
		})
	}
	t.Logf("%d hostile bodies through SQS and the worker; %d UpdateCase calls applied", sent, appliedN)
}
