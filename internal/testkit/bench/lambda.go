package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

type lambdaResult struct {
	coldWall      time.Duration // first invoke, as the caller saw it (includes init)
	initReport    float64       // ms, the emulator's INIT REPORT
	p50, p95, p99 time.Duration // warm batches
	batches       int
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// lambdaBatches runs the real bootstrap under the emulator and invokes it with
// batches of 10 records, one invocation at a time (the emulator takes no more).
func (e *env) lambdaBatches(ctx context.Context, batches int) (lambdaResult, error) {
	var res lambdaResult
	dlq, err := e.queue(ctx, "lambda-dlq")
	if err != nil {
		return res, err
	}
	p, invokeURL, err := e.startRIE(ctx, "lambda-rie", e.simURL, dlq)
	if err != nil {
		return res, err
	}
	defer p.stop(2 * time.Second)
	base, err := e.updates(ctx)
	if err != nil {
		return res, err
	}
	var warm []time.Duration
	for b := range batches + 1 {
		d, err := e.invoke(ctx, invokeURL, b)
		if err != nil {
			return res, fmt.Errorf("batch %d: %w; emulator log: %s", b, err, p.last(1500))
		}
		if b == 0 {
			res.coldWall = d
		} else {
			warm = append(warm, d)
		}
	}
	after, err := e.updates(ctx)
	if err != nil {
		return res, err
	}
	if got, want := after.minus(base).OK, 10*(batches+1); got != want {
		return res, fmt.Errorf("simulator applied %d updates, want %d", got, want)
	}
	if m := initReport.FindStringSubmatch(p.output()); m != nil {
		res.initReport, _ = strconv.ParseFloat(m[1], 64)
	}
	slices.Sort(warm)
	q := func(f float64) time.Duration { return warm[min(len(warm)-1, int(f*float64(len(warm))))] }
	res.p50, res.p95, res.p99, res.batches = q(0.50), q(0.95), q(0.99), batches
	return res, nil
}

// startRIE runs the bootstrap under the emulator (logging to dir/name.log),
// against the simulator at simURL, and waits until the emulator listens; it
// returns the invoke URL. The environment is fresh: its first invocation is a
// cold start.
func (e *env) startRIE(ctx context.Context, name, simURL, dlq string, extraEnv ...string) (*proc, string, error) {
	rie, err := testbed.ToolPath("aws-lambda-rie")
	if err != nil {
		return nil, "", err
	}
	apiPort, err := testbed.FreePort()
	if err != nil {
		return nil, "", err
	}
	rapidPort, err := testbed.FreePort()
	if err != nil {
		return nil, "", err
	}
	envv := append(baseEnv(e.dir), "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_ENDPOINT_URL_SQS="+e.goaws.Endpoint, "AWS_ENDPOINT_URL_CONNECTCASES="+simURL,
		"CASEBRIDGE_DLQ_URL="+dlq, "CASEBRIDGE_DOMAIN_ID="+domainID)
	envv = append(envv, extraEnv...)
	p, err := startProc(e.dir, name, rie, []string{
		"--runtime-interface-emulator-address", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(rapidPort), e.bootstrap}, envv)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(apiPort)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop(time.Second)
			return nil, "", fmt.Errorf("emulator did not listen: %s", p.last(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, "http://" + addr + "/2015-03-31/functions/function/invocations", nil
}

// invoke sends batch b (10 records on 10 different cases) and checks that no
// record was reported as failed.
func (e *env) invoke(ctx context.Context, url string, b int) (time.Duration, error) {
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, sqsRecord(fmt.Sprintf("m-%06d-%02d", b, i), b*10+i, 1))
	}
	out, d, err := e.invokeEvent(ctx, e.http, url, ev)
	if err != nil {
		return 0, err
	}
	if len(out.BatchItemFailures) > 0 {
		return 0, fmt.Errorf("%d records reported as failed", len(out.BatchItemFailures))
	}
	return d, nil
}

// sqsRecord is the record of message id with smallBody(i), as Lambda's SQS
// event source delivers it for the receive'th time.
func sqsRecord(id string, i, receive int) events.SQSMessage {
	return events.SQSMessage{
		MessageId: id, ReceiptHandle: "rh-" + id, Body: smallBody(i),
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receive),
			"SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)},
		EventSource:    "aws:sqs",
		EventSourceARN: testbed.QueueARN("lambda-src"), AWSRegion: testbed.GoawsRegion,
	}
}

// invokeEvent sends ev (with hc, whose timeout must outlast the function's)
// and returns the function's answer and how long the
// caller waited for it.
func (e *env) invokeEvent(ctx context.Context, hc *http.Client, url string, ev events.SQSEvent) (events.SQSEventResponse, time.Duration, error) {
	var out events.SQSEventResponse
	body, _ := json.Marshal(ev)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return out, 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, 0, fmt.Errorf("answer is not an SQSEventResponse: %w", err)
	}
	return out, time.Since(t0), nil
}
