package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/dlqtool"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestDLQCommand runs the three dlq subcommands on a DLQ holding messages in
// the shape the consumer dead-letters them (the dlqtool package's tests
// dead-letter through the real core; here the command line is under test).
func TestDLQCommand(t *testing.T) {
	s := testbed.StartSQST(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "src"}, {Name: "dlq"}}})
	toolsAWS(t, s.Endpoint)
	c := testbed.NewSQSClient(s.Endpoint)
	src, dlq := s.Goaws.QueueURLT(t, "src"), s.Goaws.QueueURLT(t, "dlq")
	ctx := context.Background()
	for i, r := range []contract.DeadLetterRecord{
		{Class: "not-found", Code: "ResourceNotFoundException"},
		{Class: "not-found", Code: "ResourceNotFoundException"},
		{Class: "invalid-message"},
	} {
		r.Message, r.SourceQueue, r.SourceMessageID, r.FailedAt = "x", src, "m"+strconv.Itoa(i), time.Now().UTC().Format(time.RFC3339)
		reason, _ := json.Marshal(r)
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:    aws.String(dlq),
			MessageBody: aws.String(`{"domainId":"` + toolsDomain + `","caseId":"` + toolsCase + `","fields":{"status":"secret-` + strconv.Itoa(i) + `"}}`),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				contract.ErrorAttribute: {DataType: aws.String("String"), StringValue: aws.String(string(reason))},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	visible := func(url string) int {
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
		return n
	}

	code, out, errOut := toolsRun(t, "", "dlq", "stats", "--dlq", dlq)
	if code != 0 || !regexp.MustCompile(`not-found\s+ResourceNotFoundException\s+2`).MatchString(out) ||
		!regexp.MustCompile(`invalid-message\s+1`).MatchString(out) || !strings.Contains(out, "messages        3") {
		t.Fatalf("stats: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("CASEBRIDGE_DLQ_URL", dlq)
	code, out, _ = toolsRun(t, "", "dlq", "stats", "--json")
	var st dlqtool.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Total != 3 {
		t.Fatalf("stats --json: exit %d %s", code, out)
	}

	code, out, _ = toolsRun(t, "", "dlq", "peek", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Contains(out, "secret") || !strings.Contains(lines[0], `"caseId":"`+toolsCase+`"`) {
		t.Fatalf("peek --limit 2: exit %d\n%s", code, out)
	}
	if code, out, _ = toolsRun(t, "", "dlq", "peek", "--show-values"); code != 0 || strings.Count(out, "secret-") < 3 {
		t.Fatalf("peek --show-values: exit %d\n%s", code, out)
	}

	code, out, _ = toolsRun(t, "", "dlq", "redrive", "--reason", "not-found", "--dry-run")
	if code != 0 || !strings.Contains(out, "matched 2, would move 2") || visible(dlq) != 3 {
		t.Fatalf("dry run: exit %d %s, %d on the DLQ", code, out, visible(dlq))
	}
	code, out, _ = toolsRun(t, "", "dlq", "redrive", "--reason", "not-found", "--rate", "100")
	if code != 0 || !strings.Contains(out, "moved 2, failed 0") {
		t.Fatalf("redrive: exit %d %s", code, out)
	}
	if d, q := visible(dlq), visible(src); d != 1 || q != 2 {
		t.Errorf("after redrive: DLQ %d (want 1), source %d (want 2)", d, q)
	}

	if code, _, _ := toolsRun(t, "", "dlq"); code != 2 {
		t.Errorf("dlq without subcommand: exit %d, want 2", code)
	}
	t.Setenv("CASEBRIDGE_DLQ_URL", "")
	if code, _, errOut := toolsRun(t, "", "dlq", "stats"); code != 2 || !strings.Contains(errOut, "--dlq") {
		t.Errorf("no DLQ: exit %d %s", code, errOut)
	}
}
