// Command demo runs casebridge end to end on this machine with nothing from AWS:
// a local SQS server (goaws), the Connect Cases simulator seeded with demo data,
// the real worker binary, the sample messages in examples/messages, and the
// upstream events in examples/rules with the mapping rules beside them. It
// then prints where every message ended up. Run it with scripts/demo (README).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func main() {
	rate := flag.Float64("rate", 0, "the simulator's UpdateCase quota in calls/s, over --quotas (0 = the preset's: 2/s burst 2 with aws-default)")
	quotas := flag.String("quotas", casesim.QuotaPresetAWSDefault, "the simulator's quota preset: aws-default (AWS's published defaults on every operation, the regime a newcomer meets) or none")
	keep := flag.Bool("keep", false, "keep everything running after the report until Ctrl-C")
	generated := flag.Int("generated", 60, "extra generated updates published with the samples, to show the quota used fully but politely")
	flag.Parse()
	if err := run(*rate, *quotas, *keep, *generated); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	sourceQueue = "case-updates"
	dlq         = "case-updates-dlq"
	domainID    = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
)

func run(rate float64, preset string, keep bool, generated int) error {
	ctx, stop := signalContext()
	defer stop()
	root, err := testbed.RepoRoot()
	if err != nil {
		return err
	}
	work := filepath.Join(root, "tmp", "demo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	step("starting the local SQS server (goaws v0.5.4)")
	g, err := testbed.StartGoaws(ctx, testbed.GoawsConfig{Queues: []testbed.Queue{
		{Name: sourceQueue, VisibilityTimeout: 30, RedrivePolicy: testbed.RedrivePolicy(dlq, 10)},
		{Name: dlq},
	}})
	if err != nil {
		return err
	}
	defer g.Close()
	sqsc := testbed.NewSQSClient(g.Endpoint)
	srcURL, err := g.QueueURL(ctx, sourceQueue)
	if err != nil {
		return err
	}
	dlqURL, err := g.QueueURL(ctx, dlq)
	if err != nil {
		return err
	}

	qs, err := casesim.QuotaPreset(preset)
	if err != nil {
		return err
	}
	// UpdateCase's quota goes into Faults, as cmd/casesim does, so --rate
	// can override the preset's.
	f := casesim.Faults{Rate: qs["UpdateCase"].Rate, Burst: max(qs["UpdateCase"].Burst, 2)}
	delete(qs, "UpdateCase")
	if rate > 0 {
		f.Rate = rate
	}
	step(fmt.Sprintf("starting the Connect Cases simulator (seed examples/casesim-seed.json, quotas %s, UpdateCase %g/s burst %d)", preset, f.Rate, f.Burst))
	sim := casesim.New(casesim.Options{Faults: f, Quotas: qs, Logger: zap.NewNop()})
	if err := sim.LoadSeedFile(filepath.Join(root, "examples", "casesim-seed.json")); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go simSrv.Serve(ln) //nolint:errcheck // ends with Close
	defer simSrv.Close()
	casesURL := "http://" + ln.Addr().String()

	step("building and starting the worker")
	bin := filepath.Join(work, "worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/worker")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the worker: %w", err)
	}
	httpPort, err := testbed.FreePort()
	if err != nil {
		return err
	}
	rulesPath := filepath.Join(work, "rules.json")
	events, err := joinRules(filepath.Join(root, "examples", "rules"), rulesPath)
	if err != nil {
		return err
	}
	logPath := filepath.Join(work, "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	worker := exec.Command(bin, "run")
	worker.Stdout, worker.Stderr = logFile, logFile
	worker.Env = append(os.Environ(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=demo", "AWS_SECRET_ACCESS_KEY=demo",
		"AWS_ENDPOINT_URL_SQS="+g.Endpoint, "AWS_ENDPOINT_URL_CONNECTCASES="+casesURL,
		"CASEBRIDGE_QUEUE_URL="+srcURL, "CASEBRIDGE_DLQ_URL="+dlqURL, "CASEBRIDGE_DOMAIN_ID="+domainID,
		fmt.Sprintf("CASEBRIDGE_HTTP_ADDR=127.0.0.1:%d", httpPort), "CASEBRIDGE_SHUTDOWN_GRACE=5s",
		"CASEBRIDGE_RULES="+rulesPath)
	if err := worker.Start(); err != nil {
		return err
	}
	defer worker.Process.Kill() //nolint:errcheck // already exited on the normal path

	samples, err := filepath.Glob(filepath.Join(root, "examples", "messages", "*.json"))
	if err != nil || len(samples) == 0 {
		return fmt.Errorf("no sample messages in examples/messages")
	}
	sort.Strings(samples)
	files := append(samples, events...)
	sent, err := publish(ctx, sqsc, srcURL, root, files, generated)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("published %d contract v1 samples, %d upstream events for the rules in examples/rules, and %d generated updates; waiting for the worker",
		len(samples), len(events), generated))
	dead, err := waitSettled(ctx, sqsc, srcURL, dlqURL, sim, sent)
	if err != nil {
		return fmt.Errorf("%w (worker log: %s)", err, logPath)
	}
	report(sent, dead, sim)

	if keep {
		step(fmt.Sprintf("still running: SQS %s, Cases %s, worker metrics http://127.0.0.1:%d/metrics; Ctrl-C to stop", g.Endpoint, casesURL, httpPort))
		<-ctx.Done()
	}
	step("stopping the worker with SIGTERM")
	_ = worker.Process.Signal(syscall.SIGTERM)
	if err := worker.Wait(); err != nil {
		return fmt.Errorf("worker did not exit cleanly: %w (log: %s)", err, logPath)
	}
	fmt.Printf("worker exited 0; its log (one JSON line per message outcome) is in %s\n", logPath)
	return nil
}

type sample struct{ file, messageID string }

// publish sends every file as one message, then the generated updates.
func publish(ctx context.Context, c *sqs.Client, queueURL, root string, files []string, generated int) ([]sample, error) {
	var sent []sample
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(body))})
		if err != nil {
			return nil, fmt.Errorf("sending %s: %w", f, err)
		}
		name, _ := filepath.Rel(filepath.Join(root, "examples"), f)
		sent = append(sent, sample{file: name, messageID: aws.ToString(out.MessageId)})
	}
	for i := range generated {
		body := fmt.Sprintf(`{"caseId":"7a1d6c3e-0000-4000-8000-%012d","fields":{"priority":%d},"eventId":"demo-%d"}`, i%5+1, i%5+1, i)
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)})
		if err != nil {
			return nil, fmt.Errorf("sending generated update %d: %w", i, err)
		}
		sent = append(sent, sample{messageID: aws.ToString(out.MessageId)})
	}
	return sent, nil
}

