package rules_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cases "github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/rules"
)

// testRules has one rule of each kind: a case id from the event, a lookup
// by an external key, and a catch-all that must never shadow them.
const testRules = `{
  "defaultDomain": "dom-default",
  "rules": [
    {"name": "invoice-paid",
     "when": "event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
     "lookup": {"fieldId": "order_number", "value": "string(int(event.detail.orderNumber))"},
     "set": {"status": {"value": "closed"}, "amount": {"expr": "event.detail.amount"},
             "reason": {"clear": true}, "paid": {"expr": "true"}},
     "performedBy": {"customEntity": "billing-system"}},
    {"name": "crm-change",
     "when": "has(event.crm) && event.crm.kind == 'change'",
     "domain": "dom-crm",
     "caseId": "event.crm.caseRef",
     "set": {"title": {"expr": "event.crm.subject.upperAscii()"},
             "priority": {"expr": "event.crm.prio * 2.0"},
             "note": {"expr": "has(event.crm.note) ? event.crm.note : null"}}},
    {"name": "webhook",
     "when": "has(event.type) && event.type == 'tracking'",
     "caseId": "event.caseId",
     "set": {"bad": {"expr": "event.items"}, "big": {"expr": "9007199254740993"}}}
  ]}`

func compile(t testing.TB, src string) *rules.Set {
	t.Helper()
	s, err := rules.Compile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func str(v string) cases.FieldValueUnion { return &cases.FieldValueUnionMemberStringValue{Value: v} }
func num(v float64) cases.FieldValueUnion {
	return &cases.FieldValueUnionMemberDoubleValue{Value: v}
}
func fv(id string, v cases.FieldValueUnion) cases.FieldValue {
	return cases.FieldValue{Id: aws.String(id), Value: v}
}

func TestMap(t *testing.T) {
	s := compile(t, testRules)
	empty := &cases.FieldValueUnionMemberEmptyValue{}
	for _, tc := range []struct {
		name, event string
		rule        string
		domain      *string
		caseID      *string
		lookup      *rules.Lookup
		fields      []cases.FieldValue
		by          cases.UserUnion
	}{
		{name: "lookup by an external key",
			event:  `{"source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":8842,"amount":99.5}}`,
			rule:   "invoice-paid",
			domain: aws.String("dom-default"),
			lookup: &rules.Lookup{DomainID: "dom-default", FieldID: "order_number", Value: str("8842")},
			fields: []cases.FieldValue{fv("amount", num(99.5)), fv("paid", &cases.FieldValueUnionMemberBooleanValue{Value: true}),
				fv("reason", empty), fv("status", str("closed"))},
			by: &cases.UserUnionMemberCustomEntity{Value: "billing-system"}},
		{name: "case id from the event, own domain, null clears",
			event:  `{"crm":{"kind":"change","caseRef":"c-1","subject":"printer","prio":2}}`,
			rule:   "crm-change",
			domain: aws.String("dom-crm"),
			caseID: aws.String("c-1"),
			fields: []cases.FieldValue{fv("note", empty), fv("priority", num(4)), fv("title", str("PRINTER"))}},
		{name: "optional member present",
			event:  `{"crm":{"kind":"change","caseRef":"c-1","subject":"x","prio":1,"note":"hi"}}`,
			rule:   "crm-change",
			domain: aws.String("dom-crm"),
			caseID: aws.String("c-1"),
			fields: []cases.FieldValue{fv("note", str("hi")), fv("priority", num(2)), fv("title", str("X"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Map(context.Background(), []byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if res.Rule != tc.rule || !reflect.DeepEqual(res.Input.DomainId, tc.domain) || !reflect.DeepEqual(res.Input.CaseId, tc.caseID) {
				t.Errorf("rule %q domain %v case %v; want %q %v %v", res.Rule, aws.ToString(res.Input.DomainId), aws.ToString(res.Input.CaseId), tc.rule, aws.ToString(tc.domain), aws.ToString(tc.caseID))
			}
			if !reflect.DeepEqual(res.Lookup, tc.lookup) {
				t.Errorf("lookup = %+v, want %+v", res.Lookup, tc.lookup)
			}
			if !reflect.DeepEqual(res.Input.Fields, tc.fields) {
				t.Errorf("fields = %#v\nwant %#v", res.Input.Fields, tc.fields)
			}
			if !reflect.DeepEqual(res.Input.PerformedBy, tc.by) {
				t.Errorf("performedBy = %#v, want %#v", res.Input.PerformedBy, tc.by)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	s := compile(t, testRules)
	for _, tc := range []struct {
		name, event string
		code        rules.Code
		rule, expr  string
	}{
		{"not JSON", `{"source":`, rules.CodeInvalidEvent, "", ""},
		{"two values", `{} {}`, rules.CodeInvalidEvent, "", ""},
		{"duplicate key", `{"type":"tracking","type":"other"}`, rules.CodeInvalidEvent, "", ""},
		{"no rule matched", `{"type":"other","source":"x","detail-type":"y"}`, rules.CodeNoRuleMatched, "", ""},
		{"missing key in a condition", `{"crm":{}}`, rules.CodeExpressionFailed, "crm-change", "when"},
		{"missing key in a value", `{"source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":1}}`, rules.CodeExpressionFailed, "invoice-paid", "set.amount"},
		{"wrong type", `{"crm":{"kind":"change","caseRef":"c","subject":7,"prio":1}}`, rules.CodeExpressionFailed, "crm-change", "set.title"},
		{"case id not a string", `{"crm":{"kind":"change","caseRef":5,"subject":"s","prio":1}}`, rules.CodeUnconvertibleValue, "crm-change", "caseId"},
		{"list is no field value", `{"source":"x","detail-type":"y","type":"tracking","caseId":"c","items":[1]}`, rules.CodeUnconvertibleValue, "webhook", "set.bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Map(context.Background(), []byte(tc.event))
			var me *rules.MapError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want *MapError", err)
			}
			if me.Code != tc.code || me.Rule != tc.rule || me.Expr != tc.expr {
				t.Errorf("got code %q rule %q expr %q, want %q %q %q (%v)", me.Code, me.Rule, me.Expr, tc.code, tc.rule, tc.expr, err)
			}
		})
	}
}

// TestMapIntegerTooLarge: 2^53+1 would reach Cases as 2^53.
func TestMapIntegerTooLarge(t *testing.T) {
	s := compile(t, `{"rules":[{"name":"r","when":"true","caseId":"'c'","set":{"n":{"expr":"9007199254740993"}}}]}`)
	_, err := s.Map(context.Background(), []byte(`{}`))
	var me *rules.MapError
	if !errors.As(err, &me) || me.Code != rules.CodeUnconvertibleValue {
		t.Fatalf("err = %v, want unconvertible-value", err)
	}
}

func TestMapFirstRuleWins(t *testing.T) {
	s := compile(t, `{"rules":[
	  {"name":"first","when":"event.a == 1","caseId":"'one'","set":{"f":{"value":1}}},
	  {"name":"second","when":"true","caseId":"'two'","set":{"f":{"value":2}}}]}`)
	for event, want := range map[string]string{`{"a":1}`: "first", `{"a":2}`: "second"} {
		res, err := s.Map(context.Background(), []byte(event))
		if err != nil || res.Rule != want {
			t.Errorf("%s: rule %q, %v; want %q", event, res.Rule, err, want)
		}
	}
}

func TestMapCanceled(t *testing.T) {
	s := compile(t, `{"rules":[{"name":"r","when":"event.xs.exists(x, x == 'never')","caseId":"'c'","set":{"f":{"value":1}}}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	xs := strings.Repeat(`"a",`, 5000)
	_, err := s.Map(ctx, []byte(`{"xs":[`+xs+`"a"]}`))
	var me *rules.MapError
	if !errors.As(err, &me) || me.Code != rules.CodeExpressionFailed {
		t.Fatalf("err = %v, want expression-failed", err)
	}
}
