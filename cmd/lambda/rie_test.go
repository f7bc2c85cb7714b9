package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/sqsproxy"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const (
	domainID = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	srcARN   = "arn:aws:sqs:us-east-1:100010001000:src"
)

// outputArrives bounds the wait for the function's output after an invoke
// answered: the emulator copies it through a pipe, after the answer.
const outputArrives = 10 * time.Second

// rig is the real bootstrap under the Runtime Interface Emulator, with goaws
// (behind the fault proxy) as the DLQ's SQS and the Cases simulator downstream.
type rig struct {
	t      *testing.T
	invoke string
	sim    *casesim.Server
	sqs    *sqs.Client
	proxy  *sqsproxy.Proxy
	dlq    string
	stderr *testbed.SyncBuffer
}

func newRig(t *testing.T, timeoutSecs int, extraEnv ...string) *rig {
	t.Helper()
	return newRigWith(t, timeoutSecs, func(string) string { return bootstrap }, extraEnv...)
}

// newRigWith is newRig whose emulator runs what runtime returns, given the
// address of the emulator's runtime API (a wrapper around bootstrap).
func newRigWith(t *testing.T, timeoutSecs int, runtime func(runtimeAPI string) string, extraEnv ...string) *rig {
	t.Helper()
	rie, err := testbed.ToolPath("aws-lambda-rie")
	if err != nil {
		t.Fatal(err)
	}
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src"}, {Name: "dlq"}}})
	p, endpoint, err := sqsproxy.Start(g.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{RandSeed: 1})
	r := &rig{t: t, sim: sim, sqs: testbed.NewSQSClient(endpoint), proxy: p, dlq: g.QueueURLT(t, "dlq"), stderr: &testbed.SyncBuffer{}}

	apiPort, _ := testbed.FreePort()
	rapidPort, _ := testbed.FreePort()
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", rapidPort), runtime(fmt.Sprintf("127.0.0.1:%d", rapidPort)))
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSecs),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_SQS="+endpoint, "AWS_ENDPOINT_URL_CONNECTCASES="+simURL,
		"CASEBRIDGE_DLQ_URL="+r.dlq, "CASEBRIDGE_DOMAIN_ID="+domainID)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = r.stderr, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r.invoke = fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", apiPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", apiPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not listen: %v\n%s", err, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

var bootstrap string

