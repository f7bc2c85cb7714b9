package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"gopkg.in/yaml.v3"
)

// Account and region every goaws instance is configured with.
const (
	GoawsAccountID = "100010001000"
	GoawsRegion    = DefaultRegion
)

// Queue is one queue goaws creates at start. A name ending in ".fifo" makes a
// FIFO queue.
type Queue struct {
	Name string
	// VisibilityTimeout in seconds; 0 means goaws's default (30).
	VisibilityTimeout int
	// RedrivePolicy is the queue's redrive policy as JSON, or "" for none
	// (see RedrivePolicy for building one).
	RedrivePolicy string
}

// Topic is an SNS topic goaws creates at start, with its subscriptions.
type Topic struct {
	Name          string
	Subscriptions []Subscription
}

// Subscription delivers a topic's messages to a queue. Raw false wraps each
// message in the SNS JSON envelope; true delivers the message as is.
type Subscription struct {
	QueueName    string
	Raw          bool
	FilterPolicy string // JSON, or "" for none
}

// GoawsConfig describes one goaws instance.
type GoawsConfig struct {
	// Bin is the goaws binary; "" means ToolPath("goaws").
	Bin    string
	Queues []Queue
	Topics []Topic
	// Log, when set, also receives goaws's log output (warnings and up).
	Log io.Writer
}

// Goaws is a running goaws process.
type Goaws struct {
	// Endpoint is the base URL to give SDK clients, http://127.0.0.1:PORT.
	Endpoint  string
	AccountID string
	Region    string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *tailBuffer

	closeOnce sync.Once
	closeErr  error
}

// RedrivePolicy returns goaws's (and SQS's) redrive policy JSON sending
// messages to the queue named dlq after maxReceiveCount receives.
func RedrivePolicy(dlq string, maxReceiveCount int) string {
	return fmt.Sprintf(`{"maxReceiveCount":%d,"deadLetterTargetArn":%q}`, maxReceiveCount, QueueARN(dlq))
}

// QueueARN returns the ARN goaws gives the queue named name.
func QueueARN(name string) string {
	return "arn:aws:sqs:" + GoawsRegion + ":" + GoawsAccountID + ":" + name
}

// startAttempts bounds retries of the small race between FreePort and goaws
// binding the port (goaws exits at once when the port is taken).
const startAttempts = 3

