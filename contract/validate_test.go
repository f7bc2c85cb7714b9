package contract_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/contract"
)

func show(m *contract.Message) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// TestValidate checks the rules on the Go types alone, as a publisher that
// builds messages in code meets them.
func TestValidate(t *testing.T) {
	ok := func() contract.Message {
		return contract.Message{CaseID: "c1", Fields: []contract.Field{{ID: "status", Value: contract.StringValue("closed")}}}
	}
	s := "x"
	tests := []struct {
		name    string
		edit    func(*contract.Message)
		wantErr string // "" = valid
	}{
		{"minimal", func(*contract.Message) {}, ""},
		{"every optional member", func(m *contract.Message) {
			m.DomainID, m.Version, m.EventID, m.OccurredAt = "d", "1", "e", "2026-11-25T09:00:00+02:00"
			m.PerformedBy = &contract.PerformedBy{CustomEntity: "billing-system"}
		}, ""},
		{"no case", func(m *contract.Message) { m.CaseID = "" }, "caseId: length 0, must be 1 to 500 characters"},
		{"no fields", func(m *contract.Message) { m.Fields = nil }, "fields: must hold at least one field (a message that changes nothing is a publisher bug)"},
		{"221 fields", func(m *contract.Message) {
			m.Fields = make([]contract.Field, 221)
		}, "fields: has 221 fields, at most 220 allowed"},
		{"empty id", func(m *contract.Message) { m.Fields[0].ID = "" }, "fields[0].id: length 0, must be 1 to 500 characters"},
		{"duplicate ids beyond the quadratic scan", func(m *contract.Message) {
			for i := range 30 {
				m.Fields = append(m.Fields, contract.Field{ID: "f" + strings.Repeat("x", i), Value: contract.BooleanValue(true)})
			}
			m.Fields = append(m.Fields, contract.Field{ID: "fxx", Value: contract.EmptyValue()})
		}, `fields[31].id: duplicate field id "fxx" (also fields[3].id)`},
		{"two members", func(m *contract.Message) { m.Fields[0].Value.UserArn = &s }, "fields[0].value: union has both stringValue and userArnValue"},
		{"three members", func(m *contract.Message) {
			m.Fields[0].Value.UserArn = &s
			m.Fields[0].Value.Empty = &contract.Empty{}
		}, "fields[0].value: union has 3 members, exactly one allowed"},
		{"no member", func(m *contract.Message) { m.Fields[0].Value = contract.Value{} }, "fields[0].value: union has no member (set one of stringValue, doubleValue, booleanValue, emptyValue, userArnValue)"},
		{"NaN", func(m *contract.Message) { m.Fields[0].Value = contract.DoubleValue(math.NaN()) }, "fields[0].value.doubleValue: must be a finite number"},
		{"+Inf", func(m *contract.Message) { m.Fields[0].Value = contract.DoubleValue(math.Inf(1)) }, "fields[0].value.doubleValue: must be a finite number"},
		// stringValue counts UTF-8 bytes, the stricter reading the simulator shares.
		{"4100 bytes", func(m *contract.Message) { m.Fields[0].Value = contract.StringValue(strings.Repeat("a", 4097) + "日") }, ""},
		{"4101 bytes", func(m *contract.Message) { m.Fields[0].Value = contract.StringValue(strings.Repeat("a", 4101)) }, "fields[0].value.stringValue: length 4101 bytes in UTF-8, at most 4100 bytes"},
		{"1367 code points, 4101 bytes", func(m *contract.Message) { m.Fields[0].Value = contract.StringValue(strings.Repeat("日", 1367)) }, "fields[0].value.stringValue: length 4101 bytes in UTF-8, at most 4100 bytes"},
		{"performedBy both", func(m *contract.Message) { m.PerformedBy = &contract.PerformedBy{UserArn: "u", CustomEntity: "c"} }, "performedBy: union has both userArn and customEntity"},
		{"performedBy neither", func(m *contract.Message) { m.PerformedBy = &contract.PerformedBy{} }, "performedBy: union has no member (set userArn or customEntity, or leave performedBy out)"},
		{"customEntity pattern", func(m *contract.Message) { m.PerformedBy = &contract.PerformedBy{CustomEntity: "a+b"} }, `performedBy.customEntity: must match ^[a-zA-Z0-9_\-\.@:/ ]*[a-zA-Z0-9_\-\.@:/]$`},
		{"userArn too long", func(m *contract.Message) { m.PerformedBy = &contract.PerformedBy{UserArn: strings.Repeat("a", 501)} }, "performedBy.userArn: length 501, must be 1 to 500 characters"},
		{"version 2", func(m *contract.Message) { m.Version = "2" }, `version: unsupported version "2", only "1" is accepted`},
		{"eventId 128 ok", func(m *contract.Message) { m.EventID = strings.Repeat("e", 128) }, ""},
		{"eventId 129", func(m *contract.Message) { m.EventID = strings.Repeat("e", 129) }, "eventId: length 129, must be 1 to 128 characters"},
		{"occurredAt", func(m *contract.Message) { m.OccurredAt = "2026-11-25" }, "occurredAt: not an RFC 3339 timestamp (e.g. 2026-11-25T09:00:00Z)"},
		{"domain too long", func(m *contract.Message) { m.DomainID = strings.Repeat("d", 501) }, "domainId: length 501, must be 1 to 500 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok()
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.wantErr)
			case err != nil && err.Error() != tt.wantErr:
				t.Fatalf("got  %q\nwant %q", err, tt.wantErr)
			}
			var rej *contract.RejectionError
			if err != nil && !errors.As(err, &rej) {
				t.Fatalf("%T is not a *RejectionError", err)
			}
		})
	}
}

func TestRejectionErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  contract.RejectionError
		want string
	}{
		{contract.RejectionError{Path: "fields[2].value", Rule: "union has both stringValue and doubleValue"}, "fields[2].value: union has both stringValue and doubleValue"},
		{contract.RejectionError{Rule: "body too big"}, "body too big"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestCanonicalJSONRoundTrip: the types' JSON encoding is the canonical form,
// which Decode reads back to the same message.
func TestCanonicalJSONRoundTrip(t *testing.T) {
	m := contract.Message{DomainID: "d", CaseID: "c", Fields: []contract.Field{
		{ID: "s", Value: contract.StringValue("")}, {ID: "n", Value: contract.DoubleValue(-0.1)},
		{ID: "b", Value: contract.BooleanValue(false)}, {ID: "e", Value: contract.EmptyValue()},
		{ID: "u", Value: contract.UserArnValue("arn:u")},
	}, PerformedBy: &contract.PerformedBy{CustomEntity: "billing"}, EventID: "e1"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"domainId":"d","caseId":"c","fields":[{"id":"s","value":{"stringValue":""}},{"id":"n","value":{"doubleValue":-0.1}},{"id":"b","value":{"booleanValue":false}},{"id":"e","value":{"emptyValue":{}}},{"id":"u","value":{"userArnValue":"arn:u"}}],"performedBy":{"customEntity":"billing"},"eventId":"e1"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	back, err := contract.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if show(back) != want {
		t.Fatalf("round trip: %s", show(back))
	}
}
