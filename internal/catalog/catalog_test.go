package catalog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/contract"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
	"github.com/casebridge/casebridge/internal/retry"
	"github.com/casebridge/casebridge/internal/testkit/poll"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

const (
	dom    = "dom-1"
	caseID = "case-1"
	arn    = "arn:aws:connect:us-east-1:123456789012:instance/i/agent/a"
)

// Field ids differ from names here (unlike the demo seed) so that
// resolution by name is visible.
const seed = `{"domains":[{"id":"dom-1","name":"d",
 "fields":[
  {"id":"f-status","name":"Status","type":"SingleSelect","options":["open","closed"]},
  {"id":"f-prio","name":"Priority","type":"Number"},
  {"id":"f-esc","name":"Escalated","type":"Boolean"},
  {"id":"f-owner","name":"Owner","type":"User"},
  {"id":"f-title","name":"Title","type":"Text"},
  {"id":"f-free","name":"Free","type":"SingleSelect"}],
 "templates":[{"id":"t","name":"t"}],
 "cases":[{"id":"case-1","templateId":"t","fields":{"f-title":"x"}}]}]}`

// sim is the Cases simulator behind a counter of calls by operation.
type sim struct {
	*casesim.Server
	client *connectcases.Client
	mu     sync.Mutex
	calls  map[string]int
}

func startSim(t *testing.T) *sim {
	t.Helper()
	return startSimWith(t, casesim.Options{}, seed)
}

// startSimWith starts a simulator with opts (quotas, faults) seeded with seedJSON.
func startSimWith(t *testing.T, opts casesim.Options, seedJSON string) *sim {
	t.Helper()
	s := &sim{Server: casesim.New(opts), calls: map[string]int{}}
	if err := s.LoadSeed(strings.NewReader(seedJSON)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[op(r)]++
		s.mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	s.client = testbed.NewCasesClient(hs.URL, func(o *connectcases.Options) { o.Retryer = aws.NopRetryer{} })
	return s
}

func op(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/fields-list"):
		return "ListFields"
	case strings.HasSuffix(p, "/fields-batch"):
		return "BatchGetField"
	case strings.HasSuffix(p, "/options-list"):
		return "ListFieldOptions"
	case r.Method == http.MethodPut && strings.Contains(p, "/cases/"):
		return "UpdateCase"
	}
	return r.Method + " " + p
}

func (s *sim) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func input(fields ...types.FieldValue) *connectcases.UpdateCaseInput {
	return &connectcases.UpdateCaseInput{DomainId: aws.String(dom), CaseId: aws.String(caseID), Fields: fields}
}

func fv(id string, v types.FieldValueUnion) types.FieldValue {
	return types.FieldValue{Id: aws.String(id), Value: v}
}
func str(s string) types.FieldValueUnion   { return &types.FieldValueUnionMemberStringValue{Value: s} }
func num(f float64) types.FieldValueUnion  { return &types.FieldValueUnionMemberDoubleValue{Value: f} }
func boolean(b bool) types.FieldValueUnion { return &types.FieldValueUnionMemberBooleanValue{Value: b} }
func empty() types.FieldValueUnion         { return &types.FieldValueUnionMemberEmptyValue{} }

func TestLoadReadsFieldsAndOptions(t *testing.T) {
	s := startSim(t)
	c := New(s.client, Options{Domains: []string{dom}})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, _ := c.Domain(context.Background(), dom)
	f, ok := d.Lookup("Status")
	if !ok || f.ID != "f-status" || f.Type != types.FieldTypeSingleSelect || !f.Options["closed"] || len(f.Options) != 2 {
		t.Fatalf("Status = %+v, %v", f, ok)
	}
	if f, ok := d.Lookup("f-prio"); !ok || f.Name != "Priority" {
		t.Errorf("by id: %+v", f)
	}
	if s.count("ListFields") != 1 || s.count("BatchGetField") != 1 || s.count("ListFieldOptions") != 2 {
		t.Errorf("calls = %v", s.calls)
	}
	if err := New(s.client, Options{Domains: []string{"no-such-domain"}}).Load(context.Background()); retry.Classify(context.Background(), err).Class != retry.ClassNotFound {
		t.Errorf("unknown domain: %v", err)
	}
}

