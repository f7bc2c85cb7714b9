package contract_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/contract"
)

const caseKey = `"caseId":"c1"`

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string // the whole RejectionError.Error() text, or a prefix ending in "…"
	}{
		{"typo feilds", `{"caseId":"c1","feilds":{"a":1}}`, `feilds: unknown key (allowed here: domainId, caseId, fields, performedBy, version, eventId, occurredAt)`},
		{"key wrong case", `{"CaseId":"c1","fields":{"a":1}}`, `CaseId: unknown key…`},
		{"union two members", `{` + caseKey + `,"fields":[{"id":"a","value":{"stringValue":"x"}},{"id":"b","value":{"booleanValue":true}},{"id":"c","value":{"stringValue":"x","doubleValue":1}}]}`, `fields[2].value: union has both stringValue and doubleValue`},
		{"union no member", `{` + caseKey + `,"fields":[{"id":"a","value":{}}]}`, `fields[0].value: union has no member…`},
		{"union unknown member", `{` + caseKey + `,"fields":[{"id":"a","value":{"strngValue":"x"}}]}`, `fields[0].value.strngValue: unknown key…`},
		{"union null member", `{` + caseKey + `,"fields":[{"id":"a","value":{"stringValue":null}}]}`, `fields[0].value.stringValue: must be a string, not null`},
		{"shorthand union two members", `{` + caseKey + `,"fields":{"owner":{"userArnValue":"x","stringValue":"y"}}}`, `fields.owner: union has both stringValue and userArnValue`},
		{"shorthand odd key path", `{` + caseKey + `,"fields":{"a b":{}}}`, `fields["a b"]: union has no member…`},
		{"shorthand array", `{` + caseKey + `,"fields":{"a":[1]}}`, `fields.a: must be a string, number, boolean, null or a value union object`},
		{"empty value with keys", `{` + caseKey + `,"fields":[{"id":"a","value":{"emptyValue":{"x":1}}}]}`, `fields[0].value.emptyValue: must be {} (no keys)`},
		{"duplicate field id", `{` + caseKey + `,"fields":[{"id":"a","value":{"booleanValue":true}},{"id":"a","value":{"booleanValue":false}}]}`, `fields[1].id: duplicate field id "a" (also fields[0].id)`},
		{"duplicate shorthand key", `{` + caseKey + `,"fields":{"a":1,"a":2}}`, `fields.a: duplicate key`},
		{"duplicate top-level key", `{` + caseKey + `,` + caseKey + `,"fields":{"a":1}}`, `caseId: duplicate key`},
		{"no caseId", `{"fields":{"a":1}}`, `caseId: required`},
		{"empty caseId", `{"caseId":"","fields":{"a":1}}`, `caseId: length 0, must be 1 to 500 characters`},
		{"caseId too long", `{"caseId":"` + strings.Repeat("ü", 501) + `","fields":{"a":1}}`, `caseId: length 501, must be 1 to 500 characters`},
		{"caseId number", `{"caseId":7,"fields":{"a":1}}`, `caseId: must be a string, not number`},
		{"empty domainId", `{"domainId":"",` + caseKey + `,"fields":{"a":1}}`, `domainId: length 0, must be 1 to 500 characters`},
		{"no fields", `{` + caseKey + `}`, `fields: required`},
		{"empty fields", `{` + caseKey + `,"fields":[]}`, `fields: must hold at least one field…`},
		{"empty shorthand", `{` + caseKey + `,"fields":{}}`, `fields: must hold at least one field…`},
		{"fields string", `{` + caseKey + `,"fields":"a"}`, `fields: must be a list…`},
		{"too many fields", `{` + caseKey + `,"fields":[` + strings.Repeat(`{"id":"a","value":{"booleanValue":true}},`, 220) + `{"id":"a","value":{"booleanValue":true}}]}`, `fields: more than 220 fields`},
		{"field id missing", `{` + caseKey + `,"fields":[{"value":{"booleanValue":true}}]}`, `fields[0].id: required`},
		{"field value missing", `{` + caseKey + `,"fields":[{"id":"a"}]}`, `fields[0].value: required`},
		{"field extra key", `{` + caseKey + `,"fields":[{"id":"a","value":{"booleanValue":true},"type":"x"}]}`, `fields[0].type: unknown key (allowed here: id, value)`},
		{"shorthand empty id", `{` + caseKey + `,"fields":{"":1}}`, `fields: a field id is empty…`},
		{"string too long", `{` + caseKey + `,"fields":{"s":"` + strings.Repeat("€", 4101) + `"}}`, `fields.s.stringValue: length 12303 bytes in UTF-8, at most 4100 bytes`},
		{"1e400", `{` + caseKey + `,"fields":{"p":1e400}}`, `fields.p: number 1e400 is outside the float64 range`},
		{"-1e400 in union", `{` + caseKey + `,"fields":[{"id":"p","value":{"doubleValue":-1e400}}]}`, `fields[0].value.doubleValue: number -1e400 is outside the float64 range`},
		{"double as string", `{` + caseKey + `,"fields":[{"id":"p","value":{"doubleValue":"1"}}]}`, `fields[0].value.doubleValue: must be a number, not string`},
		{"boolean as number", `{` + caseKey + `,"fields":[{"id":"p","value":{"booleanValue":1}}]}`, `fields[0].value.booleanValue: must be a boolean, not number`},
		{"performedBy both", `{` + caseKey + `,"fields":{"a":1},"performedBy":{"userArn":"u","customEntity":"c"}}`, `performedBy: union has both userArn and customEntity`},
		{"performedBy neither", `{` + caseKey + `,"fields":{"a":1},"performedBy":{}}`, `performedBy: union has no member…`},
		{"performedBy null", `{` + caseKey + `,"fields":{"a":1},"performedBy":null}`, `performedBy: must be an object with userArn or customEntity, not null`},
		{"performedBy empty userArn", `{` + caseKey + `,"fields":{"a":1},"performedBy":{"userArn":""}}`, `performedBy.userArn: length 0, must be 1 to 500 characters`},
		{"customEntity trailing space", `{` + caseKey + `,"fields":{"a":1},"performedBy":{"customEntity":"billing "}}`, `performedBy.customEntity: must match…`},
		{"customEntity unknown", `{` + caseKey + `,"fields":{"a":1},"performedBy":{"customEntity":"x","name":"y"}}`, `performedBy.name: unknown key (allowed here: userArn, customEntity)`},
		{"version 2", `{` + caseKey + `,"fields":{"a":1},"version":"2"}`, `version: unsupported version "2", only "1" is accepted`},
		{"version empty", `{` + caseKey + `,"fields":{"a":1},"version":""}`, `version: unsupported version "", only "1" is accepted`},
		{"eventId empty", `{` + caseKey + `,"fields":{"a":1},"eventId":""}`, `eventId: length 0, must be 1 to 128 characters`},
		{"eventId 129", `{` + caseKey + `,"fields":{"a":1},"eventId":"` + strings.Repeat("x", 129) + `"}`, `eventId: length 129, must be 1 to 128 characters`},
		{"occurredAt bad", `{` + caseKey + `,"fields":{"a":1},"occurredAt":"yesterday"}`, `occurredAt: not an RFC 3339 timestamp…`},
		{"not an object", `[1]`, `$: message must be a JSON object`},
		{"empty body", ``, `$: invalid JSON…`},
		{"truncated", `{` + caseKey + `,"fields":{"a":1}`, `$: invalid JSON…`},
		{"trailing value", `{` + caseKey + `,"fields":{"a":1}} {}`, `$: unexpected data after the message object`},
		{"trailing garbage", `{` + caseKey + `,"fields":{"a":1}} x`, `$: invalid JSON…`},
		{"invalid UTF-8", "{\"caseId\":\"c\xff1\",\"fields\":{\"a\":1}}", `caseId: invalid JSON…`},
		{"NaN literal", `{` + caseKey + `,"fields":{"a":NaN}}`, `fields.a: invalid JSON…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := contract.Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var rej *contract.RejectionError
			if !errors.As(err, &rej) {
				t.Fatalf("error %T is not a *RejectionError: %v", err, err)
			}
			if prefix, ok := strings.CutSuffix(tt.wantErr, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Fatalf("got  %q\nwant %q…", err, prefix)
				}
				return
			}
			if err.Error() != tt.wantErr {
				t.Fatalf("got  %q\nwant %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	str := func(s string) contract.Value { return contract.StringValue(s) }
	tests := []struct {
		name, body string
		want       contract.Message
	}{
		{
			"canonical every member",
			`{"domainId":"d","caseId":"c","fields":[{"id":"s","value":{"stringValue":""}},{"id":"n","value":{"doubleValue":0.1}},` +
				`{"id":"b","value":{"booleanValue":false}},{"id":"e","value":{"emptyValue":{ }}},{"id":"u","value":{"userArnValue":"arn:u"}}],` +
				`"performedBy":{"userArn":"arn:p"},"version":"1","eventId":"evt-1","occurredAt":"2026-11-25T09:00:00Z"}`,
			contract.Message{DomainID: "d", CaseID: "c", Fields: []contract.Field{
				{ID: "s", Value: str("")}, {ID: "n", Value: contract.DoubleValue(0.1)}, {ID: "b", Value: contract.BooleanValue(false)},
				{ID: "e", Value: contract.EmptyValue()}, {ID: "u", Value: contract.UserArnValue("arn:u")},
			}, PerformedBy: &contract.PerformedBy{UserArn: "arn:p"}, Version: "1", EventID: "evt-1", OccurredAt: "2026-11-25T09:00:00Z"},
		},
		{
			"shorthand keeps key order and maps JSON types",
			`{"caseId":"c","fields":{"z":"last?","a":3,"m":true,"b":null,"o":{"userArnValue":"arn:o"}}}`,
			contract.Message{CaseID: "c", Fields: []contract.Field{
				{ID: "z", Value: str("last?")}, {ID: "a", Value: contract.DoubleValue(3)}, {ID: "m", Value: contract.BooleanValue(true)},
				{ID: "b", Value: contract.EmptyValue()}, {ID: "o", Value: contract.UserArnValue("arn:o")},
			}},
		},
		{
			"escapes in keys and values",
			`{"case\u0049d":"c\u00e9","fields":{"t\"q":"a\\b\n\u00fc 🚚"}}`,
			contract.Message{CaseID: "cé", Fields: []contract.Field{{ID: `t"q`, Value: str("a\\b\nü 🚚")}}},
		},
		{
			"numbers keep full float64 precision",
			`{"caseId":"c","fields":{"a":9007199254740993,"b":0.30000000000000004,"c":-5e-324,"d":1.7976931348623157e308,"e":-0}}`,
			contract.Message{CaseID: "c", Fields: []contract.Field{
				{ID: "a", Value: contract.DoubleValue(9007199254740992)}, // nearest double, as strconv rounds
				{ID: "b", Value: contract.DoubleValue(0.30000000000000004)},
				{ID: "c", Value: contract.DoubleValue(-5e-324)},
				{ID: "d", Value: contract.DoubleValue(math.MaxFloat64)},
				{ID: "e", Value: contract.DoubleValue(math.Copysign(0, -1))},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contract.Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("got  %s\nwant %s", show(got), show(&tt.want))
			}
		})
	}
}

// TestDecodeDoesNotAliasInput guards the zero-copy string slicing: the
// caller may reuse its buffer once Decode returns.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	body := []byte(`{"caseId":"c1","fields":{"status":"closed"}}`)
	m, err := contract.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if m.CaseID != "c1" || m.Fields[0].ID != "status" || *m.Fields[0].Value.String != "closed" {
		t.Fatalf("decoded message changed with its input: %s", show(m))
	}
}
