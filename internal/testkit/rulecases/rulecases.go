// Package rulecases is test kit: a Cases domain whose cases carry an
// upstream key, a mapping rules file for it, and upstream events with the
// place each must end in, shared by the rules integration tests of the
// worker and the Lambda so both binaries are held to the same table.
package rulecases

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/casesim"
)

// DomainID is the rules' domain (the rules file's defaultDomain).
const DomainID = "9b1e0c4d-1111-4222-8333-444455556666"

// Cases of the domain: order 8842 is one case, order 9000 two (a duplicate
// an agent created), and the CRM's case is named by its id.
const (
	CaseOrder8842 = "5e0d2b7a-0000-4000-8000-000000008842"
	CaseOrder9000 = "5e0d2b7a-0000-4000-8000-000000009000"
	CaseCRM       = "5e0d2b7a-0000-4000-8000-0000000000c1"
)

const seed = `{"domains":[{"id":"` + DomainID + `","name":"orders",
 "fields":[{"name":"title","type":"Text"},{"name":"order_number","type":"Text"},{"name":"amount","type":"Number"},
           {"name":"status","type":"SingleSelect","options":["open","paid","closed"]}],
 "templates":[{"id":"t","name":"t"}],
 "cases":[
  {"id":"` + CaseOrder8842 + `","templateId":"t","fields":{"title":"order 8842","order_number":"8842","status":"open"}},
  {"id":"` + CaseOrder9000 + `","templateId":"t","fields":{"title":"order 9000","order_number":"9000"}},
  {"id":"5e0d2b7a-0000-4000-8000-000000009001","templateId":"t","fields":{"title":"order 9000 again","order_number":"9000"}},
  {"id":"` + CaseCRM + `","templateId":"t","fields":{"title":"crm"}}]}]}`

// Rules is the rules file: an EventBridge billing event found by its order
// number, and a CRM change (sent through SNS) naming its case.
const Rules = `{"defaultDomain": "` + DomainID + `",
 "rules": [
  {"name": "invoice-paid",
   "when": "event.?source.orValue('') == 'billing' && event[?'detail-type'].orValue('') == 'Invoice Paid'",
   "lookup": {"fieldId": "order_number", "value": "string(event.detail.orderNumber)"},
   "set": {"status": {"value": "paid"}, "amount": {"expr": "event.detail.amount"}},
   "performedBy": {"customEntity": "billing-system"}},
  {"name": "crm-change",
   "when": "event.?kind.orValue('') == 'crm.change'",
   "caseId": "event.caseRef",
   "set": {"title": {"expr": "event.subject"}}}
 ]}`

// BadRule is the name of the rule in BadRules, which does not compile.
const BadRule = "half-written"

// BadRules is a rules file whose second rule's condition is cut short.
const BadRules = `{"rules": [
  {"name": "fine", "when": "true", "caseId": "'x'", "set": {"a": {"value": 1}}},
  {"name": "` + BadRule + `", "when": "event.kind ==", "caseId": "'x'", "set": {"a": {"value": 1}}}]}`

// Seed adds the domain to sim.
func Seed(sim *casesim.Server) error { return sim.LoadSeed(strings.NewReader(seed)) }

// Write writes content to name in dir and returns its path.
func Write(dir, name, content string) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(content), 0o600)
}

// Event is one upstream event and where it must end: applied to Case, or
// dead-lettered with Class and Code.
type Event struct {
	Name  string
	Body  string
	Case  string // applied to this case; "" when dead-lettered
	Class contract.Reason
	Code  string
}

func invoicePaid(order string, amount float64) string {
	return `{"version":"0","id":"e-` + order + `","source":"billing","detail-type":"Invoice Paid","account":"100010001000",` +
		`"time":"2026-12-01T09:00:00Z","region":"us-east-1","resources":[],` +
		`"detail":{"orderNumber":` + order + `,"amount":` + strconv.FormatFloat(amount, 'f', -1, 64) + `}}`
}

func sns(message string) string {
	return `{"Type":"Notification","MessageId":"6f0c1a52-0000-4000-8000-000000000001","TopicArn":"arn:aws:sns:us-east-1:100010001000:crm",` +
		`"Message":` + strconv.Quote(message) + `,"Timestamp":"2026-12-01T09:00:00.000Z","SignatureVersion":"1"}`
}

// Events are the events of one run, each ending in a different place.
func Events() []Event {
	return []Event{
		{Name: "invoice paid, one case", Body: invoicePaid("8842", 12.5), Case: CaseOrder8842},
		{Name: "invoice paid, no case", Body: invoicePaid("1", 1), Class: contract.ReasonNotFound, Code: contract.CodeLookupNoMatch},
		{Name: "invoice paid, two cases", Body: invoicePaid("9000", 3), Class: contract.ReasonValidation, Code: contract.CodeAmbiguousLookup},
		{Name: "crm change through SNS", Body: sns(`{"kind":"crm.change","caseRef":"` + CaseCRM + `","subject":"renamed"}`), Case: CaseCRM},
		{Name: "crm change without a case", Body: sns(`{"kind":"crm.change","subject":"lost"}`), Class: contract.ReasonInvalidMessage, Code: contract.CodeExpressionFailed},
		{Name: "an event no rule matches", Body: `{"source":"shipping","detail-type":"Parcel Sent","detail":{}}`, Class: contract.ReasonInvalidMessage, Code: contract.CodeNoRuleMatched},
		{Name: "contract v1", Body: `{"domainId":"` + DomainID + `","caseId":"` + CaseOrder9000 + `","fields":{"status":"closed"}}`, Case: CaseOrder9000},
	}
}

// Repeat is a second event for order 8842: its lookup must come from the
// cache, with no second SearchCases call.
func Repeat() Event {
	return Event{Name: "invoice paid again, cached", Body: invoicePaid("8842", 20), Case: CaseOrder8842}
}

// Searches is how many SearchCases calls Events and Repeat make: one per
// distinct order number.
const Searches = 3

// Orders is a seed for the rules' domain with n cases, case i carrying
// order number 10000+i, in place of Seed's (for load and fault tests); its
// case ids are OrderCase(i).
func Orders(sim *casesim.Server, n int) error {
	var cases []string
	for i := range n {
		cases = append(cases, `{"id":"`+OrderCase(i)+`","templateId":"t","fields":{"title":"o","order_number":"`+strconv.Itoa(10000+i)+`"}}`)
	}
	return sim.LoadSeed(strings.NewReader(`{"domains":[{"id":"` + DomainID + `","name":"orders",
 "fields":[{"name":"title","type":"Text"},{"name":"order_number","type":"Text"},{"name":"amount","type":"Number"},
           {"name":"status","type":"SingleSelect","options":["open","paid","closed"]}],
 "templates":[{"id":"t","name":"t"}],"cases":[` + strings.Join(cases, ",") + `]}]}`))
}

// OrderCase is the id of Orders' case i.
func OrderCase(i int) string { return fmt.Sprintf("5e0d2b7a-0000-4000-8000-%012d", 10000+i) }

// OrderPaid is the billing event that pays Orders' order i.
func OrderPaid(i int) string { return invoicePaid(strconv.Itoa(10000+i), float64(i)) }