func TestResolve(t *testing.T) {
	s := startSim(t)
	c := New(s.client, Options{Domains: []string{dom}})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     types.FieldValue
		wantID string
		want   types.FieldValueUnion
		reject string // substring of the rejection, or ""
	}{
		{"name to id", fv("Status", str("closed")), "f-status", str("closed"), ""},
		{"id kept", fv("f-status", str("open")), "f-status", str("open"), ""},
		{"number from string", fv("Priority", str("3.5")), "f-prio", num(3.5), ""},
		{"number as is", fv("Priority", num(2)), "f-prio", num(2), ""},
		{"boolean from string", fv("Escalated", str("false")), "f-esc", boolean(false), ""},
		{"user from ARN string", fv("Owner", str(arn)), "f-owner", &types.FieldValueUnionMemberUserArnValue{Value: arn}, ""},
		{"clear anything", fv("Priority", empty()), "f-prio", empty(), ""},
		{"select without options", fv("Free", str("anything")), "f-free", str("anything"), ""},
		{"not a number", fv("Priority", str("three")), "", nil, "fields[0].value: field f-prio (Priority) has type Number"},
		{"not a boolean", fv("Escalated", str("yes")), "", nil, "takes the strings \"true\" and \"false\" only"},
		{"boolean for text", fv("Title", boolean(true)), "", nil, "has type Text, which does not take booleanValue"},
		{"not an option", fv("Status", str("reopened")), "", nil, "not one of its 2 active options"},
		{"not a user", fv("Owner", str("bob")), "", nil, "takes a user ARN"},
		{"unknown name", fv("Nope", str("x")), "", nil, `fields[0].id: no field with id or name "Nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.in)
			out, err := c.Resolve(context.Background(), in)
			if tt.reject != "" {
				var rej *contract.RejectionError
				if !errors.As(err, &rej) || !strings.Contains(err.Error(), tt.reject) {
					t.Fatalf("err = %v, want a *contract.RejectionError containing %q", err, tt.reject)
				}
				if strings.Contains(err.Error(), "three") || strings.Contains(err.Error(), "reopened") {
					t.Errorf("rejection leaks the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Fields[0].Id); got != tt.wantID {
				t.Errorf("id = %s, want %s", got, tt.wantID)
			}
			if got, want := member(out.Fields[0].Value)+":"+show(out.Fields[0].Value), member(tt.want)+":"+show(tt.want); got != want {
				t.Errorf("value = %s, want %s", got, want)
			}
			if aws.ToString(in.Fields[0].Id) != aws.ToString(tt.in.Id) {
				t.Error("Resolve changed its input")
			}
		})
	}
	dup := input(fv("Status", str("open")), fv("f-status", str("closed")))
	if _, err := c.Resolve(context.Background(), dup); err == nil || !strings.Contains(err.Error(), "which fields[0] already sets") {
		t.Errorf("name and id of one field: %v", err)
	}
}

func show(v types.FieldValueUnion) string {
	switch x := v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return x.Value
	case *types.FieldValueUnionMemberUserArnValue:
		return x.Value
	case *types.FieldValueUnionMemberDoubleValue:
		return strconv.FormatFloat(x.Value, 'g', -1, 64)
	case *types.FieldValueUnionMemberBooleanValue:
		if x.Value {
			return "true"
		}
		return "false"
	}
	return ""
}

func TestUnknownNameRefreshesOnce(t *testing.T) {
	s := startSim(t)
	clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	c := New(s.client, Options{Domains: []string{dom}, MinRefreshGap: 10 * time.Second, Now: clk.Now})
	ctx := context.Background()
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// A field added after start-up is found by the refresh its name triggers.
	if _, err := s.client.CreateField(ctx, &connectcases.CreateFieldInput{DomainId: aws.String(dom), Name: aws.String("Region"), Type: types.FieldTypeText}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	out, err := c.Resolve(ctx, input(fv("Region", str("emea"))))
	if err != nil || strings.HasPrefix(aws.ToString(out.Fields[0].Id), "Region") {
		t.Fatalf("new field: %+v, %v", out, err)
	}
	if n := s.count("ListFields"); n != 2 {
		t.Errorf("ListFields calls = %d, want 2 (start-up and one refresh)", n)
	}
	// Within the gap an unknown name is rejected without another load...
	if _, err := c.Resolve(ctx, input(fv("Nope", str("x")))); err == nil || s.count("ListFields") != 2 {
		t.Errorf("unknown name within the gap: %v, %d ListFields", err, s.count("ListFields"))
	}
	// ...after it, one refresh, then the rejection.
	clk.Add(11 * time.Second)
	if _, err := c.Resolve(ctx, input(fv("Nope", str("x")))); err == nil || s.count("ListFields") != 3 {
		t.Errorf("unknown name after the gap: %v, %d ListFields", err, s.count("ListFields"))
	}
}

func TestRunRefreshes(t *testing.T) {
	s := startSim(t)
	c := New(s.client, Options{Domains: []string{dom}, Refresh: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.BatchPutFieldOptions(ctx, &connectcases.BatchPutFieldOptionsInput{DomainId: aws.String(dom), FieldId: aws.String("f-status"),
		Options: []types.FieldOption{{Name: aws.String("pending"), Value: aws.String("pending"), Active: aws.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	// Polling a condition; there is no event to wait on.
	poll.WaitFor(t, 30*time.Second, "the refresh loop to pick up the new option", func() bool {
		d, _ := c.Domain(ctx, dom)
		f, _ := d.Lookup("Status")
		return f.Options["pending"]
	})
	cancel()
	<-done
}