func TestMain(m *testing.M) {
	// One build for every test; the emulator runs it as Lambda would.
	dir, err := os.MkdirTemp("", "casebridge-bootstrap")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	bootstrap = filepath.Join(dir, "bootstrap")
	if err := testbed.BuildBinary(bootstrap, "./cmd/lambda", "lambda.norpc"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// send invokes the function once (the emulator takes one invocation at a time).
func (r *rig) send(ev events.SQSEvent) events.SQSEventResponse {
	r.t.Helper()
	return r.sendWith(ev, nil)
}

// sendWith invokes the function with extra request headers.
func (r *rig) sendWith(ev events.SQSEvent, header http.Header) events.SQSEventResponse {
	r.t.Helper()
	body, _ := json.Marshal(ev)
	req, err := http.NewRequest(http.MethodPost, r.invoke, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out events.SQSEventResponse
	if err := json.Unmarshal(raw, &out); err != nil || strings.Contains(string(raw), "timed out") {
		r.t.Fatalf("invoke answered %q (%v)\nfunction output:\n%s", raw, err, r.stderr)
	}
	return out
}

func record(i int, body string) events.SQSMessage {
	return events.SQSMessage{
		MessageId: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ReceiptHandle: fmt.Sprintf("rh-%d", i), Body: body,
		Attributes:        map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1764061200000"},
		MessageAttributes: map[string]events.SQSMessageAttribute{"origin": {DataType: "String", StringValue: aws.String(fmt.Sprintf("billing-%d", i))}},
		EventSource:       "aws:sqs", EventSourceARN: srcARN, AWSRegion: "us-east-1",
	}
}

func caseID(i int) string { return fmt.Sprintf("7a1d6c3e-0000-4000-8000-%012d", i%5+1) }

func good(i int) string {
	return fmt.Sprintf(`{"caseId":%q,"fields":{"reason":"r-%d"}}`, caseID(i), i)
}

func (r *rig) dlqReasons() map[string]contract.DeadLetterRecord {
	r.t.Helper()
	got := map[string]contract.DeadLetterRecord{}
	for {
		out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			r.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			var d contract.DeadLetterRecord
			_ = json.Unmarshal([]byte(aws.ToString(m.MessageAttributes[contract.ErrorAttribute].StringValue)), &d)
			if origin := aws.ToString(m.MessageAttributes["origin"].StringValue); !strings.HasPrefix(origin, "billing-") {
				r.t.Errorf("DLQ copy lost the original attribute: %q", origin)
			}
			got[d.SourceMessageID] = d
			_, _ = r.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(r.dlq), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

func ids(resp events.SQSEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	sort.Strings(out)
	return out
}

func TestLambdaMixedBatch(t *testing.T) {
	r := newRig(t, 7)
	var ev events.SQSEvent
	want := map[string]string{}
	for i := range 6 {
		ev.Records = append(ev.Records, record(i, good(i)))
	}
	bad := []struct {
		body  string
		class contract.Reason
	}{
		{`{"caseId":"x","feilds":{}}`, contract.ReasonInvalidMessage},
		{`\u0000 not json`, contract.ReasonInvalidMessage},
		{`{"caseId":"7a1d6c3e-0000-4000-8000-0000000000ff","fields":{"reason":"x"}}`, contract.ReasonNotFound},
		{fmt.Sprintf(`{"caseId":%q,"fields":{"status":"reopened"}}`, caseID(1)), contract.ReasonValidation},
	}
	for k, b := range bad {
		rec := record(100+k, b.body)
		ev.Records = append(ev.Records, rec)
		want[rec.MessageId] = string(b.class)
	}
	resp := r.send(ev)
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures %v, want none (dead-lettered records are reported as success)", ids(resp))
	}
	if n := len(r.sim.AppliedUpdates()); n != 6 {
		t.Errorf("%d updates applied, want 6", n)
	}
	got := r.dlqReasons()
	for id, class := range want {
		if string(got[id].Class) != class || got[id].SourceQueue != srcARN {
			t.Errorf("%s on the DLQ as %+v, want class %s from %s", id, got[id], class, srcARN)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d on the DLQ, want %d", len(got), len(want))
	}
	if !r.stderr.WaitFor(outputArrives, `"CloudWatchMetrics"`) {
		t.Errorf("no EMF metrics line in the function's output")
	}
}

// TestLambdaDeadlineReportsUnfinished: under a quota too tight to finish the batch
// in time, the records that did not finish are exactly the batch item failures.
func TestLambdaDeadlineReportsUnfinished(t *testing.T) {
	r := newRig(t, 2)
	r.sim.SetFaults(casesim.Faults{Rate: 2, Burst: 1})
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, record(i, good(i)))
	}
	resp := r.send(ev)
	failed := map[string]bool{}
	for _, id := range ids(resp) {
		failed[id] = true
	}
	applied := map[string]bool{}
	for _, u := range r.sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
				applied[v.Value] = true
			}
		}
	}
	both := 0
	for i, rec := range ev.Records {
		a, f := applied[fmt.Sprintf("r-%d", i)], failed[rec.MessageId]
		if !a && !f {
			t.Errorf("record %d neither applied nor reported failed: it would be lost", i)
		}
		if a && f {
			both++ // the call landed as the budget ran out: redelivered, applied twice (at-least-once)
		}
	}
	if len(failed) == 0 || len(applied) == 0 {
		t.Fatalf("%d applied, %d failed: want some of each under a quota too tight for the deadline", len(applied), len(failed))
	}
	t.Logf("%d applied, %d reported failed, %d both", len(applied), len(failed), both)
	if got := r.dlqReasons(); len(got) != 0 {
		t.Errorf("%d dead-lettered on throttling, want 0", len(got))
	}
	if !r.stderr.Await(outputArrives, func(out string) bool {
		return strings.Contains(out, "partly failed") || strings.Contains(out, "every record")
	}) {
		t.Errorf("batch failure not logged:\n%s", r.stderr)
	}
}

func TestLambdaFIFOGroups(t *testing.T) {
	r := newRig(t, 7)
	r.sim.SetFaults(casesim.Faults{Latency: 5 * time.Millisecond})
	var ev events.SQSEvent
	groups := []string{"a", "b", "a", "b", "a"}
	bodies := []string{good(0), good(1), `{"caseId":"7a1d6c3e-0000-4000-8000-0000000000ff","fields":{"reason":"x"}}`, good(3), good(4)}
	for i := range groups {
		rec := record(i, bodies[i])
		rec.EventSourceARN = srcARN + ".fifo"
		rec.Attributes["MessageGroupId"] = groups[i]
		ev.Records = append(ev.Records, rec)
	}
	resp := r.send(ev)
	// The not-found record is dead-lettered (a success for the batch), so the group goes on.
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures %v", ids(resp))
	}
	if n := len(r.sim.AppliedUpdates()); n != 4 {
		t.Errorf("%d applied, want 4", n)
	}
	// Now make group a fail at its first record: the rest of a must be reported, b must go on.
	r.proxy.FailAction("SendMessage", "dlq", 500, "InternalError", -1)
	resp = r.send(ev)
	if got := fmt.Sprint(ids(resp)); got != fmt.Sprint([]string{ev.Records[2].MessageId, ev.Records[4].MessageId}) {
		t.Errorf("failures %s, want the not-found record (DLQ refused) and the rest of its group", got)
	}
}
