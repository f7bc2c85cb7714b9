package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/sqsproxy"
	"github.com/casebridge/casebridge/internal/testbed"
)

const (
	domainID    = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	missingCase = "7a1d6c3e-0000-4000-8000-0000000000ff"
	markerAttr  = "marker"
)

func caseID(i int) string { return fmt.Sprintf("7a1d6c3e-0000-4000-8000-%012d", i%5+1) }

// binaries are built once per test binary, on first use, so a run of only the
// decoder tests builds nothing.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testbed.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "casebridge-reliability"); buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{{"worker", "./cmd/worker"}, {"bootstrap", "./cmd/lambda"}} {
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(buildDir, b.out), b.pkg)
			cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// world is one test's services: goaws behind the fidelity proxy (receive
// counts, SQS-level faults), a TCP fault proxy between the code under test and
// SQS (outages), and the Cases simulator seeded with the demo data.
type world struct {
	t      *testing.T
	goaws  *testbed.Goaws
	proxy  *sqsproxy.Proxy
	net    *TCPFault
	sqs    *sqs.Client // the test's own client: straight to the proxy, never cut
	sim    *casesim.Server
	simURL string
	src    string
	dlq    string
	sqsURL string // what the code under test is given
}

func newWorld(t *testing.T, visibility int) *world {
	t.Helper()
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{
		// maxReceiveCount 10 above CASEBRIDGE_MAX_RECEIVES (8), as the templates set it.
		{Name: "src", VisibilityTimeout: visibility, RedrivePolicy: testbed.RedrivePolicy("dlq", 10)},
		{Name: "dlq", VisibilityTimeout: 30},
	}})
	p, endpoint, err := sqsproxy.Start(g.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	tf, err := StartTCPFault(strings.TrimPrefix(endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tf.Close() })
	sim := casesim.New(casesim.Options{RandSeed: 1})
	root, _ := testbed.RepoRoot()
	if err := sim.LoadSeedFile(filepath.Join(root, "examples", "casesim-seed.json")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	w := &world{t: t, goaws: g, proxy: p, net: tf, sim: sim, simURL: srv.URL,
		sqs: testbed.NewSQSClient(endpoint), sqsURL: "http://" + tf.Addr()}
	w.src = g.QueueURLT(t, "src")
	w.dlq = g.QueueURLT(t, "dlq")
	return w
}

// syncBuffer collects a child's output, written by exec's copying goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// proc is a running worker binary.
type proc struct {
	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{}
	state    *os.ProcessState
	httpAddr string
}

// baseEnv is a clean environment: no credentials, profiles or settings of the
// machine running the tests reach the binaries.
func baseEnv(sqsURL, casesURL string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SQS=" + sqsURL, "AWS_ENDPOINT_URL_CONNECTCASES=" + casesURL,
	}
}

// startWorker runs the worker binary against w; extra entries override the
// defaults (later entries win in exec).
func (w *world) startWorker(extra ...string) *proc {
	w.t.Helper()
	port, err := testbed.FreePort()
	if err != nil {
		w.t.Fatal(err)
	}
	p := &proc{out: &syncBuffer{}, exited: make(chan struct{}), httpAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.cmd = exec.Command(binary(w.t, "worker"), "run")
	p.cmd.Env = append(baseEnv(w.sqsURL, w.simURL),
		"CASEBRIDGE_QUEUE_URL="+w.src, "CASEBRIDGE_DLQ_URL="+w.dlq, "CASEBRIDGE_DOMAIN_ID="+domainID,
		"CASEBRIDGE_HTTP_ADDR="+p.httpAddr, "CASEBRIDGE_MAX_IN_FLIGHT=16", "CASEBRIDGE_SHUTDOWN_GRACE=5s",
		"CASEBRIDGE_MAX_BODY_BYTES="+fmt.Sprint(corpusMaxBody), "CASEBRIDGE_LOG_LEVEL=info")
	p.cmd.Env = append(p.cmd.Env, extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A test binary that dies must not leave workers behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); p.state = p.cmd.ProcessState; close(p.exited) }()
	w.t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if w.t.Failed() {
			w.t.Logf("worker output (last 4 KiB):\n%s", tail(p.out.String(), 4096))
		}
	})
	return p
}