// StartGoaws starts goaws on a free port with a configuration written to a
// temporary directory, and returns once it answers ListQueues. If ctx has no
// deadline, startup is bounded by 15 seconds. The caller must Close it.
func StartGoaws(ctx context.Context, cfg GoawsConfig) (*Goaws, error) {
	bin := cfg.Bin
	if bin == "" {
		p, err := ToolPath("goaws")
		if err != nil {
			return nil, err
		}
		bin = p
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	var errs []error
	for range startAttempts {
		g, err := startOnce(ctx, bin, cfg)
		if err == nil {
			return g, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

var errExitedEarly = errors.New("goaws exited during startup")

func startOnce(ctx context.Context, bin string, cfg GoawsConfig) (*Goaws, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "casebridge-goaws-")
	if err != nil {
		return nil, fmt.Errorf("testbed: temp dir: %w", err)
	}
	// goaws reads its configuration once at start, so the file can go as soon
	// as the process has answered (or failed).
	defer os.RemoveAll(dir)
	confPath := filepath.Join(dir, "goaws.yaml")
	data, err := goawsYAML(port, cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("testbed: write goaws config: %w", err)
	}

	g := &Goaws{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(port),
		AccountID: GoawsAccountID,
		Region:    GoawsRegion,
		exited:    make(chan struct{}),
		log:       &tailBuffer{max: 8 << 10},
	}
	cmd := exec.Command(bin, "-config", confPath, "-loglevel", "warn", "Local")
	cmd.Dir = dir
	cmd.Stdout = g.log
	cmd.Stderr = g.log
	if cfg.Log != nil {
		cmd.Stdout = io.MultiWriter(g.log, cfg.Log)
		cmd.Stderr = cmd.Stdout
	}
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testbed: start goaws %s: %w", bin, err)
	}
	g.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(g.exited)
	}()

	if err := g.waitReady(ctx); err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

// waitReady polls ListQueues until goaws answers, it exits, or ctx ends.
func (g *Goaws) waitReady(ctx context.Context) error {
	client := NewSQSClient(g.Endpoint, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := client.ListQueues(callCtx, &sqs.ListQueuesInput{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-g.exited:
			return fmt.Errorf("testbed: %w (port %s): %s", errExitedEarly, g.port(), strings.TrimSpace(g.log.String()))
		case <-ctx.Done():
			return fmt.Errorf("testbed: goaws not ready at %s: %w (last error: %v; log: %s)",
				g.Endpoint, ctx.Err(), err, strings.TrimSpace(g.log.String()))
		case <-tick.C:
		}
	}
}

func (g *Goaws) port() string { return g.Endpoint[strings.LastIndexByte(g.Endpoint, ':')+1:] }

// Close kills goaws's process group and waits for it to exit. It is safe to
// call more than once.
func (g *Goaws) Close() error {
	g.closeOnce.Do(func() {
		if g.cmd == nil || g.cmd.Process == nil {
			return
		}
		if err := killGroup(g.cmd); err != nil {
			select {
			case <-g.exited: // already gone: nothing to kill
			default:
				g.closeErr = fmt.Errorf("testbed: kill goaws: %w", err)
				return
			}
		}
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
			g.closeErr = errors.New("testbed: goaws did not exit within 5s of SIGKILL")
		}
	})
	return g.closeErr
}

// Log returns the tail of goaws's log output, for failure messages.
func (g *Goaws) Log() string { return g.log.String() }

// QueueURL resolves a queue's URL with GetQueueUrl. The URL names goaws's
// configured host (us-east-1.localhost), not 127.0.0.1; that is fine because
// SDK clients route by their endpoint and send the URL in the request body.
func (g *Goaws) QueueURL(ctx context.Context, name string) (string, error) {
	out, err := NewSQSClient(g.Endpoint).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("testbed: queue url of %q: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// goawsYAML renders goaws's configuration file (environment "Local").
func goawsYAML(port int, cfg GoawsConfig) ([]byte, error) {
	type yQueue struct {
		Name              string `yaml:"Name"`
		VisibilityTimeout int    `yaml:"VisibilityTimeout,omitempty"`
		RedrivePolicy     string `yaml:"RedrivePolicy,omitempty"`
	}
	type ySub struct {
		QueueName    string `yaml:"QueueName"`
		Raw          bool   `yaml:"Raw"`
		FilterPolicy string `yaml:"FilterPolicy,omitempty"`
	}
	type yTopic struct {
		Name          string `yaml:"Name"`
		Subscriptions []ySub `yaml:"Subscriptions,omitempty"`
	}
	type yEnv struct {
		Host                   string         `yaml:"Host"`
		Port                   string         `yaml:"Port"`
		Region                 string         `yaml:"Region"`
		AccountID              string         `yaml:"AccountId"`
		LogToFile              bool           `yaml:"LogToFile"`
		QueueAttributeDefaults map[string]int `yaml:"QueueAttributeDefaults"`
		Queues                 []yQueue       `yaml:"Queues"`
		Topics                 []yTopic       `yaml:"Topics,omitempty"`
	}
	env := yEnv{
		Host:      "localhost",
		Port:      strconv.Itoa(port),
		Region:    GoawsRegion,
		AccountID: GoawsAccountID,
		QueueAttributeDefaults: map[string]int{
			"VisibilityTimeout":             30,
			"ReceiveMessageWaitTimeSeconds": 0,
		},
	}
	for _, q := range cfg.Queues {
		if q.Name == "" {
			return nil, errors.New("testbed: queue with empty name")
		}
		env.Queues = append(env.Queues, yQueue(q))
	}
	for _, t := range cfg.Topics {
		yt := yTopic{Name: t.Name}
		for _, s := range t.Subscriptions {
			yt.Subscriptions = append(yt.Subscriptions, ySub(s))
		}
		env.Topics = append(env.Topics, yt)
	}
	out, err := yaml.Marshal(map[string]yEnv{"Local": env})
	if err != nil {
		return nil, fmt.Errorf("testbed: render goaws config: %w", err)
	}
	return out, nil
}

// tailBuffer keeps the last max bytes written, so a chatty child cannot grow
// the test's memory while its recent output stays available for errors.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Pid returns goaws's process id (its process group id too).
func (g *Goaws) Pid() int { return g.cmd.Process.Pid }
