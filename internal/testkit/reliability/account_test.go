package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// kind is what a test message is designed to become.
type kind int

const (
	kValid      kind = iota // applied
	kInvalid                // invalid-message
	kNotFound               // not-found
	kValidation             // validation (the simulator refuses the value)
	kForbidden              // forbidden (breaks the deployment's performedBy policy)
)

func (k kind) wantClass() contract.Reason {
	return [...]contract.Reason{"", contract.ReasonInvalidMessage, contract.ReasonNotFound, contract.ReasonValidation, contract.ReasonForbidden}[k]
}

type msg struct {
	marker string
	kind   kind
	body   string
}

// mix builds n messages, from index first on: 7 of 10 valid, then one each
// invalid, not-found and refused by the service. Every message carries a
// unique marker, in the reason field (seen in the simulator's applied log) and
// in a message attribute (seen on the DLQ).
func mix(first, n int) []msg {
	out := make([]msg, 0, n)
	for i := first; i < first+n; i++ {
		m := msg{marker: fmt.Sprintf("m-%d", i)}
		switch i % 10 {
		case 7:
			m.kind, m.body = kInvalid, fmt.Sprintf(`{"caseId":%q,"feilds":{"reason":%q}}`, caseID(i), m.marker)
		case 8:
			m.kind, m.body = kNotFound, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q}}`, missingCase, m.marker)
		case 9:
			m.kind, m.body = kValidation, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q,"status":"reopened"}}`, caseID(i), m.marker)
		default:
			m.kind, m.body = kValid, fmt.Sprintf(`{"caseId":%q,"fields":{"reason":%q}}`, caseID(i), m.marker)
		}
		out = append(out, m)
	}
	return out
}

// send puts msgs on the source queue, ten per call.
func (w *world) send(msgs []msg) {
	w.t.Helper()
	for start := 0; start < len(msgs); start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(m.body),
				MessageAttributes: map[string]sqstypes.MessageAttributeValue{
					markerAttr: {DataType: aws.String("String"), StringValue: aws.String(m.marker)},
				},
			})
		}
		out, err := w.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(w.src), Entries: entries})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			w.t.Fatalf("send failed: %+v", out.Failed)
		}
	}
}

// applied counts applications per marker in the simulator's log.
func applied(sim *casesim.Server) map[string]int {
	got := map[string]int{}
	for _, u := range sim.AppliedUpdates() {
		for _, f := range u.Fields {
			if aws.ToString(f.Id) != "reason" {
				continue
			}
			if v, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
				got[v.Value]++
			}
		}
	}
	return got
}

// dead is one message found on the DLQ.
type dead struct {
	reason contract.DeadLetterRecord
	body   string
	attrs  map[string]sqstypes.MessageAttributeValue
}

// drainDLQ takes every message off the DLQ, keyed by marker attribute (or by
// body when there is none).
func (w *world) drainDLQ() map[string][]dead {
	w.t.Helper()
	got := map[string][]dead{}
	for {
		out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(w.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			d := dead{body: aws.ToString(m.Body), attrs: m.MessageAttributes}
			if a, ok := m.MessageAttributes[contract.ErrorAttribute]; ok {
				if err := json.Unmarshal([]byte(aws.ToString(a.StringValue)), &d.reason); err != nil {
					w.t.Errorf("%s is not JSON: %v", contract.ErrorAttribute, err)
				}
			}
			key := aws.ToString(m.MessageAttributes[markerAttr].StringValue)
			if key == "" {
				key = d.body
			}
			got[key] = append(got[key], d)
			if _, err := w.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(w.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// account checks that every message ended in exactly one right place: a valid
// one applied (at least once) and never dead-lettered, every other one on the
// DLQ with its class and never applied. It returns the duplicates (extra
// applications and extra DLQ copies), which at-least-once delivery allows.
func account(t *testing.T, msgs []msg, got map[string]int, dlq map[string][]dead) (dups int) {
	t.Helper()
	known := map[string]bool{}
	var lost []string
	for _, m := range msgs {
		known[m.marker] = true
		n, d := got[m.marker], dlq[m.marker]
		switch {
		case m.kind == kValid && n == 0 && len(d) == 0:
			lost = append(lost, m.marker)
		case m.kind == kValid && len(d) > 0:
			t.Errorf("%s (valid) dead-lettered as %+v", m.marker, d[0].reason)
		case m.kind != kValid && n > 0:
			t.Errorf("%s (%s) applied %d times", m.marker, m.kind.wantClass(), n)
		case m.kind != kValid && len(d) == 0:
			lost = append(lost, m.marker)
		}
		for _, x := range d {
			if m.kind != kValid && x.reason.Class != m.kind.wantClass() {
				t.Errorf("%s on the DLQ as %q (%s), want %q", m.marker, x.reason.Class, x.reason.Message, m.kind.wantClass())
			}
			if x.body != m.body {
				t.Errorf("%s: DLQ body %q, want the original %q", m.marker, x.body, m.body)
			}
		}
		if n > 1 {
			dups += n - 1
		}
		if len(d) > 1 {
			dups += len(d) - 1
		}
	}
	for k := range dlq {
		if !known[k] {
			t.Errorf("unexpected DLQ message %q", k)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("%d messages lost (neither applied nor dead-lettered): %v", len(lost), lost)
	}
	return dups
}
