package consumer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/rules"
)

const coreRules = `{"defaultDomain": "d1", "rules": [
 {"name": "paid", "when": "event.?source.orValue('') == 'billing'",
  "lookup": {"fieldId": "order_number", "value": "event.detail.order"},
  "set": {"status": {"value": "closed"}, "amount": {"expr": "event.detail.amount"}}},
 {"name": "direct", "when": "has(event.ref)", "caseId": "event.ref",
  "set": {"title": {"expr": "string(int(event.title))"}}},
 {"name": "listy", "when": "has(event.items)", "caseId": "'c9'", "set": {"title": {"expr": "event.items"}}}
]}`

// updateRecorder answers UpdateCase with err and records each request.
type updateRecorder struct {
	mu  sync.Mutex
	err error
	ins []*connectcases.UpdateCaseInput
}

func (f *updateRecorder) UpdateCase(_ context.Context, in *connectcases.UpdateCaseInput, _ ...func(*connectcases.Options)) (*connectcases.UpdateCaseOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ins = append(f.ins, in)
	if f.err != nil {
		return nil, f.err
	}
	return &connectcases.UpdateCaseOutput{}, nil
}

// scriptedFinder answers every Find with id, err and records Forget.
type scriptedFinder struct {
	mu        sync.Mutex
	id        string
	err       error
	finds     []string // "field=member"
	forgotten int
}

func (f *scriptedFinder) Find(_ context.Context, domainID, fieldID string, v types.FieldValueUnion) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds = append(f.finds, domainID+"/"+fieldID+"="+member(v))
	return f.id, f.err
}

func (f *scriptedFinder) Forget(string, string, types.FieldValueUnion) {
	f.mu.Lock()
	f.forgotten++
	f.mu.Unlock()
}

func member(v types.FieldValueUnion) string {
	switch x := v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return "s:" + x.Value
	case *types.FieldValueUnionMemberDoubleValue:
		return "d"
	}
	return "?"
}

// numberResolver is a catalog whose order_number field is a Number and
// whose amount field refuses strings.
type numberResolver struct{}

func (numberResolver) Resolve(_ context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error) {
	return in, nil
}

func (numberResolver) ResolveRule(_ context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error) {
	out := *in
	out.Fields = nil
	for _, f := range in.Fields {
		if s, ok := f.Value.(*types.FieldValueUnionMemberStringValue); ok {
			switch aws.ToString(f.Id) {
			case "order_number":
				f.Value = &types.FieldValueUnionMemberDoubleValue{Value: float64(len(s.Value))}
			case "amount":
				return nil, &contract.RejectionError{Path: "fields[0].value", Rule: "amount has type Number"}
			}
		}
		out.Fields = append(out.Fields, f)
	}
	return &out, nil
}

