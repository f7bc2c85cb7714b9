package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// The demo domain everyone agrees on; the harness adds its own cases to it.
const (
	domainID  = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	benchCase = "7a1d6c3e-0000-4000-8001-%012d"
	numCases  = 100
)

func caseID(i int) string { return fmt.Sprintf(benchCase, i%numCases) }

// env is one run's shared infrastructure: the built binaries, one goaws and one
// simulator process. Scenarios create their own queues so none sees another's
// leftovers.
type env struct {
	root, dir string
	workerEnv []string
	worker    string // binaries
	casesim   string
	bootstrap string

	goaws  *testbed.Goaws
	sim    *proc
	simURL string
	sqs    *sqs.Client
	http   *http.Client
}

// build compiles the binaries once into dir, so every scenario runs the same
// artefacts and no compile competes with a measurement.
func (e *env) build(ctx context.Context, lambda bool) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.dir+string(os.PathSeparator), "./cmd/worker", "./cmd/casesim")
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build worker, casesim: %w\n%s", err, out)
	}
	e.worker, e.casesim = filepath.Join(e.dir, "worker"), filepath.Join(e.dir, "casesim")
	if !lambda {
		return nil
	}
	e.bootstrap = filepath.Join(e.dir, "bootstrap")
	cmd = exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", e.bootstrap, "./cmd/lambda")
	cmd.Dir, cmd.Env = e.root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build lambda: %w\n%s", err, out)
	}
	return nil
}

// start launches goaws and the simulator (seeded with the demo domain and the
// harness's cases).
func (e *env) start(ctx context.Context) error {
	g, err := testbed.StartGoaws(ctx, testbed.GoawsConfig{})
	if err != nil {
		return err
	}
	e.goaws = g
	e.sqs = testbed.NewSQSClient(g.Endpoint)
	e.http = &http.Client{Timeout: 10 * time.Second}

	seed := filepath.Join(e.dir, "seed.json")
	if err := writeSeed(seed); err != nil {
		return err
	}
	e.sim, e.simURL, err = e.startSim(ctx, "casesim")
	return err
}

// startSim starts one simulator process (logging to dir/name.log), seeded
// with the harness's cases from dir/seed.json, and returns its base URL.
func (e *env) startSim(ctx context.Context, name string) (*proc, string, error) {
	p, err := startProc(e.dir, name, e.casesim,
		[]string{"--addr", "127.0.0.1:0", "--seed", filepath.Join(e.dir, "seed.json"), "--rand-seed", "1", "--log-level", "warn"}, baseEnv(e.dir))
	if err != nil {
		return nil, "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	addr, err := p.waitLine(wctx, "casesim listening on ")
	if err != nil {
		p.stop(time.Second)
		return nil, "", err
	}
	return p, strings.TrimSpace(addr), nil
}

func (e *env) close() {
	if e.sim != nil {
		e.sim.stop(2 * time.Second)
	}
	if e.goaws != nil {
		_ = e.goaws.Close()
	}
}

// baseEnv is the environment every child gets: nothing from the caller's shell
// (no CASEBRIDGE_* or AWS_* leaking in, no shared AWS config files read).
func baseEnv(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	}
}

