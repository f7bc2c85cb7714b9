package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/rulecases"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestWorkerMapsEventsByRules runs the worker binary with CASEBRIDGE_RULES
// against goaws and the simulator: each upstream event ends where
// rulecases says (applied to the right case, or dead-lettered with its
// class and code), applied + dead-lettered = sent, and a later event for an
// order already looked up makes no second SearchCases call.
func TestWorkerMapsEventsByRules(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 10}, {Name: "dlq"}}})
	sim, simURL := testbed.StartCasesimT(t, casesim.Options{})
	if err := rulecases.Seed(sim); err != nil {
		t.Fatal(err)
	}
	rulesPath := writeRules(t)
	src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")
	c := testbed.NewSQSClient(g.Endpoint)
	_, logs, addr := startWorker(t, g.Endpoint, simURL, src, dlq, "CASEBRIDGE_RULES="+rulesPath, "CASEBRIDGE_FIELD_CATALOG=on")

	events := rulecases.Events()
	byID := map[string]rulecases.Event{}
	send := func(ev rulecases.Event) {
		out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(ev.Body)})
		if err != nil {
			t.Fatal(err)
		}
		byID[aws.ToString(out.MessageId)] = ev
	}
	for _, ev := range events {
		send(ev)
	}
	dead := map[string]contract.DeadLetterRecord{}
	wantApplied, wantDead := 0, 0
	for _, ev := range events {
		if ev.Case != "" {
			wantApplied++
		} else {
			wantDead++
		}
	}
	settled := func() bool {
		readDLQ(t, c, dlq, dead)
		return len(sim.AppliedUpdates()) >= wantApplied && len(dead) >= wantDead
	}
	poll.WaitFor(t, 30*time.Second, "every event applied or dead-lettered", settled)

	// Then the repeat, which must be answered from the lookup cache.
	send(rulecases.Repeat())
	wantApplied++
	poll.WaitFor(t, 30*time.Second, "the repeated event applied", settled)

	applied := map[string]int{}
	for _, u := range sim.AppliedUpdates() {
		applied[u.CaseID]++
	}
	wantByCase := map[string]int{}
	for _, ev := range byID {
		if ev.Case != "" {
			wantByCase[ev.Case]++
		}
	}
	for id, n := range wantByCase {
		if applied[id] != n {
			t.Errorf("case %s: %d updates applied, want %d", id, applied[id], n)
		}
	}
	if len(sim.AppliedUpdates()) != wantApplied {
		t.Errorf("%d updates applied, want %d", len(sim.AppliedUpdates()), wantApplied)
	}
	for id, rec := range dead {
		ev, ok := byID[rec.SourceMessageID]
		switch {
		case !ok:
			t.Errorf("DLQ holds %s, which was not sent", id)
		case ev.Case != "":
			t.Errorf("%s: dead-lettered as %s/%s (%s), want applied", ev.Name, rec.Class, rec.Code, rec.Message)
		case rec.Class != ev.Class || rec.Code != ev.Code:
			t.Errorf("%s: dead-lettered as %s/%s (%s), want %s/%s", ev.Name, rec.Class, rec.Code, rec.Message, ev.Class, ev.Code)
		}
	}
	if len(dead) != wantDead {
		t.Errorf("%d dead-lettered, want %d", len(dead), wantDead)
	}
	if n := sim.Stats()["SearchCases"][200]; n != rulecases.Searches {
		t.Errorf("%d SearchCases calls, want %d (one per order number; the repeat from the cache)", n, rulecases.Searches)
	}
	// Every event ends in one place: none is left on the source queue once
	// the worker's batched deletes are flushed (a message kept for a retry
	// would stay invisible for the queue's 10s visibility timeout).
	poll.WaitFor(t, 5*time.Second, "the source queue to be empty", func() bool { return queueEmpty(t, c, src) })
	// The metrics show the lookups' sources and the searches made.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`casebridge_lookups_total{source="cache"} 1`, `casebridge_lookups_total{source="search"} 3`,
		fmt.Sprintf(`casebridge_searchcases_calls_total{class="ok"} %d`, rulecases.Searches)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(logs.String(), `"rule":"invoice-paid"`) {
		t.Errorf("no outcome line names the rule")
	}
}

