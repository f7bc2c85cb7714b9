package fifosqs_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/casebridge/casebridge/internal/testkit/fifosqs"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func TestErrors(t *testing.T) {
	c, url := start(t, 30, nil)
	ctx := context.Background()
	_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing.fifo")})
	var noQueue *types.QueueDoesNotExist
	if !errors.As(err, &noQueue) {
		t.Errorf("GetQueueUrl of a missing queue: %v, want QueueDoesNotExist", err)
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"no group", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("x")})
			return err
		}, "MissingParameter"},
		{"no dedup id", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
			return err
		}, "InvalidParameterValue"},
		{"eleven", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"standard queue", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("std")})
			return err
		}, "InvalidParameterValue"},
		{"bad handle", func() error {
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("nonsense")})
			return err
		}, "ReceiptHandleIsInvalid"},
		{"empty batch", func() error {
			_, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{}})
			return err
		}, "EmptyBatchRequest"},
		{"missing queue", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url + "x")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae smithy.APIError
			if err := tt.call(); !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
				t.Fatalf("err %v, want API error %s", err, tt.code)
			}
		})
	}
}

// A long poll returns the moment a message arrives, not at its timeout: with
// the longest wait SQS allows (20 s), half of it tells the two apart with room
// for a loaded machine.
func TestLongPollWakesOnSend(t *testing.T) {
	const wait = 20
	c, url := start(t, 30, nil)
	got := make(chan []types.Message, 1)
	start := time.Now()
	go func() {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: wait})
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		got <- out.Messages
	}()
	sendAll(t, c, url, []string{"g"}, []string{"hello"})
	ms := <-got
	if len(ms) != 1 || time.Since(start) > wait/2*time.Second {
		t.Fatalf("long poll returned %d messages after %v", len(ms), time.Since(start))
	}
}

// BenchmarkRoundTrip is one SendMessage, ReceiveMessage and DeleteMessage
// through the SDK, comparable with sqsproxy's benchmark of the same name.
func BenchmarkRoundTrip(b *testing.B) {
	srv, endpoint, err := fifosqs.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := testbed.NewSQSClient(endpoint)
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("b.fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x"),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(strconv.Itoa(i))}); err != nil {
			b.Fatal(err)
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
		if err != nil || len(out.Messages) != 1 {
			b.Fatal(err, len(out.Messages))
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			b.Fatal(err)
		}
	}
}