// wait waits up to d for the process to exit and returns its exit code (-1
// when a signal ended it) and whether it exited.
func (p *proc) wait(d time.Duration) (code int, exited bool) {
	select {
	case <-p.exited:
		return p.state.ExitCode(), true
	case <-time.After(d):
		return 0, false
	}
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// kind is what a test message is designed to become.
type kind int

const (
	kValid      kind = iota // applied
	kInvalid                // invalid-message
	kNotFound               // not-found
	kValidation             // validation (the simulator refuses the value)
)

func (k kind) wantClass() string {
	return [...]string{"", consumer.ReasonInvalidMessage, consumer.ReasonNotFound, consumer.ReasonValidation}[k]
}

type msg struct {
	marker string
	kind   kind
	body   string
}

// mix builds n messages, from index first on: 7 of 10 valid, then one each
// invalid, not-found and refused by the service. Every message carries a
// unique marker, in the reason field (seen in the simulator's applied log) and
// in a message attribute (seen on the DLQ).
func mix(first, n int) []msg {
	out := make([]msg, 0, n)
	for i := first; i < first+n; i++ {
		m := msg{marker: fmt.Sprintf("m-%d", i)}
		switch i % 10 {
		case 7:
			m.kind, m.body = kInvalid, fmt.Sprintf(`{"caseId":%q,"feilds":{"reason":%q}}`, caseID(i), m.marker)
		case 8:
			m.kind, m.body = kNotFound, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q}}`, missingCase, m.marker)
		case 9:
			m.kind, m.body = kValidation, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q,"status":"reopened"}}`, caseID(i), m.marker)
		default:
			m.kind, m.body = kValid, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q}}`, caseID(i), m.marker)
		}
		out = append(out, m)
	}
	return out
}

// send puts msgs on the source queue, ten per call.
func (w *world) send(msgs []msg) {
	w.t.Helper()
	for start := 0; start < len(msgs); start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(m.body),
				MessageAttributes: map[string]sqstypes.MessageAttributeValue{
					markerAttr: {DataType: aws.String("String"), StringValue: aws.String(m.marker)},
				},
			})
		}
		out, err := w.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(w.src), Entries: entries})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			w.t.Fatalf("send failed: %+v", out.Failed)
		}
	}
}

// depth is the source queue's visible and in-flight message counts.
func (w *world) depth() (visible, inFlight int) {
	w.t.Helper()
	out, err := w.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(w.src),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], &visible)
	fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)], &inFlight)
	return visible, inFlight
}

// waitEmpty waits until the source queue holds nothing, visible or not.
func (w *world) waitEmpty(d time.Duration) {
	w.t.Helper()
	if !eventually(d, func() bool { v, f := w.depth(); return v == 0 && f == 0 }) {
		v, f := w.depth()
		w.t.Fatalf("source queue not empty after %s: %d visible, %d in flight", d, v, f)
	}
}

// eventually polls cond (external state, which offers no signal) until it
// holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// applied counts applications per marker in the simulator's log.
func applied(sim *casesim.Server) map[string]int {
	got := map[string]int{}
	for _, u := range sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if aws.ToString(f.Id) != "reason" {
				continue
			}
			if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
				got[v.Value]++
			}
		}
	}
	return got
}

// dead is one message found on the DLQ.
type dead struct {
	reason consumer.DeadLetterReason
	body   string
	attrs  map[string]sqstypes.MessageAttributeValue
}

// drainDLQ takes every message off the DLQ, keyed by marker attribute (or by
// body when there is none).
func (w *world) drainDLQ() map[string][]dead {
	w.t.Helper()
	got := map[string][]dead{}
	for {
		out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(w.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			d := dead{body: aws.ToString(m.Body), attrs: m.MessageAttributes}
			if a, ok := m.MessageAttributes[consumer.ErrorAttribute]; ok {
				if err := json.Unmarshal([]byte(aws.ToString(a.StringValue)), &d.reason); err != nil {
					w.t.Errorf("%s is not JSON: %v", consumer.ErrorAttribute, err)
				}
			}
			key := aws.ToString(m.MessageAttributes[markerAttr].StringValue)
			if key == "" {
				key = d.body
			}
			got[key] = append(got[key], d)
			if _, err := w.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(w.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// account checks that every message ended in exactly one right place: a valid
// one applied (at least once) and never dead-lettered, every other one on the
// DLQ with its class and never applied. It returns the duplicates (extra
// applications and extra DLQ copies), which at-least-once delivery allows.
func account(t *testing.T, msgs []msg, got map[string]int, dlq map[string][]dead) (dups int) {
	t.Helper()
	known := map[string]bool{}
	var lost []string
	for _, m := range msgs {
		known[m.marker] = true
		n, d := got[m.marker], dlq[m.marker]
		switch {
		case m.kind == kValid && n == 0 && len(d) == 0:
			lost = append(lost, m.marker)
		case m.kind == kValid && len(d) > 0:
			t.Errorf("%s (valid) dead-lettered as %+v", m.marker, d[0].reason)
		case m.kind != kValid && n > 0:
			t.Errorf("%s (%s) applied %d times", m.marker, m.kind.wantClass(), n)
		case m.kind != kValid && len(d) == 0:
			lost = append(lost, m.marker)
		}
		for _, x := range d {
			if m.kind != kValid && x.reason.Class != m.kind.wantClass() {
				t.Errorf("%s on the DLQ as %q (%s), want %q", m.marker, x.reason.Class, x.reason.Message, m.kind.wantClass())
			}
			if x.body != m.body {
				t.Errorf("%s: DLQ body %q, want the original %q", m.marker, x.body, m.body)
			}
		}
		if n > 1 {
			dups += n - 1
		}
		if len(d) > 1 {
			dups += len(d) - 1
		}
	}
	for k := range dlq {
		if !known[k] {
			t.Errorf("unexpected DLQ message %q", k)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("%d messages lost (neither applied nor dead-lettered): %v", len(lost), lost)
	}
	return dups
}