// TestWorkerLookupsUnderFaults: behind a SearchCases quota tighter than
// the pace (burst 1) and 500s on a fifth of every Cases call, every event
// found by a lookup is still applied to its case, and none is
// dead-lettered: a failing lookup retries, in process and through the queue,
// as a failing UpdateCase does. Given its share of that quota
// (CASEBRIDGE_LOOKUP_RATE_LIMIT), the worker paces its searches one at a
// time and none is throttled.
func TestWorkerLookupsUnderFaults(t *testing.T) {
	const n = 16
	tests := []struct {
		name   string
		faults casesim.Faults
		env    []string
		check  func(searches map[int]int) string // what is wrong, or ""
	}{
		{"500s, paced at the whole quota", casesim.Faults{ErrorRate: 0.2, AllOperations: true}, nil,
			func(st map[int]int) string {
				if st[429] == 0 || st[500] == 0 {
					return "the test needs throttles and 500s to prove anything"
				}
				return ""
			}},
		{"an exact share", casesim.Faults{}, []string{"CASEBRIDGE_LOOKUP_RATE_LIMIT=1.9"},
			func(st map[int]int) string {
				// At most one: a search paced a hair early at 95 % of the quota.
				if st[429] > 1 {
					return "searches paced at a share of the quota were throttled"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src", VisibilityTimeout: 5}, {Name: "dlq"}}})
			sim, simURL := testbed.StartCasesimT(t, casesim.Options{RandSeed: 7,
				Quotas: map[string]casesim.Quota{"SearchCases": {Rate: 2, Burst: 1}}, Faults: tt.faults})
			if err := rulecases.Orders(sim, n); err != nil {
				t.Fatal(err)
			}
			rulesPath := writeRules(t)
			src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "dlq")
			c := testbed.NewSQSClient(g.Endpoint)
			for i := range n {
				if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(rulecases.OrderPaid(i))}); err != nil {
					t.Fatal(err)
				}
			}
			startWorker(t, g.Endpoint, simURL, src, dlq, append([]string{"CASEBRIDGE_RULES=" + rulesPath}, tt.env...)...)
			applied := func() map[string]bool {
				got := map[string]bool{}
				for _, u := range sim.AppliedUpdates() {
					got[u.CaseID] = true
				}
				return got
			}
			poll.WaitFor(t, 90*time.Second, "every order's case updated", func() bool { return len(applied()) == n })
			poll.WaitFor(t, 10*time.Second, "the source queue to be empty", func() bool { return queueEmpty(t, c, src) })
			for i := range n {
				if !applied()[rulecases.OrderCase(i)] {
					t.Errorf("order %d's case not updated", i)
				}
			}
			dead := map[string]contract.DeadLetterRecord{}
			readDLQ(t, c, dlq, dead)
			for _, rec := range dead {
				t.Errorf("dead-lettered %s/%s: %s", rec.Class, rec.Code, rec.Message)
			}
			st := sim.Stats()["SearchCases"]
			if msg := tt.check(st); msg != "" {
				t.Errorf("SearchCases answers %v: %s", st, msg)
			}
			t.Logf("SearchCases answers %v, UpdateCase %v", st, sim.Stats()["UpdateCase"])
		})
	}
}

// writeRules writes rulecases' rules file into a temporary directory and
// returns its path.
func writeRules(t *testing.T) string {
	t.Helper()
	path, err := rulecases.Write(t.TempDir(), "rules.json", rulecases.Rules)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func queueEmpty(t *testing.T, c *sqs.Client, url string) bool {
	t.Helper()
	attrs, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range attrs.Attributes {
		if v != "0" {
			return false
		}
	}
	return len(attrs.Attributes) == 2
}

// readDLQ adds every message on the DLQ to dead, by message id, deleting
// what it read.
func readDLQ(t *testing.T, c *sqs.Client, dlq string, dead map[string]contract.DeadLetterRecord) {
	t.Helper()
	for {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		for _, m := range out.Messages {
			rec, err := contract.ParseDeadLetterRecord(aws.ToString(m.MessageAttributes[contract.ErrorAttribute].StringValue))
			if err != nil {
				t.Errorf("DLQ message %s: %v", aws.ToString(m.MessageId), err)
			}
			dead[aws.ToString(m.MessageId)] = rec
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestWorkerRefusesRulesThatDoNotCompile: a rules file that does not
// compile, or a hostile one (deep nesting, a huge expression, unbounded
// cost, a huge file), stops the start with a message naming the rule and
// why, before any network call, and compiling it keeps memory bounded (the
// process's peak RSS).
func TestWorkerRefusesRulesThatDoNotCompile(t *testing.T) {
	rule := func(when string) string {
		return `{"rules":[{"name":"evil","when":` + strconv.Quote(when) + `,"caseId":"'c'","set":{"f":{"value":1}}}]}`
	}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"syntax error", rulecases.BadRules, []string{`rule 1 \"` + rulecases.BadRule + `\"`, "when at 1:"}},
		{"deep nesting", rule(strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200)), []string{`rule 0 \"evil\"`, "recursion"}},
		{"huge expression", rule("true" + strings.Repeat(" && true", 1000)), []string{`rule 0 \"evil\"`, "at most 4096"}},
		{"unbounded cost", rule("event.xs.all(x, event.xs.all(y, event.xs.exists(z, x + y == z)))"), []string{`rule 0 \"evil\"`, "exceeds"}},
		{"huge file", `{"rules":[` + strings.Repeat(" ", 4<<20) + `]}`, []string{"at most"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, err := rulecases.Write(t.TempDir(), "rules.json", tc.file)
			if err != nil {
				t.Fatal(err)
			}
			// Through peakrss: the worker's own rusage, started from this
			// test process, would count the test's memory too.
			cmd := exec.Command(peakRSSBin, workerBin, "run")
			cmd.Env = cleanEnv("AWS_REGION=us-east-1", "CASEBRIDGE_QUEUE_URL=http://127.0.0.1:1/q", "CASEBRIDGE_DLQ_URL=http://127.0.0.1:1/d",
				"CASEBRIDGE_HTTP_ADDR=127.0.0.1:0", "CASEBRIDGE_RULES="+path)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("worker started (err %v):\n%s", err, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			m := regexp.MustCompile(`(?m)^peakrss: (\d+) KiB$`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no peak RSS reported:\n%s", out)
			}
			kib, _ := strconv.Atoi(string(m[1]))
			t.Logf("peak RSS %d MiB", kib>>10)
			// Measured: 22–25 MiB, the binary's own footprint.
			if kib > 100<<10 {
				t.Errorf("peak RSS %d MiB compiling a refused rules file, want under 100", kib>>10)
			}
		})
	}
}
