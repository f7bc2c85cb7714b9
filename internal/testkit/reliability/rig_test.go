package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
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
		if buildDir, buildErr = os.MkdirTemp("", "casebridge-reliability"); buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{{"worker", "./cmd/worker"}, {"bootstrap", "./cmd/lambda"}} {
			if buildErr = testbed.BuildBinary(filepath.Join(buildDir, b.out), b.pkg, "lambda.norpc"); buildErr != nil {
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
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{RandSeed: 1})
	w := &world{t: t, goaws: g, proxy: p, net: tf, sim: sim, simURL: simURL,
		sqs: testbed.NewSQSClient(endpoint), sqsURL: "http://" + tf.Addr()}
	w.src = g.QueueURLT(t, "src")
	w.dlq = g.QueueURLT(t, "dlq")
	return w
}

// proc is a running worker binary.
type proc struct {
	cmd      *exec.Cmd
	out      *testbed.SyncBuffer
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
	p := &proc{out: &testbed.SyncBuffer{}, exited: make(chan struct{}), httpAddr: fmt.Sprintf("127.0.0.1:%d", port)}
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
func eventually(d time.Duration, cond func() bool) bool { return poll.Until(d, cond) }