// writeSeed writes the demo domain (as examples/casesim-seed.json) with
// numCases cases of the harness's own.
func writeSeed(path string) error {
	type field struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Options []string `json:"options,omitempty"`
	}
	type kase struct {
		ID         string         `json:"id"`
		TemplateID string         `json:"templateId"`
		Fields     map[string]any `json:"fields"`
	}
	var cases []kase
	for i := range numCases {
		cases = append(cases, kase{ID: caseID(i), TemplateID: "tmpl-default",
			Fields: map[string]any{"title": "bench case " + strconv.Itoa(i), "status": "open"}})
	}
	doc := map[string]any{"domains": []any{map[string]any{
		"id": domainID, "name": "demo",
		"fields": []field{
			{Name: "status", Type: "SingleSelect", Options: []string{"open", "pending", "closed"}},
			{Name: "title", Type: "Text"}, {Name: "summary", Type: "Text"}, {Name: "priority", Type: "Number"},
			{Name: "escalated", Type: "Boolean"}, {Name: "reason", Type: "Text"}, {Name: "owner", Type: "User"},
			{Name: "website", Type: "Url"},
		},
		"templates": []any{map[string]any{"id": "tmpl-default", "name": "default", "requiredFields": []string{"title"}, "status": "Active"}},
		"cases":     cases,
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// faults is the simulator's fault configuration as its control endpoint takes it.
type faults struct {
	Rate    float64 `json:"rate,omitempty"`
	Burst   int     `json:"burst,omitempty"`
	Latency string  `json:"latency,omitempty"`
}

func (e *env) setFaults(ctx context.Context, f faults) error { return e.setFaultsAt(ctx, e.simURL, f) }

// setFaultsAt sets the faults of the simulator at simURL.
func (e *env) setFaultsAt(ctx context.Context, simURL string, f faults) error {
	b, _ := json.Marshal(f)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, simURL+"/casesim/faults", bytes.NewReader(b))
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("set simulator faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set simulator faults: %s: %s", resp.Status, msg)
	}
	return nil
}

// updateCounts are the simulator's UpdateCase answers so far.
type updateCounts struct {
	OK, Throttled, All int
}

func (c updateCounts) minus(o updateCounts) updateCounts {
	return updateCounts{c.OK - o.OK, c.Throttled - o.Throttled, c.All - o.All}
}

func (e *env) updates(ctx context.Context) (updateCounts, error) { return e.updatesAt(ctx, e.simURL) }

// updatesAt reads the UpdateCase answers of the simulator at simURL.
func (e *env) updatesAt(ctx context.Context, simURL string) (updateCounts, error) {
	var st map[string]map[string]int
	if err := e.getJSONAt(ctx, simURL, "/casesim/stats", &st); err != nil {
		return updateCounts{}, err
	}
	var c updateCounts
	for code, n := range st["UpdateCase"] {
		c.All += n
		switch code {
		case "200":
			c.OK += n
		case "429":
			c.Throttled += n
		}
	}
	return c, nil
}

// caseValues returns a case's current values as the simulator's JSON unions.
func (e *env) caseValues(ctx context.Context, id string) (map[string]map[string]any, error) {
	var out struct {
		Fields map[string]map[string]any `json:"fields"`
	}
	err := e.getJSON(ctx, "/casesim/domains/"+domainID+"/cases/"+id, &out)
	return out.Fields, err
}

func (e *env) getJSON(ctx context.Context, path string, v any) error {
	return e.getJSONAt(ctx, e.simURL, path, v)
}

func (e *env) getJSONAt(ctx context.Context, simURL, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, simURL+path, nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// queue creates a queue on goaws and returns its URL.
func (e *env) queue(ctx context.Context, name string) (string, error) {
	// Short, so a batch goaws strands (see drain.rate) comes back soon; the
	// worker's heartbeat keeps longer work invisible.
	attrs := map[string]string{"VisibilityTimeout": "10"}
	if strings.HasSuffix(name, ".fifo") {
		attrs["FifoQueue"] = "true"
	}
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// preloadedQueue creates a queue named name and its dead-letter queue
// (name-dlq), and puts n small messages on the first; it returns both URLs.
func (e *env) preloadedQueue(ctx context.Context, name string, n int) (url, dlq string, err error) {
	if url, err = e.queue(ctx, name); err != nil {
		return "", "", err
	}
	if dlq, err = e.queue(ctx, name+"-dlq"); err != nil {
		return "", "", err
	}
	if err := preload(ctx, e.sqs, url, smallEntries(n)); err != nil {
		return "", "", err
	}
	return url, dlq, nil
}

// depth returns the messages on a queue that are not deleted yet (visible and
// in flight).
func (e *env) depth(ctx context.Context, url string) (int, error) {
	return queueDepth(ctx, e.sqs, url)
}

// queueDepth is visible + in flight on url, as client's server counts them.
func queueDepth(ctx context.Context, client *sqs.Client, url string) (int, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	vis, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inv, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	// goaws counts in-flight messages in both; the sum is only ever compared with 0.
	return vis + inv, nil
}
