package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

var workerBin, peakRSSBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "casebridge-worker")
	if err != nil {
		panic(err)
	}
	workerBin = filepath.Join(dir, "worker")
	peakRSSBin = filepath.Join(dir, "peakrss")
	for bin, pkg := range map[string]string{workerBin: "./cmd/worker", peakRSSBin: "./internal/testkit/peakrss"} {
		if err := testbed.BuildBinary(bin, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the environment without any CASEBRIDGE_ or AWS_ settings.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CASEBRIDGE_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startWorker starts the worker binary on src (dead letters to dlq) against
// the SQS endpoint and the simulator at simURL, with extra environment
// variables; it is killed when the test ends. addr is its HTTP address.
func startWorker(t *testing.T, sqsEndpoint, simURL, src, dlq string, extra ...string) (cmd *exec.Cmd, logs *testbed.SyncBuffer, addr string) {
	t.Helper()
	port, _ := testbed.FreePort()
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	cmd = exec.Command(workerBin, "run", "--shutdown-grace", "5s")
	logs = &testbed.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = cleanEnv(append([]string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_ENDPOINT_URL_SQS=" + sqsEndpoint, "AWS_ENDPOINT_URL_CONNECTCASES=" + simURL,
		"CASEBRIDGE_QUEUE_URL=" + src, "CASEBRIDGE_DLQ_URL=" + dlq, "CASEBRIDGE_DOMAIN_ID=3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01",
		"CASEBRIDGE_HTTP_ADDR=" + addr}, extra...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, logs, addr
}

func runBin(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(workerBin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func TestStartupErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no queue", nil, "CASEBRIDGE_QUEUE_URL"},
		{"no DLQ", []string{"CASEBRIDGE_QUEUE_URL=q"}, "CASEBRIDGE_DLQ_URL"},
		{"bad duration", []string{"CASEBRIDGE_QUEUE_URL=q", "CASEBRIDGE_DLQ_URL=d", "CASEBRIDGE_MAX_HOLD=10"}, "CASEBRIDGE_MAX_HOLD"},
		{"bad number", []string{"CASEBRIDGE_MAX_IN_FLIGHT=lots"}, "CASEBRIDGE_MAX_IN_FLIGHT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runBin(t, cleanEnv(tc.env...), "run")
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q: want exit 2 naming %s", code, out, tc.want)
			}
		})
	}
}

func TestRunHelpDocumentsEverySetting(t *testing.T) {
	code, out := runBin(t, cleanEnv(), "run", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"CASEBRIDGE_QUEUE_URL", "CASEBRIDGE_DLQ_URL", "CASEBRIDGE_DOMAIN_ID", "CASEBRIDGE_MAX_IN_FLIGHT", "CASEBRIDGE_MAX_RECEIVES",
		"CASEBRIDGE_MAX_HOLD", "CASEBRIDGE_RATE_LIMIT", "CASEBRIDGE_SHUTDOWN_GRACE", "CASEBRIDGE_HTTP_ADDR", "CASEBRIDGE_LOG_LEVEL",
		"(default 64)", "(default 8)", "(default 10m0s)", "(default 25s)", "(default :8080)", "(default info)", "(default 0)", "AWS_ENDPOINT_URL_SQS"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, out := runBin(t, cleanEnv(), "frobnicate"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Errorf("exit %d %q", code, out)
	}
	// The tools moved to cmd/casebridge; the worker does not know them.
	for _, cmd := range []string{"check", "send", "dlq"} {
		if code, out := runBin(t, cleanEnv(), cmd); code != 2 || !strings.Contains(out, "unknown command") {
			t.Errorf("worker %s: exit %d %q, want 2 (unknown command)", cmd, code, out)
		}
	}
}

// TestHelpListsRunAndHealthcheck: --help, -h and help list the worker's two
// commands and nothing else.
func TestHelpListsRunAndHealthcheck(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out := runBin(t, cleanEnv(), arg)
		if code != 0 || !strings.Contains(out, "worker [run]") || !strings.Contains(out, "worker healthcheck") {
			t.Errorf("worker %s: exit %d\n%s", arg, code, out)
		}
		for _, gone := range []string{"worker check", "worker send", "worker dlq"} {
			if strings.Contains(out, gone) {
				t.Errorf("worker %s still lists %q", arg, gone)
			}
		}
	}
}

// TestWorkerBinaryEndToEnd runs the real binary against goaws and the simulator:
// it applies messages, serves health endpoints, passes its own healthcheck
// subcommand, and exits 0 on SIGTERM.
func TestWorkerBinaryEndToEnd(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 10}, {Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")
	c := testbed.NewSQSClient(g.Endpoint)
	for i := range 20 {
		body := fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-%012d","fields":{"priority":%d}}`, i%5+1, i)
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	cmd, logs, addr := startWorker(t, g.Endpoint, simURL, src, dlq)
	deadline := time.Now().Add(30 * time.Second)
	for sim.Stats()["UpdateCase"][200] < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of 20\n%s", sim.Stats()["UpdateCase"][200], logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, resp, err)
			continue
		}
		resp.Body.Close()
	}
	if code, out := runBin(t, cleanEnv("CASEBRIDGE_HTTP_ADDR="+addr), "healthcheck"); code != 0 {
		t.Errorf("healthcheck exit %d: %s", code, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exited with %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not exit within the grace period after SIGTERM")
	}
	if code, _ := runBin(t, cleanEnv("CASEBRIDGE_HTTP_ADDR="+addr), "healthcheck", "--timeout", "500ms"); code != 1 {
		t.Errorf("healthcheck of a stopped worker: exit %d, want 1", code)
	}
	for _, want := range []string{`"outcome":"applied"`, `"messageId"`, `"receiveCount"`, "worker stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}
