package mapper

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/casebridge/casebridge/internal/rules"
)

// benchRaw is a typical message: five fields of four kinds, performedBy,
// eventId and occurredAt.
const benchRaw = `{"domainId":"3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01","caseId":"7a1d6c3e-0000-4000-8000-000000000001",` +
	`"fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"title","value":{"stringValue":"Refund issued"}},` +
	`{"id":"priority","value":{"doubleValue":3}},{"id":"escalated","value":{"booleanValue":true}},{"id":"reason","value":{"emptyValue":{}}}],` +
	`"performedBy":{"customEntity":"billing-system"},"eventId":"evt-8842","occurredAt":"2026-11-25T09:00:00Z"}`

// snsBody wraps msg as SNS delivers it to SQS with raw delivery off.
func snsBody(msg string) string {
	return `{"Type":"Notification","MessageId":"0d6a3c1f-8f3b-5a1e-b2a4-6f2f6a1c2b3d",` +
		`"TopicArn":"arn:aws:sns:us-east-1:100010001000:case-events","Subject":null,` +
		`"Message":` + strconv.Quote(msg) + `,"Timestamp":"2026-11-25T09:00:01.123Z","SignatureVersion":"1",` +
		`"Signature":"EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",` +
		`"SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",` +
		`"UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:100010001000:case-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"}`
}

// BenchmarkMap measures decode + map of one typical message per envelope.
// Run: go test -run '^$' -bench BenchmarkMap -benchmem ./internal/mapper/
func BenchmarkMap(b *testing.B) {
	m := New(Config{})
	for _, tc := range []struct{ name, body string }{
		{"raw", benchRaw},
		{"sns", snsBody(benchRaw)},
	} {
		body := []byte(tc.body)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := m.Map(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline decodes the same raw message with encoding/json (v1)
// into plain structs, without any checks: a yardstick run beside
// BenchmarkMap, because absolute figures on a shared machine drift.
func BenchmarkBaseline(b *testing.B) {
	type value struct {
		S *string   `json:"stringValue"`
		D *float64  `json:"doubleValue"`
		B *bool     `json:"booleanValue"`
		E *struct{} `json:"emptyValue"`
		U *string   `json:"userArnValue"`
	}
	type message struct {
		DomainID string `json:"domainId"`
		CaseID   string `json:"caseId"`
		Fields   []struct {
			ID    string `json:"id"`
			Value value  `json:"value"`
		} `json:"fields"`
		PerformedBy *struct {
			CustomEntity string `json:"customEntity"`
		} `json:"performedBy"`
		EventID    string `json:"eventId"`
		OccurredAt string `json:"occurredAt"`
	}
	body := []byte(benchRaw)
	b.Run("encoding-json-unmarshal-raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m message
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMapEventContractV1 measures what a deployment with mapping rules
// pays for a contract v1 message: the rules run first (none matches), then
// contract v1. Compare with BenchmarkMap/raw.
// Run: go test -run '^$' -bench 'BenchmarkMap(EventContractV1)?$|BenchmarkMap/raw' -benchmem ./internal/mapper/
func BenchmarkMapEventContractV1(b *testing.B) {
	// Two rules for other systems' events, each guarded as rules.md says.
	set, err := rules.Compile([]byte(`{"rules": [
 {"name": "invoice-paid", "when": "event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
  "lookup": {"fieldId": "order_number", "value": "event.detail.orderNumber"}, "set": {"status": {"value": "closed"}}},
 {"name": "crm-change", "when": "has(event.crm)", "caseId": "event.crm.caseRef", "set": {"title": {"expr": "event.crm.subject"}}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	m := New(Config{Rules: set})
	body := []byte(benchRaw)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		got, err := m.MapEvent(context.Background(), body)
		if err != nil || got.Rule != "" {
			b.Fatal(got, err)
		}
	}
}
