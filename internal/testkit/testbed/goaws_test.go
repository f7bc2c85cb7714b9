package testbed_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func TestGoawsQueueURLWorksThroughEndpoint(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{
		{Name: "std", VisibilityTimeout: 5},
		{Name: "ord.fifo"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := testbed.NewSQSClient(g.Endpoint)

	tests := []struct {
		queue string
		group *string
	}{
		{queue: "std"},
		{queue: "ord.fifo", group: aws.String("g1")},
	}
	for _, tc := range tests {
		t.Run(tc.queue, func(t *testing.T) {
			qurl := g.QueueURLT(t, tc.queue)
			u, err := url.Parse(qurl)
			if err != nil {
				t.Fatal(err)
			}
			// The URL names goaws's configured host, which does not resolve to
			// anything useful: the call below only works because the SDK's JSON
			// protocol routes by the endpoint and carries the URL in the body.
			if u.Hostname() != "us-east-1.localhost" || !strings.HasSuffix(u.Path, "/"+tc.queue) {
				t.Fatalf("queue url %q: want host us-east-1.localhost and path ending /%s", qurl, tc.queue)
			}
			body := "hello " + tc.queue
			if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
				QueueUrl: &qurl, MessageBody: &body, MessageGroupId: tc.group,
				MessageDeduplicationId: dedup(tc.group),
				MessageAttributes: map[string]types.MessageAttributeValue{
					"k": {DataType: aws.String("String"), StringValue: aws.String("v")},
				},
			}); err != nil {
				t.Fatalf("send: %v", err)
			}
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: &qurl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
				MessageAttributeNames: []string{"All"},
			})
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != body {
				t.Fatalf("received %+v, want one message %q", out.Messages, body)
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{
				QueueUrl: &qurl, ReceiptHandle: out.Messages[0].ReceiptHandle,
			}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		})
	}
}

func dedup(group *string) *string {
	if group == nil {
		return nil
	}
	return aws.String("d-" + *group)
}

func TestGoawsRedrivePolicyMovesMessageToDLQ(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{
		{Name: "src", VisibilityTimeout: 1, RedrivePolicy: testbed.RedrivePolicy("src-dlq", 1)},
		{Name: "src-dlq"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client := testbed.NewSQSClient(g.Endpoint)
	src, dlq := g.QueueURLT(t, "src"), g.QueueURLT(t, "src-dlq")
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &src, MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &src, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive from src: %v, %d messages", err, len(out.Messages))
	}
	// Not deleted: after the 1 s visibility timeout goaws's periodic task
	// (1 s tick) redrives it because maxReceiveCount is 1.
	out, err = client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlq, WaitTimeSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "x" {
		t.Fatalf("DLQ got %d messages, want the redriven one", len(out.Messages))
	}
}

func TestGoawsTopicSubscriptionCreatesQueue(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Topics: []testbed.Topic{{
		Name:          "events",
		Subscriptions: []testbed.Subscription{{QueueName: "from-sns", Raw: true}},
	}}})
	if u := g.QueueURLT(t, "from-sns"); !strings.HasSuffix(u, "/from-sns") {
		t.Fatalf("queue url %q", u)
	}
}

func TestGoawsCloseKillsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	g, err := testbed.StartGoaws(ctx, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	pid := g.Pid()
	if err := g.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("goaws pid %d still exists after Close (kill 0: %v)", pid, err)
	}
	client := testbed.NewSQSClient(g.Endpoint, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	if _, err := client.ListQueues(ctx, &sqs.ListQueuesInput{}); err == nil {
		t.Fatal("ListQueues succeeded after Close")
	}
}

func TestStartGoawsFailsClearly(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(t *testing.T) testbed.GoawsConfig
		wantErr string
	}{
		{
			name: "tool missing",
			cfg: func(t *testing.T) testbed.GoawsConfig {
				t.Setenv(testbed.ToolsDirEnv, t.TempDir())
				return testbed.GoawsConfig{}
			},
			wantErr: "run scripts/tools.sh",
		},
		{
			name: "binary exits",
			cfg: func(t *testing.T) testbed.GoawsConfig {
				bin := filepath.Join(t.TempDir(), "fake-goaws")
				if err := os.WriteFile(bin, []byte("#!/bin/sh\necho boom >&2\nexit 3\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				return testbed.GoawsConfig{Bin: bin}
			},
			wantErr: "boom",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			g, err := testbed.StartGoaws(ctx, tc.cfg(t))
			if err == nil {
				g.Close()
				t.Fatal("StartGoaws succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}
