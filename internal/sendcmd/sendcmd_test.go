package sendcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
	"github.com/casebridge/casebridge/publish"
)

func TestOpenCountsLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		want int
	}{{"", 0}, {"a\n", 1}, {"a\nb", 2}, {"a\n\nb\n", 2}, {"\n\n", 0}} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, total, closeFn, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		closeFn()
		if total != tc.want {
			t.Errorf("%q: %d lines, want %d", tc.text, total, tc.want)
		}
	}
	if _, total, _, err := Open("-", strings.NewReader("x")); err != nil || total != -1 {
		t.Errorf("stdin: total %d, %v; want -1 (unknown)", total, err)
	}
	if _, _, _, err := Open(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing file: no error")
	}
}

// TestSendLines sends more than one Chunk to a real (local) SQS queue:
// every valid line arrives, a refused line is named and skipped.
func TestSendLines(t *testing.T) {
	g := testbed.StartGoawsT(t, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "updates"}}})
	c := testbed.NewSQSClient(g.Endpoint)
	url := g.QueueURLT(t, "updates")
	var lines []string
	for i := range Chunk + 20 {
		lines = append(lines, `{"domainId":"d","caseId":"c`+strings.Repeat("x", i%3)+`","fields":{"priority":1}}`)
	}
	lines = append(lines, "", `{"caseId":"c","fields":{}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var progress strings.Builder
	sum, err := SendLines(ctx, publish.NewSQS(c, url), strings.NewReader(strings.Join(lines, "\n")), len(lines), &progress)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Lines: Chunk + 22, Sent: Chunk + 20, Refused: 1}
	if sum != want || sum.OK() {
		t.Errorf("summary %+v, want %+v (not OK)", sum, want)
	}
	if !strings.Contains(progress.String(), "line 122: refused: fields: must hold at least one field") ||
		!strings.Contains(progress.String(), "sent 120, refused 1, failed 0 in ") {
		t.Errorf("progress:\n%s", progress.String())
	}
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil || out.Attributes["ApproximateNumberOfMessages"] != "120" {
		t.Errorf("queue holds %v messages (%v), want 120", out.Attributes["ApproximateNumberOfMessages"], err)
	}
}
