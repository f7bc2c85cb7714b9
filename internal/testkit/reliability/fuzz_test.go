package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lambdasqs"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// FuzzLambdaEvent: any invocation payload is decoded as the Lambda runtime
// decodes it (encoding/json into events.SQSEvent); a payload that decodes is
// handled by the real handler and core (real SDK, the simulator, goaws as the
// DLQ) without a panic, within its deadline, and its batch item failures name
// only records of the batch, each once.
//
// Seeds (every corpus body as a record, odd events) run in every go test.
// CI: go test -run '^$' -fuzz FuzzLambdaEvent -fuzztime 30s ./internal/reliability/
// Longer: -fuzztime 30m (see docs/testing.md).
func FuzzLambdaEvent(f *testing.F) {
	rec := func(id, body string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs", EventSourceARN: srcARN}
	}
	for i, h := range loadCorpus(f) {
		if len(h.body) > 4096 {
			continue // the fuzzer mutates seeds; big ones only slow it down
		}
		ev, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{rec(fmt.Sprint(i), string(h.body)), rec("ok", mix(0, 1)[0].body)}})
		f.Add(ev)
	}
	for _, s := range []string{
		`{}`, `{"Records":null}`, `{"Records":[{}]}`, `{"Records":[{"messageId":"a"},{"messageId":"a"}]}`,
		`{"Records":[{"messageId":"a","body":"{}","eventSourceARN":"arn:aws:sqs:us-east-1:1:q.fifo","attributes":{"MessageGroupId":"g"}}]}`,
		`{"Records":[{"messageId":"a","body":"x","attributes":{"ApproximateReceiveCount":"99999999999999999999"}}]}`,
		`{"Records":[{"messageId":"a","body":"x","messageAttributes":{"k":{"dataType":"Binary","binaryValue":"AAEC"}}}]}`,
	} {
		f.Add([]byte(s))
	}

	g := testbed.StartGoawsT(f, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "dlq"}}})
	sim := casesim.New(casesim.Options{RandSeed: 1, UpdateLogLimit: 100})
	root, _ := testbed.RepoRoot()
	if err := sim.LoadSeedFile(filepath.Join(root, "examples", "casesim-seed.json")); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	f.Cleanup(srv.Close)
	core, err := consumer.New(consumer.Options{
		Cases: testbed.NewCasesClient(srv.URL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} }),
		DLQ:   testbed.NewSQSClient(g.Endpoint), DLQURL: g.QueueURLT(f, "dlq"),
		Mapper:      mapper.New(mapper.Config{DefaultDomainID: domainID, MaxBodyBytes: corpusMaxBody}),
		MaxReceives: 8,
	})
	if err != nil {
		f.Fatal(err)
	}
	h := &lambdasqs.Handler{Core: core}

	f.Fuzz(func(t *testing.T, payload []byte) {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return // the runtime fails such an invocation before the handler runs
		}
		if len(ev.Records) > 10 {
			return // an event source mapping delivers at most 10 records per batch here
		}
		// Handle takes milliseconds; one that ignores its deadline runs on
		// (retrying a call that cannot succeed). The slack past the deadline is
		// for a machine loaded by the fuzzer's own workers.
		const deadline, slack = 5 * time.Second, 10 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		resp, err := h.Handle(ctx, ev)
		if err != nil {
			t.Fatalf("Handle returned an error (it must always answer with a partial response): %v", err)
		}
		if took := time.Since(start); took > deadline+slack {
			t.Fatalf("Handle took %s, far past its %s deadline", took, deadline)
		}
		ids := map[string]int{}
		for _, r := range ev.Records {
			ids[r.MessageId]++
		}
		seen := map[string]int{}
		for _, fl := range resp.BatchItemFailures {
			seen[fl.ItemIdentifier]++
			if ids[fl.ItemIdentifier] == 0 {
				t.Fatalf("batch item failure %q is not a record of the batch", fl.ItemIdentifier)
			}
			if seen[fl.ItemIdentifier] > ids[fl.ItemIdentifier] {
				t.Fatalf("batch item failure %q reported more often than the batch holds it", fl.ItemIdentifier)
			}
		}
	})
}
