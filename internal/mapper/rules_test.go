package mapper

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/casebridge/casebridge/internal/rules"
)

const mapRules = `{"rules": [
 {"name": "invoice-paid",
  "when": "event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
  "lookup": {"fieldId": "order_number", "value": "event.detail.orderNumber"},
  "set": {"status": {"value": "closed"}}},
 {"name": "crm-change",
  "when": "has(event.crm)",
  "domain": "dom-crm",
  "caseId": "event.crm.caseRef",
  "set": {"title": {"expr": "event.crm.subject"}}},
 {"name": "v1-escalation",
  "when": "has(event.caseId) && has(event.fields.escalated)",
  "caseId": "event.caseId",
  "set": {"priority": {"value": 1}}},
 {"name": "strict",
  "when": "has(event.strict) && event.strict.missing == 1",
  "caseId": "'x'",
  "set": {"a": {"value": 1}}}
]}`

func TestMapEvent(t *testing.T) {
	set, err := rules.Compile([]byte(mapRules))
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{DefaultDomainID: "dom-default", MaxBodyBytes: 4096, Rules: set})
	sns := func(inner string) string {
		return `{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":` + strconv.Quote(inner) + `}`
	}
	for _, tc := range []struct {
		name, body string
		rule       string // the rule that mapped it; "" = contract v1
		domain     string
		caseID     string // "" with a lookup
		lookup     bool
		code       rules.Code // a *rules.MapError
		rejected   bool       // a *RejectionError (and no MapError)
	}{
		{name: "EventBridge event, whole, to a lookup rule", rule: "invoice-paid", domain: "dom-default", lookup: true,
			body: `{"version":"0","source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":"8842"}}`},
		{name: "SNS notification: the rules see its Message", rule: "crm-change", domain: "dom-crm", caseID: "c-1",
			body: sns(`{"crm":{"caseRef":"c-1","subject":"s"}}`)},
		{name: "contract v1 no rule matches", domain: "dom-default", caseID: "c-2",
			body: `{"caseId":"c-2","fields":{"status":"open"}}`},
		{name: "contract v1 in EventBridge no rule matches", domain: "dom-default", caseID: "c-3",
			body: `{"source":"crm","detail-type":"x","detail":{"caseId":"c-3","fields":{"status":"open"}}}`},
		{name: "contract v1 claimed by a rule", rule: "v1-escalation", domain: "dom-default", caseID: "c-4",
			body: `{"caseId":"c-4","fields":{"escalated":true}}`},
		{name: "no rule and not contract v1", code: rules.CodeNoRuleMatched, rejected: true,
			body: `{"source":"crm","detail-type":"x","detail":{"nothing":1}}`},
		{name: "broken contract v1 no rule matches: contract v1's reason alone", rejected: true,
			body: `{"caseId":"c-5","fields":{"status":"open"},"feilds":{}}`},
		{name: "broken contract v1 in SNS: contract v1's reason alone", rejected: true,
			body: sns(`{"caseId":"c-6","fields":{}}`)},
		{name: "expression fails", code: rules.CodeExpressionFailed,
			body: `{"strict":{}}`},
		{name: "not JSON", rejected: true, body: `not json`},
		{name: "too big", rejected: true, body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.MapEvent(context.Background(), []byte(tc.body))
			var me *rules.MapError
			var rej *RejectionError
			switch {
			case tc.code != "":
				if !errors.As(err, &me) || me.Code != tc.code {
					t.Fatalf("err %v, want MapError %s", err, tc.code)
				}
				if tc.rejected != errors.As(err, &rej) {
					t.Errorf("wraps a contract rejection: %v, want %v", !tc.rejected, tc.rejected)
				}
				return
			case tc.rejected:
				if !errors.As(err, &rej) || errors.As(err, &me) {
					t.Fatalf("err %v (%T), want a contract rejection only", err, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if got.Rule != tc.rule || aws.ToString(got.Input.DomainId) != tc.domain || aws.ToString(got.Input.CaseId) != tc.caseID {
				t.Errorf("rule %q domain %q case %q, want %q %q %q", got.Rule, aws.ToString(got.Input.DomainId), aws.ToString(got.Input.CaseId), tc.rule, tc.domain, tc.caseID)
			}
			if tc.lookup != (got.Lookup != nil) {
				t.Fatalf("lookup %+v, want one: %v", got.Lookup, tc.lookup)
			}
			if got.Lookup != nil && (got.Lookup.DomainID != tc.domain || got.Lookup.FieldID != "order_number") {
				t.Errorf("lookup %+v: want domain %s, field order_number", got.Lookup, tc.domain)
			}
		})
	}
}

func TestMapEventNeedsADomain(t *testing.T) {
	set, err := rules.Compile([]byte(mapRules))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Rules: set}).MapEvent(context.Background(), []byte(`{"source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":"1"}}`))
	var rej *RejectionError
	if !errors.As(err, &rej) || rej.Path != "domainId" || !strings.Contains(rej.Rule, "invoice-paid") {
		t.Errorf("err %v, want a domainId rejection naming the rule", err)
	}
}

// FuzzMapEvent: with rules, MapEvent never panics and answers with a
// request or a *RejectionError / *rules.MapError that FailureReason turns
// into a dead-letter class; a rule's request has its domain, and either
// its case id or a lookup in that domain; contract v1's answer is Map's.
// Run: go test -run '^$' -fuzz FuzzMapEvent -fuzztime 60s ./internal/mapper/
func FuzzMapEvent(f *testing.F) {
	for _, s := range []string{
		`{"version":"0","source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":"8842"}}`,
		`{"Type":"Notification","Message":"{\"crm\":{\"caseRef\":\"c-1\",\"subject\":\"s\"}}"}`,
		`{"caseId":"c-4","fields":{"escalated":true}}`,
		`{"strict":{}}`, `{"crm":{"caseRef":1}}`, `{"source":"billing","detail-type":"Invoice Paid","detail":{"orderNumber":null}}`,
		benchRaw, shortMsg,
	} {
		f.Add([]byte(s))
	}
	set, err := rules.Compile([]byte(mapRules))
	if err != nil {
		f.Fatal(err)
	}
	m := New(Config{DefaultDomainID: "default-domain", Rules: set})
	plain := New(Config{DefaultDomainID: "default-domain"})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := m.MapEvent(context.Background(), body)
		if err != nil {
			var rej *RejectionError
			var me *rules.MapError
			if !errors.As(err, &rej) && !errors.As(err, &me) {
				t.Fatalf("error %T is neither a rejection nor a MapError: %v", err, err)
			}
			if class, _ := FailureReason(err); !class.DeadLetters() {
				t.Fatalf("class %q does not dead-letter", class)
			}
			return
		}
		in := got.Input
		if aws.ToString(in.DomainId) == "" {
			t.Fatalf("no domain: %+v", got)
		}
		if got.Rule == "" {
			want, err := plain.Map(body)
			if err != nil || requestJSON(t, want.Input) != requestJSON(t, in) {
				t.Fatalf("contract v1 answer differs from Map's (%v)", err)
			}
			return
		}
		switch {
		case got.Lookup != nil && (in.CaseId != nil || got.Lookup.DomainID != *in.DomainId):
			t.Fatalf("lookup %+v with case %v in domain %s", got.Lookup, in.CaseId, *in.DomainId)
		case got.Lookup == nil && aws.ToString(in.CaseId) == "":
			t.Fatalf("rule %s gave neither a case id nor a lookup", got.Rule)
		}
	})
}
