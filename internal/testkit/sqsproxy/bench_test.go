package sqsproxy_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// BenchmarkRoundTrip measures one send + receive + delete, straight to goaws
// and through the proxy, so the proxy's overhead is a ratio within one run.
func BenchmarkRoundTrip(b *testing.B) {
	s := testbed.StartSQST(b, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "bench"}}})
	qurl := s.Goaws.QueueURLT(b, "bench")
	for _, tc := range []struct{ name, endpoint string }{{"direct", s.Goaws.Endpoint}, {"proxied", s.Endpoint}} {
		b.Run(tc.name, func(b *testing.B) {
			client := testbed.NewSQSClient(tc.endpoint)
			ctx := context.Background()
			for b.Loop() {
				if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &qurl, MessageBody: aws.String(`{"caseId":"c"}`)}); err != nil {
					b.Fatal(err)
				}
				out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &qurl, WaitTimeSeconds: 1, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
				if err != nil || len(out.Messages) != 1 {
					b.Fatalf("receive: %v, %d messages", err, len(out.Messages))
				}
				if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &qurl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
