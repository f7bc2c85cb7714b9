package reliability

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const srcARN = "arn:aws:sqs:us-east-1:100010001000:src"

// lambdaRig is the real bootstrap under the Runtime Interface Emulator.
type lambdaRig struct {
	invokeURL string
	out       *testbed.SyncBuffer
	rie       *exec.Cmd
	// allowFailed makes an invocation that answers with a function error (or
	// not at all) a counted event rather than a test failure.
	allowFailed bool
	failed      int
}

func (w *world) startLambda(timeoutSecs int, extra ...string) *lambdaRig {
	w.t.Helper()
	rie, err := testbed.ToolPath("aws-lambda-rie")
	if err != nil {
		w.t.Fatal(err)
	}
	apiPort, _ := testbed.FreePort()
	rapidPort, _ := testbed.FreePort()
	r := &lambdaRig{out: &testbed.SyncBuffer{}, invokeURL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", apiPort)}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", rapidPort), binary(w.t, "bootstrap"))
	cmd.Env = append(baseEnv(w.sqsURL, w.simURL), fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeoutSecs),
		"CASEBRIDGE_DLQ_URL="+w.dlq, "CASEBRIDGE_DOMAIN_ID="+domainID, "CASEBRIDGE_MAX_BODY_BYTES="+fmt.Sprint(corpusMaxBody))
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	r.rie = cmd
	w.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if w.t.Failed() {
			w.t.Logf("function output (last 4 KiB):\n%s", tail(r.out.String(), 4096))
		}
	})
	if !eventually(30*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", apiPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		w.t.Fatalf("emulator did not listen:\n%s", r.out)
	}
	return r
}

// invoke runs one invocation (the emulator takes one at a time) and reports
// whether the function answered with a batch response. A function error (the
// runtime crashed or timed out) fails the whole batch, as Lambda's event
// source mapping treats it.
func (r *lambdaRig) invoke(t *testing.T, ev events.SQSEvent) (events.SQSEventResponse, bool) {
	t.Helper()
	body, _ := json.Marshal(ev)
	var out events.SQSEventResponse
	resp, err := http.Post(r.invokeURL, "application/json", bytes.NewReader(body))
	var raw []byte
	if err == nil {
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	var probe map[string]json.RawMessage
	if err == nil && json.Unmarshal(raw, &probe) == nil && probe["errorType"] == nil && probe["errorMessage"] == nil &&
		json.Unmarshal(raw, &out) == nil {
		return out, true
	}
	if r.allowFailed {
		r.failed++
		t.Logf("invocation failed as a whole (%v): %.200s", err, raw)
	} else {
		t.Errorf("invocation answered %q (%v), not a batch response", raw, err)
	}
	return events.SQSEventResponse{}, false
}

// bootstrapPID finds the function process the emulator started (it starts it
// on the first invocation).
func (r *lambdaRig) bootstrapPID() int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", r.rie.Process.Pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", r.rie.Process.Pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			var pid int
			fmt.Sscan(f, &pid)
			if pid > 0 {
				return pid
			}
		}
	}
	return 0
}

// toEvent turns received messages into the event Lambda's event source
// mapping would deliver.
func toEvent(msgs []sqstypes.Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, MessageAttributes: attrs, EventSource: "aws:sqs", EventSourceARN: srcARN, AWSRegion: "us-east-1",
		})
	}
	return ev
}

// pollAndInvoke is a minimal event source mapping: receive up to 10, invoke,
// delete what was not reported failed. It checks, per invocation, that every
// record not reported failed did finish (applied or dead-lettered during the
// invocation), and counts records reported failed although they finished
// (they will be handled again: duplicates). It returns when the queue is empty.
func (w *world) pollAndInvoke(t *testing.T, r *lambdaRig, d time.Duration) (dlq map[string][]dead, invocations, failedDone int) {
	t.Helper()
	dlq = map[string][]dead{}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(w.src), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			if v, f := w.depth(); v == 0 && f == 0 {
				return dlq, invocations, failedDone
			}
			continue
		}
		ev := toEvent(out.Messages)
		before := applied(w.sim)
		t0 := time.Now()
		resp, ok := r.invoke(t, ev)
		t.Logf("invocation %d: %d records, %d failed, %s", invocations, len(ev.Records), len(resp.BatchItemFailures), time.Since(t0).Round(time.Millisecond))
		invocations++
		after := applied(w.sim)
		newDead := w.drainDLQ()
		for k, v := range newDead {
			dlq[k] = append(dlq[k], v...)
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			if failed[f.ItemIdentifier] {
				t.Errorf("batch item failure %s reported twice", f.ItemIdentifier)
			}
			failed[f.ItemIdentifier] = true
		}
		var done []sqstypes.DeleteMessageBatchRequestEntry
		known := map[string]bool{}
		for i, rec := range ev.Records {
			known[rec.MessageId] = true
			marker := aws.ToString(rec.MessageAttributes[markerAttr].StringValue)
			finished := after[marker] > before[marker] || len(newDead[marker]) > 0
			switch {
			case !ok:
				// No answer: Lambda retries the whole batch; nothing is deleted.
			case !failed[rec.MessageId] && !finished:
				t.Errorf("record %s (%s) not reported failed, yet neither applied nor dead-lettered: it would be lost", rec.MessageId, marker)
			case failed[rec.MessageId] && finished:
				failedDone++
			}
			if ok && !failed[rec.MessageId] {
				done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(rec.ReceiptHandle)})
			}
		}
		for id := range failed {
			if !known[id] {
				t.Errorf("batch item failure %q is not a record of the batch", id)
			}
		}
		if len(done) > 0 {
			out, err := w.sqs.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(w.src), Entries: done})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Failed) > 0 {
				t.Fatalf("event source mapping could not delete: %+v", out.Failed)
			}
		}
	}
	v, f := w.depth()
	t.Fatalf("queue not empty after %s: %d visible, %d in flight", d, v, f)
	return nil, 0, 0
}