// TestRulesOutcomes: every way a rule-mapped event ends, with the DLQ
// record's class and code, and which calls it cost.
func TestRulesOutcomes(t *testing.T) {
	set, err := rules.Compile([]byte(coreRules))
	if err != nil {
		t.Fatal(err)
	}
	paid := `{"source":"billing","detail-type":"Invoice Paid","detail":{"order":"8842","amount":12.5}}`
	tests := []struct {
		name       string
		body       string
		finder     *scriptedFinder
		resolver   Resolver
		updateErr  error
		wantKind   Kind
		wantReason contract.Reason
		wantCode   string
		wantCase   string // the case UpdateCase was called for; "" = not called
		wantFinds  int
		wantForget int
	}{
		{name: "lookup hit", body: paid, finder: &scriptedFinder{id: "c-8842"}, wantKind: Done, wantCase: "c-8842", wantFinds: 1},
		{name: "lookup miss", body: paid, finder: &scriptedFinder{err: &lookup.NotFoundError{}}, wantKind: DeadLettered, wantReason: contract.ReasonNotFound, wantCode: contract.CodeLookupNoMatch, wantFinds: 1},
		{name: "lookup ambiguous", body: paid, finder: &scriptedFinder{err: &lookup.AmbiguousError{Count: 2}}, wantKind: DeadLettered, wantReason: contract.ReasonValidation, wantCode: contract.CodeAmbiguousLookup, wantFinds: 1},
		{name: "lookup throttled past the budget", body: paid, finder: &scriptedFinder{err: retry.Classified{Class: retry.ClassThrottle, Err: errors.New("pace")}}, wantKind: RetryLater, wantReason: contract.ReasonThrottled, wantFinds: 1},
		{name: "lookup outage", body: paid, finder: &scriptedFinder{err: errInternal}, wantKind: RetryLater, wantReason: contract.ReasonTransient, wantCode: "InternalServerException", wantFinds: 1},
		{name: "lookup on a field the domain lacks", body: paid, finder: &scriptedFinder{err: errValidation}, wantKind: DeadLettered, wantReason: contract.ReasonValidation, wantCode: "ValidationException", wantFinds: 1},
		{name: "found case deleted since: forgotten", body: paid, finder: &scriptedFinder{id: "c-gone"}, updateErr: errNotFound, wantKind: DeadLettered, wantReason: contract.ReasonNotFound, wantCode: "ResourceNotFoundException", wantCase: "c-gone", wantFinds: 1, wantForget: 1},
		{name: "catalog rejects a value: no lookup, no call", body: paid, finder: &scriptedFinder{id: "x"}, resolver: rejectAmount{}, wantKind: DeadLettered, wantReason: contract.ReasonValidation},
		{name: "rule with a case id", body: `{"ref":"c7","title":"42"}`, finder: &scriptedFinder{}, wantKind: Done, wantCase: "c7"},
		{name: "expression fails", body: `{"ref":"c7","title":"4a2secret"}`, finder: &scriptedFinder{}, wantKind: DeadLettered, wantReason: contract.ReasonInvalidMessage, wantCode: contract.CodeExpressionFailed},
		{name: "unconvertible value", body: `{"items":[1]}`, finder: &scriptedFinder{}, wantKind: DeadLettered, wantReason: contract.ReasonValidation, wantCode: contract.CodeUnconvertibleValue},
		{name: "no rule matched", body: `{"source":"crm"}`, finder: &scriptedFinder{}, wantKind: DeadLettered, wantReason: contract.ReasonInvalidMessage, wantCode: contract.CodeNoRuleMatched},
		{name: "contract v1 still works", body: validBody, finder: &scriptedFinder{}, wantKind: Done, wantCase: "c1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases, dlq := &updateRecorder{err: tc.updateErr}, &fakeDLQ{}
			core, err := New(Options{Cases: cases, DLQ: dlq, DLQURL: "https://sqs.local/1/dlq",
				Mapper: mapper.New(mapper.Config{Rules: set}), Finder: tc.finder, Resolver: tc.resolver,
				BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			msg := Message{ID: "m1", Body: tc.body, ReceiveCount: 1}
			out := core.Handle(ctx, msg)
			if out.Kind != tc.wantKind || out.Reason != tc.wantReason || out.Code != tc.wantCode {
				t.Errorf("outcome %v %q %q (%v), want %v %q %q", out.Kind, out.Reason, out.Code, out.Err, tc.wantKind, tc.wantReason, tc.wantCode)
			}
			switch {
			case tc.wantCase == "" && len(cases.ins) != 0:
				t.Errorf("%d UpdateCase calls, want none", len(cases.ins))
			case tc.wantCase != "" && (len(cases.ins) != 1 || aws.ToString(cases.ins[0].CaseId) != tc.wantCase):
				t.Errorf("UpdateCase calls %d, want one for %s", len(cases.ins), tc.wantCase)
			}
			if len(tc.finder.finds) != tc.wantFinds || tc.finder.forgotten != tc.wantForget {
				t.Errorf("finds %v, forgotten %d; want %d finds, %d forgotten", tc.finder.finds, tc.finder.forgotten, tc.wantFinds, tc.wantForget)
			}
			if tc.wantKind == DeadLettered {
				if len(dlq.sent) != 1 {
					t.Fatalf("%d DLQ sends, want 1", len(dlq.sent))
				}
				checkDeadLetter(t, dlq.sent[0], msg, tc.wantReason, tc.wantCode)
				rec, _ := contract.ParseDeadLetterRecord(aws.ToString(dlq.sent[0].MessageAttributes[contract.ErrorAttribute].StringValue))
				t.Logf("DLQ message: %s", rec.Message)
				if strings.Contains(rec.Message, "secret") || strings.Contains(rec.Message, "8842") {
					t.Errorf("DLQ message holds an event value: %s", rec.Message)
				}
			}
		})
	}
}

// rejectAmount refuses the rule's amount field, as the catalog does a
// value it cannot convert.
type rejectAmount struct{ numberResolver }

func (rejectAmount) ResolveRule(ctx context.Context, in *connectcases.UpdateCaseInput) (*connectcases.UpdateCaseInput, error) {
	for _, f := range in.Fields {
		if aws.ToString(f.Id) == "amount" {
			return nil, &contract.RejectionError{Path: "fields[1].value", Rule: "amount does not take doubleValue"}
		}
	}
	return in, nil
}

// TestLookupValueIsConverted: the lookup searches with the value as the
// catalog converts it for the field (a Number field: a number).
func TestLookupValueIsConverted(t *testing.T) {
	set, err := rules.Compile([]byte(coreRules))
	if err != nil {
		t.Fatal(err)
	}
	finder := &scriptedFinder{id: "c1"}
	core, err := New(Options{Cases: &updateRecorder{}, DLQ: &fakeDLQ{}, DLQURL: "q",
		Mapper: mapper.New(mapper.Config{Rules: set}), Finder: finder, Resolver: numberResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	out := core.Handle(context.Background(), Message{ID: "m", Body: `{"source":"billing","detail":{"order":"8842","amount":1}}`})
	if out.Kind != Done || len(finder.finds) != 1 || finder.finds[0] != "d1/order_number=d" {
		t.Errorf("outcome %v (%v), finds %v: want applied after one search with a number", out.Kind, out.Err, finder.finds)
	}
}

func TestMapErrorTextHidesValues(t *testing.T) {
	for _, tc := range []struct {
		err  *rules.MapError
		want string
	}{
		{&rules.MapError{Code: rules.CodeExpressionFailed, Rule: "r", Expr: "set.a", Err: errors.New(`strconv.ParseInt: parsing "secret": invalid syntax`)},
			`rules: expression-failed: rule "r" set.a: strconv.ParseInt: parsing <value>: invalid syntax`},
		{&rules.MapError{Code: rules.CodeUnconvertibleValue, Rule: "r", Expr: "set.a", Err: errors.New("integer 9007199254740993 does not fit a double exactly")},
			`rules: unconvertible-value: rule "r" set.a: integer <value> does not fit a double exactly`},
		{&rules.MapError{Code: rules.CodeExpressionFailed, Rule: "r", Expr: "when", Err: errors.New("type conversion error from 'string' to 'int'; no such key: line2")},
			`rules: expression-failed: rule "r" when: type conversion error from 'string' to 'int'; no such key: line2`},
	} {
		if got := errorText(tc.err); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// TestLookupSpan: a rule's lookup is a client span under the message's,
// naming the field (never the value) and the case found, or the reason it
// failed; the message span names the rule.
func TestLookupSpan(t *testing.T) {
	set, err := rules.Compile([]byte(coreRules))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		finder     *scriptedFinder
		wantCase   string
		wantStatus string
	}{
		{&scriptedFinder{id: "c-8842"}, "c-8842", "Unset"},
		{&scriptedFinder{err: &lookup.AmbiguousError{Count: 2}}, "", "Error"},
	} {
		core, rec, tracer := tracedCore(t, &updateRecorder{}, &fakeDLQ{}, false, nil)
		core.o.Mapper, core.o.Finder = mapper.New(mapper.Config{Rules: set}), tc.finder
		ctx, msgSpan := tracer.Start(context.Background(), "message")
		core.Handle(ctx, Message{ID: "m", Body: `{"source":"billing","detail":{"order":"8842secret","amount":1}}`, Span: msgSpan})
		msgSpan.End()
		spans := spansNamed(rec, SpanLookup)
		if len(spans) != 1 {
			t.Fatalf("%d lookup spans, want 1", len(spans))
		}
		s := spans[0]
		if s.Parent().SpanID() != msgSpan.SpanContext().SpanID() || attr(s, string(AttrLookupField)) != "order_number" ||
			attr(s, string(AttrCaseID)) != tc.wantCase || s.Status().Code.String() != tc.wantStatus {
			t.Errorf("lookup span: parent %v, field %q, case %q, status %v", s.Parent().SpanID(), attr(s, string(AttrLookupField)), attr(s, string(AttrCaseID)), s.Status())
		}
		if m := spansNamed(rec, "message"); len(m) != 1 || attr(m[0], string(AttrRule)) != "paid" {
			t.Errorf("message span does not name the rule")
		}
		for _, sp := range rec.Ended() {
			for _, kv := range sp.Attributes() {
				if strings.Contains(kv.Value.Emit(), "secret") {
					t.Errorf("span %s attribute %s holds the event's value", sp.Name(), kv.Key)
				}
			}
		}
	}
}
