package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const (
	toolsDomain = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	toolsCase   = "7a1d6c3e-0000-4000-8000-000000000001"
)

// localAWS points the SDK's default configuration at endpoint and keeps
// any real profile or credential of the machine out of the test.
func toolsAWS(t *testing.T, endpoint string) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_SQS": endpoint, "AWS_ENDPOINT_URL_SNS": endpoint,
		"CASEBRIDGE_QUEUE_URL": "", "CASEBRIDGE_DLQ_URL": "", "CASEBRIDGE_DOMAIN_ID": "",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", // no trace export unless a test asks
	} {
		t.Setenv(k, v)
	}
}

func toolsRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = dispatch(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func toolsDrain(t *testing.T, c *sqs.Client, url string, want int) []sqstypes.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []sqstypes.Message
	for len(got) < want {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(got), want, err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
	}
	out, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if len(out.Messages) > 0 {
		t.Errorf("%d more messages than the %d expected", len(out.Messages), want)
	}
	return got
}

func TestSendCommand(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{
		Queues: []testbed.Queue{{Name: "updates"}},
		Topics: []testbed.Topic{{Name: "case-events", Subscriptions: []testbed.Subscription{{QueueName: "from-sns"}}}},
	})
	toolsAWS(t, g.Endpoint)
	c := testbed.NewSQSClient(g.Endpoint)
	url := g.QueueURLT(t, "updates")
	mp := mapper.New(mapper.Config{})

	t.Run("fields inferred", func(t *testing.T) {
		code, out, errOut := toolsRun(t, "", "send", "--queue", url, "--case", toolsCase, "--domain", toolsDomain, "--by", "billing",
			"status=closed", "priority=3", "escalated=true", "reason=null")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
		}
		got := toolsDrain(t, c, url, 1)
		m, err := mp.Map([]byte(aws.ToString(got[0].Body)))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"status:closed", "priority:3", "escalated:true", "reason:<empty>"}
		for i, f := range m.Input.Fields {
			if s := aws.ToString(f.Id) + ":" + toolsShow(f.Value); s != want[i] {
				t.Errorf("field %d = %s, want %s", i, s, want[i])
			}
		}
		if p, ok := m.Input.PerformedBy.(*types.UserUnionMemberCustomEntity); !ok || p.Value != "billing" {
			t.Errorf("performedBy = %#v", m.Input.PerformedBy)
		}
	})

	t.Run("--string", func(t *testing.T) {
		if code, _, errOut := toolsRun(t, "", "send", "--queue", url, "--case", toolsCase, "--domain", toolsDomain, "--string", "priority=3"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		m, err := mp.Map([]byte(aws.ToString(toolsDrain(t, c, url, 1)[0].Body)))
		if err != nil || toolsShow(m.Input.Fields[0].Value) != `"3"` {
			t.Fatalf("priority = %v, %v; want the string \"3\"", m, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		code, _, errOut := toolsRun(t, "", "send", "--queue", url, "--case", toolsCase)
		if code != 1 || !strings.Contains(errOut, "fields: must hold at least one field") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if code, _, _ := toolsRun(t, "", "send", "--case", toolsCase, "a=b"); code != 2 {
			t.Errorf("no --queue: exit %d, want 2", code)
		}
	})

	t.Run("file", func(t *testing.T) {
		var lines []string
		for i := range 25 {
			if i%2 == 0 {
				lines = append(lines, fmt.Sprintf(`{"domainId":%q,"caseId":%q,"fields":{"priority":%d}}`, toolsDomain, toolsCase, i))
			} else {
				lines = append(lines, fmt.Sprintf(`{"domainId":%q,"caseId":%q,"fields":[{"id":"priority","value":{"doubleValue":%d}}]}`, toolsDomain, toolsCase, i))
			}
		}
		lines = append(lines[:3], append([]string{"", `{"caseId":"x","fields":{}}`}, lines[3:]...)...)
		path := filepath.Join(t.TempDir(), "events.jsonl")
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := toolsRun(t, "", "send", "--queue", url, "--file", path)
		if code != 1 || !strings.Contains(errOut, "line 5: refused: fields: must hold at least one field") ||
			!strings.Contains(errOut, "sent 25, refused 1, failed 0") {
			t.Fatalf("exit %d (want 1: one line refused): %s", code, errOut)
		}
		for _, m := range toolsDrain(t, c, url, 25) {
			if _, err := mp.Map([]byte(aws.ToString(m.Body))); err != nil {
				t.Errorf("sent a body the mapper rejects: %v", err)
			}
		}
		// stdin, all good: exit 0.
		if code, _, errOut := toolsRun(t, lines[0]+"\n"+lines[1]+"\n", "send", "--queue", url, "--file", "-"); code != 0 || !strings.Contains(errOut, "sent 2, refused 0") {
			t.Fatalf("stdin: exit %d: %s", code, errOut)
		}
		toolsDrain(t, c, url, 2)
	})

	t.Run("topic", func(t *testing.T) {
		arn := "arn:aws:sns:" + g.Region + ":" + g.AccountID + ":case-events"
		if code, _, errOut := toolsRun(t, "", "send", "--topic", arn, "--case", toolsCase, "--domain", toolsDomain, "status=pending"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		m, err := mp.Map([]byte(aws.ToString(toolsDrain(t, c, g.QueueURLT(t, "from-sns"), 1)[0].Body)))
		if err != nil || m.Envelope != mapper.EnvelopeSNS || toolsShow(m.Input.Fields[0].Value) != `"pending"` {
			t.Fatalf("via SNS: %+v, %v", m, err)
		}
	})
}

func toolsShow(u types.FieldValueUnion) string {
	switch v := u.(type) {
	case *types.FieldValueUnionMemberStringValue:
		if v.Value == "closed" {
			return v.Value
		}
		return fmt.Sprintf("%q", v.Value)
	case *types.FieldValueUnionMemberDoubleValue:
		return fmt.Sprint(v.Value)
	case *types.FieldValueUnionMemberBooleanValue:
		return fmt.Sprint(v.Value)
	case *types.FieldValueUnionMemberEmptyValue:
		return "<empty>"
	default:
		return fmt.Sprintf("%#v", u)
	}
}