// TestLambdaFaults: the real bootstrap under the emulator, fed by a minimal
// event source mapping, while the simulator fails (10 % 500s, 5 % dropped
// connections, a 2 s latency spike, a 10-second throttle storm), then the
// DLQ refuses sends for 3 s, then SQS is unreachable from the function for 3 s. Batch item failures are exactly the records that
// did not finish, and at the end every message is in its one right place.
func TestLambdaFaults(t *testing.T) {
	// Visibility above the function timeout, as Lambda requires (the templates
	// use 6x; a shorter one keeps the test quick), so receipts stay valid.
	w := newWorld(t, 5)
	r := w.startLambda(4)
	base := casesim.Faults{ErrorRate: 0.10, DropRate: 0.05}
	spike, storm := base, base
	spike.Latency = 2 * time.Second
	storm.Rate, storm.Burst = 1, 1
	w.sim.SetFaults(spike)
	msgs := mix(0, 60)
	w.send(msgs)
	stop := make(chan struct{})
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		for _, p := range []struct {
			apply func()
			d     time.Duration
		}{
			{func() { w.sim.SetFaults(spike) }, 3 * time.Second},
			{func() { w.sim.SetFaults(storm) }, 10 * time.Second},
			{func() { w.sim.SetFaults(base); w.proxy.FailAction("SendMessage", "dlq", 500, "InternalError", -1) }, 3 * time.Second},
			// SQS unreachable for the function (its DLQ sends), not for the mapping.
			{func() { w.proxy.ClearFaults(); w.net.Down(true) }, 3 * time.Second},
		} {
			p.apply()
			select {
			case <-stop:
				return
			case <-time.After(p.d): // the phase's length is the fault itself
			}
		}
		w.proxy.ClearFaults()
		w.net.Down(false)
	}()
	dlq, n, failedDone := w.pollAndInvoke(t, r, 120*time.Second)
	close(stop)
	<-schedDone
	st := w.sim.Stats()["UpdateCase"]
	for _, status := range []int{500, 429, 0} {
		if st[status] == 0 {
			t.Errorf("no UpdateCase answered %d: the fault was not exercised (stats %v)", status, st)
		}
	}
	dups := account(t, msgs, applied(w.sim), dlq)
	if !strings.Contains(r.out.String(), `"CloudWatchMetrics"`) {
		t.Errorf("no EMF metrics in the function's output")
	}
	t.Logf("%d invocations; stats %v; %d DLQ sends (refused or made), %d SQS connections reset; %d records reported failed although finished; %d messages, %d duplicates",
		n, st, w.proxy.Calls("SendMessage"), w.net.Refused(), failedDone, len(msgs), dups)
}

// TestLambdaKilledMidBatch: the function process is killed with SIGKILL in
// the middle of an invocation (as when Lambda's sandbox dies). The invocation
// fails as a whole, so nothing of its batch is deleted; the emulator starts a
// fresh process for the next one, and every message still ends in its one
// right place (the records applied before the kill are applied again:
// counted duplicates).
func TestLambdaKilledMidBatch(t *testing.T) {
	w := newWorld(t, 3)
	r := w.startLambda(4)
	r.allowFailed = true
	w.sim.SetFaults(casesim.Faults{Latency: 300 * time.Millisecond, LatencyJitter: 600 * time.Millisecond})
	msgs := mix(0, 40)
	w.send(msgs)
	killed := make(chan int, 1)
	go func() {
		// Mid-batch: some records of the first invocation applied, others waiting.
		if !eventually(60*time.Second, func() bool { return appliedCount(w.sim) >= 3 }) {
			killed <- 0
			return
		}
		pid := r.bootstrapPID()
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		killed <- appliedCount(w.sim)
	}()
	dlq, n, failedDone := w.pollAndInvoke(t, r, 120*time.Second)
	atKill := <-killed
	if atKill == 0 || r.failed == 0 {
		t.Fatalf("the function was not killed mid-batch (applied at kill %d, failed invocations %d)", atKill, r.failed)
	}
	dups := account(t, msgs, applied(w.sim), dlq)
	t.Logf("killed after %d applications; %d invocations, %d failed as a whole; %d reported failed although finished; %d messages, %d duplicates",
		atKill, n, r.failed, failedDone, len(msgs), dups)
}
