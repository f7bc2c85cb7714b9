package mapper

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

const (
	demoDomain = "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"
	demoCase   = "7a1d6c3e-0000-4000-8000-000000000001"
	shortMsg   = `{"caseId":"` + demoCase + `","fields":{"status":"closed","priority":3}}`
)

// eventBridge wraps detail as EventBridge delivers it to SQS.
func eventBridge(detail string) string {
	return `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"CaseUpdate",` +
		`"source":"com.example.billing","account":"100010001000","time":"2026-11-25T09:00:00Z","region":"us-east-1",` +
		`"resources":[],"detail":` + detail + `}`
}

// requestJSON renders a request in the API's JSON shape, for comparisons.
func requestJSON(t *testing.T, in *connectcases.UpdateCaseInput) string {
	t.Helper()
	type value map[string]any
	type field struct {
		ID    string `json:"id"`
		Value value  `json:"value"`
	}
	out := struct {
		DomainID    string            `json:"domainId"`
		CaseID      string            `json:"caseId"`
		Fields      []field           `json:"fields"`
		PerformedBy map[string]string `json:"performedBy,omitempty"`
	}{DomainID: *in.DomainId, CaseID: *in.CaseId}
	for _, f := range in.Fields {
		v := value{}
		switch u := f.Value.(type) {
		case *types.FieldValueUnionMemberStringValue:
			v["stringValue"] = u.Value
		case *types.FieldValueUnionMemberDoubleValue:
			v["doubleValue"] = u.Value
		case *types.FieldValueUnionMemberBooleanValue:
			v["booleanValue"] = u.Value
		case *types.FieldValueUnionMemberEmptyValue:
			v["emptyValue"] = struct{}{}
		case *types.FieldValueUnionMemberUserArnValue:
			v["userArnValue"] = u.Value
		default:
			t.Fatalf("unexpected union member %T", u)
		}
		out.Fields = append(out.Fields, field{*f.Id, v})
	}
	switch p := in.PerformedBy.(type) {
	case *types.UserUnionMemberUserArn:
		out.PerformedBy = map[string]string{"userArn": p.Value}
	case *types.UserUnionMemberCustomEntity:
		out.PerformedBy = map[string]string{"customEntity": p.Value}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMapAccepts(t *testing.T) {
	canonical := `{"domainId":"d1","caseId":"c1","fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"reason","value":{"emptyValue":{}}}],` +
		`"performedBy":{"customEntity":"billing-system"},"eventId":"evt-8842","occurredAt":"2026-11-25T10:00:00+01:00"}`
	const canonicalReq = `{"domainId":"d1","caseId":"c1","fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"reason","value":{"emptyValue":{}}}],"performedBy":{"customEntity":"billing-system"}}`
	const shortReq = `{"domainId":"` + demoDomain + `","caseId":"` + demoCase + `","fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"priority","value":{"doubleValue":3}}]}`
	tests := []struct {
		name         string
		cfg          Config
		body         string
		wantReq      string
		wantEnvelope string
		wantEventID  string
		wantTime     time.Time
	}{
		{"raw canonical", Config{}, canonical, canonicalReq, "raw", "evt-8842", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{"message domain beats default", Config{DefaultDomainID: "other"}, canonical, canonicalReq, "raw", "evt-8842", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{"raw shorthand, default domain", Config{DefaultDomainID: demoDomain}, shortMsg, shortReq, "raw", "", time.Time{}},
		{"sns", Config{DefaultDomainID: demoDomain}, snsBody(shortMsg), shortReq, "sns", "", time.Time{}},
		{"sns keys in any order", Config{DefaultDomainID: demoDomain}, `{"Message":` + strconv.Quote(shortMsg) + `,"Type":"Notification"}`, shortReq, "sns", "", time.Time{}},
		{"eventbridge", Config{DefaultDomainID: demoDomain}, eventBridge(shortMsg), shortReq, "eventbridge", "", time.Time{}},
		{"eventbridge detail first", Config{DefaultDomainID: demoDomain}, `{"detail":` + shortMsg + `,"detail-type":"x"}`, shortReq, "eventbridge", "", time.Time{}},
		{"performedBy userArn", Config{}, `{"domainId":"d","caseId":"c","fields":{"a":true},"performedBy":{"userArn":"arn:u"}}`,
			`{"domainId":"d","caseId":"c","fields":[{"id":"a","value":{"booleanValue":true}}],"performedBy":{"userArn":"arn:u"}}`, "raw", "", time.Time{}},
		{"userArnValue", Config{}, `{"domainId":"d","caseId":"c","fields":{"owner":{"userArnValue":"arn:o"}}}`,
			`{"domainId":"d","caseId":"c","fields":[{"id":"owner","value":{"userArnValue":"arn:o"}}]}`, "raw", "", time.Time{}},
		{"body exactly at the limit", Config{MaxBodyBytes: len(canonical)}, canonical, canonicalReq, "raw", "evt-8842", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(tt.cfg).Map([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if req := requestJSON(t, got.Input); req != tt.wantReq {
				t.Errorf("request\n got  %s\n want %s", req, tt.wantReq)
			}
			if got.Envelope != tt.wantEnvelope || got.EventID != tt.wantEventID || !got.OccurredAt.Equal(tt.wantTime) {
				t.Errorf("got envelope %q eventID %q time %v, want %q %q %v", got.Envelope, got.EventID, got.OccurredAt, tt.wantEnvelope, tt.wantEventID, tt.wantTime)
			}
		})
	}
}

func TestMapRejects(t *testing.T) {
	big := `{"domainId":"d","caseId":"c","fields":{"s":"` + strings.Repeat("x", 1<<20) + `"}}`
	tests := []struct {
		name    string
		m       *Mapper
		body    string
		wantErr string
	}{
		{"zero Mapper, no domain anywhere", &Mapper{}, shortMsg, "domainId: required: the message has none and no default domain is configured"},
		{"over the default 1 MiB", &Mapper{}, big, "$: body is " + strconv.Itoa(len(big)) + " bytes, over the 1048576-byte limit"},
		{"over a configured limit", New(Config{MaxBodyBytes: 10}), shortMsg, "$: body is " + strconv.Itoa(len(shortMsg)) + " bytes, over the 10-byte limit"},
		{"contract error inside SNS", New(Config{}), snsBody(`{"domainId":"d","caseId":"c","feilds":{"a":1}}`), "feilds: unknown key (allowed here: domainId, caseId, fields, performedBy, version, eventId, occurredAt)"},
		{"contract error inside EventBridge", New(Config{}), eventBridge(`{"domainId":"d","caseId":"c","fields":[{"id":"a","value":{"stringValue":"x","doubleValue":1}}]}`), "fields[0].value: union has both stringValue and doubleValue"},
		{"SNS message is not JSON", New(Config{}), `{"Type":"Notification","Message":"hello"}`, "$: invalid JSON…"},
		{"SNS subscription confirmation", New(Config{}), `{"Type":"SubscriptionConfirmation","Message":"You have chosen…","Token":"t"}`, `Type: SNS message of type "SubscriptionConfirmation" is not a Notification`},
		{"SNS message not a string", New(Config{}), `{"Type":"Notification","Message":{"caseId":"c"}}`, "Message: SNS notification without a string Message"},
		{"EventBridge without detail", New(Config{}), `{"detail-type":"x","source":"y"}`, "detail: EventBridge event without detail"},
		{"EventBridge detail not an object", New(Config{}), `{"detail-type":"x","detail":"{}"}`, "$: message must be a JSON object"},
		{"envelope nested twice is not unwrapped", New(Config{DefaultDomainID: "d"}), eventBridge(snsBody(shortMsg)), "Type: unknown key…"},
		{"contract key makes it raw", New(Config{DefaultDomainID: "d"}), `{"Type":"Notification","Message":` + strconv.Quote(shortMsg) + `,"caseId":"c"}`, "Type: unknown key…"},
		{"bad JSON", New(Config{}), `{"caseId":`, "caseId: invalid JSON…"},
		{"invalid UTF-8 in an envelope", New(Config{}), "{\"Type\":\"Notification\",\"Subject\":\"\xff\",\"Message\":\"{}\"}", "$: invalid JSON: invalid UTF-8…"},
		{"empty body", New(Config{}), ``, "$: invalid JSON…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Map([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted: %s", requestJSON(t, got.Input))
			}
			var rej *RejectionError
			if !errors.As(err, &rej) {
				t.Fatalf("%T is not a *RejectionError: %v", err, err)
			}
			want, prefix := strings.CutSuffix(tt.wantErr, "…")
			want, anywhere := strings.CutPrefix(want, "…")
			switch {
			case anywhere && !strings.Contains(err.Error(), want),
				prefix && !anywhere && !strings.HasPrefix(err.Error(), want),
				!prefix && !anywhere && err.Error() != want:
				t.Fatalf("got  %q\nwant %q", err, tt.wantErr)
			}
		})
	}
}

// TestMapConcurrent shares one Mapper (and its decoder pool) between
// goroutines; run with -race.
func TestMapConcurrent(t *testing.T) {
	m := New(Config{DefaultDomainID: demoDomain})
	bodies := [][]byte{[]byte(benchRaw), []byte(snsBody(shortMsg)), []byte(eventBridge(shortMsg))}
	want := make([]string, len(bodies))
	for i, b := range bodies {
		got, err := m.Map(b)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = requestJSON(t, got.Input)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				k := (g + i) % len(bodies)
				got, err := m.Map(bodies[k])
				if err == nil && requestJSON(t, got.Input) != want[k] {
					err = errors.New("different request under concurrency")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestExamples holds the shipped samples to the fate their names promise:
// ok-*, notfound-* and rejected-by-service-* pass the mapper (the service
// answers the last two), invalid-* do not.
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/messages/*.json")
	if err != nil || len(paths) < 10 {
		t.Fatalf("samples: %v %v", paths, err)
	}
	m := New(Config{})
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Map(body)
			if wantReject := strings.HasPrefix(name, "invalid-"); wantReject != (err != nil) {
				t.Fatalf("rejected=%v, want %v (err: %v)", err != nil, wantReject, err)
			}
		})
	}
}

// TestContractCorpus runs the contract's corpus (every rule, valid and
// invalid; contract/testdata/corpus) through Map, raw and in both
// envelopes: the envelope must never change the verdict.
func TestContractCorpus(t *testing.T) {
	m := New(Config{DefaultDomainID: demoDomain})
	for _, dir := range []string{"valid", "invalid"} {
		paths, err := filepath.Glob(filepath.Join("..", "..", "contract", "testdata", "corpus", dir, "*.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no corpus in %s: %v", dir, err)
		}
		for _, p := range paths {
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bodies := map[string]string{"raw": string(body), "sns": snsBody(string(body))}
			if json.Valid(body) {
				bodies["eventbridge"] = eventBridge(string(body))
			}
			for env, b := range bodies {
				t.Run(dir+"/"+filepath.Base(p)+"/"+env, func(t *testing.T) {
					got, err := m.Map([]byte(b))
					if accepted := err == nil; accepted != (dir == "valid") {
						t.Fatalf("accepted=%v, want %v (err: %v)", accepted, dir == "valid", err)
					}
					if err == nil && got.Envelope != env {
						t.Fatalf("envelope %q, want %q", got.Envelope, env)
					}
				})
			}
		}
	}
}