type deadLetter struct{ Class, Code, Message string }

// waitSettled waits until every sent message is either applied or on the DLQ.
func waitSettled(ctx context.Context, c *sqs.Client, srcURL, dlqURL string, sim *casesim.Server, sent []sample) (map[string]deadLetter, error) {
	dead := map[string]deadLetter{}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return nil, err
		}
		for _, m := range out.Messages {
			var r struct {
				Class, Code, Message, SourceMessageID string
			}
			if a, ok := m.MessageAttributes["casebridge-error"]; ok {
				_ = json.Unmarshal([]byte(aws.ToString(a.StringValue)), &r)
			}
			dead[r.SourceMessageID] = deadLetter{r.Class, r.Code, r.Message}
			_, _ = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlqURL), ReceiptHandle: m.ReceiptHandle})
		}
		applied := sim.Stats()["UpdateCase"][200]
		if applied+len(dead) >= len(sent) {
			return dead, nil
		}
	}
	return nil, errors.New("timed out waiting for the worker to settle every message")
}

func report(sent []sample, dead map[string]deadLetter, sim *casesim.Server) {
	fmt.Println()
	fmt.Println("Where each message ended up:")
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FILE\tOUTCOME\tREASON")
	applied, genApplied, genTotal := 0, 0, 0
	for _, s := range sent {
		if s.file == "" { // a generated update: summarised below the table
			genTotal++
			if _, ok := dead[s.messageID]; !ok {
				genApplied++
				applied++
			}
			continue
		}
		if d, ok := dead[s.messageID]; ok {
			reason := d.Class
			if d.Code != "" {
				reason += " (" + d.Code + ")"
			}
			fmt.Fprintf(tw, "  %s\tdead-lettered\t%s: %s\n", s.file, reason, oneLine(d.Message, 150))
			continue
		}
		applied++
		fmt.Fprintf(tw, "  %s\tapplied\t\n", s.file)
	}
	tw.Flush()
	if genTotal > 0 {
		fmt.Printf("  + %d generated updates: %d applied\n", genTotal, genApplied)
	}
	fmt.Printf("\n%d applied, %d dead-lettered, %d sent.\n", applied, len(dead), len(sent))
	calls := sim.Stats()["UpdateCase"]
	total := 0
	for _, n := range calls {
		total += n
	}
	stats, _ := json.Marshal(calls)
	fmt.Printf("UpdateCase calls by status: %s: %d of %d calls throttled (429) by the simulated quota; each was retried, none lost.\n", stats, calls[429], total)
	fmt.Println("\nCases after the run:")
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("7a1d6c3e-0000-4000-8000-%012d", i)
		fields, ok := sim.CaseFields(domainID, id)
		if !ok {
			continue
		}
		fmt.Printf("  %s  %s\n", id, describe(fields))
	}
}
