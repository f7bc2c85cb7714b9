package publish

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/mapper"
)

const caseID = "7a1d6c3e-0000-4000-8000-000000000001"

func TestBuilderBuildsCanonicalMessage(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	m, err := Update(caseID).Domain("3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01").
		Set("status", "closed").Set("priority", 3).Set("escalated", true).Clear("reason").
		Set("owner", UserArnValue("arn:aws:connect:us-east-1:1:instance/i/agent/a")).
		By(CustomEntity("billing")).EventID("evt-1").OccurredAt(at).Message()
	if err != nil {
		t.Fatal(err)
	}
	body, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"domainId":"3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01","caseId":"7a1d6c3e-0000-4000-8000-000000000001",` +
		`"fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"priority","value":{"doubleValue":3}},` +
		`{"id":"escalated","value":{"booleanValue":true}},{"id":"reason","value":{"emptyValue":{}}},` +
		`{"id":"owner","value":{"userArnValue":"arn:aws:connect:us-east-1:1:instance/i/agent/a"}}],` +
		`"performedBy":{"customEntity":"billing"},"eventId":"evt-1","occurredAt":"2026-11-25T09:00:00Z"}`
	if string(body) != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
}

func TestBuilderSetTypes(t *testing.T) {
	tests := []struct {
		name    string
		v       any
		want    string // JSON of the value union, or "" when an error is expected
		wantErr string
	}{
		{"string", "x", `{"stringValue":"x"}`, ""},
		{"empty string", "", `{"stringValue":""}`, ""},
		{"int", 42, `{"doubleValue":42}`, ""},
		{"uint8", uint8(7), `{"doubleValue":7}`, ""},
		{"float", 2.5, `{"doubleValue":2.5}`, ""},
		{"bool false", false, `{"booleanValue":false}`, ""},
		{"nil clears", nil, `{"emptyValue":{}}`, ""},
		{"json.Number", json.Number("1e3"), `{"doubleValue":1000}`, ""},
		{"2^53 ok", int64(1 << 53), `{"doubleValue":9007199254740992}`, ""},
		{"2^53+1 refused", int64(1<<53 + 1), "", "cannot be held exactly"},
		{"struct refused", struct{}{}, "", "unsupported Go type struct {}"},
		{"NaN refused by contract", math.NaN(), "", "fields[0].value.doubleValue: must be a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Update(caseID).Set("f", tt.v).Message()
			if tt.wantErr != "" {
				var rej *RejectionError
				if !errors.As(err, &rej) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want rejection containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(m.Fields[0].Value)
			if string(got) != tt.want {
				t.Errorf("value = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBuilderMessageIsASnapshot(t *testing.T) {
	b := Update(caseID).Set("a", 1)
	m, err := b.Message()
	if err != nil {
		t.Fatal(err)
	}
	b.Set("b", 2)
	if len(m.Fields) != 1 {
		t.Errorf("a later Set changed an earlier message: %d fields", len(m.Fields))
	}
}

func TestInferValue(t *testing.T) {
	tests := map[string]string{
		"closed": `{"stringValue":"closed"}`,
		"3":      `{"doubleValue":3}`,
		"-2.5e1": `{"doubleValue":-25}`,
		"true":   `{"booleanValue":true}`,
		"false":  `{"booleanValue":false}`,
		"null":   `{"emptyValue":{}}`,
		"Inf":    `{"stringValue":"Inf"}`,
		"0x10":   `{"stringValue":"0x10"}`,
		"1_000":  `{"stringValue":"1_000"}`,
		"007":    `{"stringValue":"007"}`, // not a JSON number
		" 3":     `{"stringValue":" 3"}`,
		"1e999":  `{"stringValue":"1e999"}`,
		"":       `{"stringValue":""}`,
		"True":   `{"stringValue":"True"}`,
	}
	for in, want := range tests {
		got, _ := json.Marshal(InferValue(in))
		if string(got) != want {
			t.Errorf("InferValue(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestPublisherAndMapperShareTheRules is the acceptance test: what the
// publisher builds the mapper accepts, and what the publisher refuses the
// mapper rejects with the same path and rule, because both run
// contract.Message.Validate.
func TestPublisherAndMapperShareTheRules(t *testing.T) {
	mp := mapper.New(mapper.Config{DefaultDomainID: "3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01"})

	t.Run("accepted", func(t *testing.T) {
		m, err := Update(caseID).Set("status", "closed").Set("priority", 3).Clear("reason").
			By(CustomEntity("billing")).EventID("evt-9").Message()
		if err != nil {
			t.Fatal(err)
		}
		body, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mp.Map(body)
		if err != nil {
			t.Fatalf("mapper rejected a published message: %v", err)
		}
		in := got.Input
		if *in.CaseId != caseID || len(in.Fields) != 3 || got.EventID != "evt-9" {
			t.Fatalf("mapped = %+v", in)
		}
		if v, ok := in.Fields[1].Value.(*types.FieldValueUnionMemberDoubleValue); !ok || v.Value != 3 {
			t.Errorf("priority = %#v", in.Fields[1].Value)
		}
		if _, ok := in.Fields[2].Value.(*types.FieldValueUnionMemberEmptyValue); !ok {
			t.Errorf("reason = %#v", in.Fields[2].Value)
		}
		if p, ok := in.PerformedBy.(*types.UserUnionMemberCustomEntity); !ok || p.Value != "billing" {
			t.Errorf("performedBy = %#v", in.PerformedBy)
		}
	})

	long := strings.Repeat("é", contract.MaxStringValueLength+1)
	refused := []struct {
		name string
		b    *Builder
	}{
		{"no case id", Update("").Set("status", "closed")},
		{"no fields", Update(caseID)},
		{"duplicate field", Update(caseID).Set("status", "open").Set("status", "closed")},
		{"empty field id", Update(caseID).Set("", "x")},
		{"string too long", Update(caseID).Set("summary", long)},
		{"bad custom entity", Update(caseID).Set("status", "open").By(CustomEntity("billing!"))},
		{"both performers", Update(caseID).Set("status", "open").By(&PerformedBy{UserArn: "arn:x", CustomEntity: "y"})},
		{"event id too long", Update(caseID).Set("status", "open").EventID(strings.Repeat("e", 129))},
		{"two union members", Update(caseID).Set("status", Value{String: ptr("a"), Double: ptr(1.0)})},
		{"version 2", func() *Builder { b := Update(caseID).Set("status", "open"); b.msg.Version = "2"; return b }()},
		{"bad occurredAt", func() *Builder { b := Update(caseID).Set("status", "open"); b.msg.OccurredAt = "yesterday"; return b }()},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, pubErr := tt.b.Message()
			var pubRej *RejectionError
			if !errors.As(pubErr, &pubRej) {
				t.Fatalf("publisher accepted it (err = %v)", pubErr)
			}
			// Send the very message the publisher refused, bypassing it, as a
			// publisher in another language might.
			raw := tt.b.msg
			if raw.Fields == nil {
				raw.Fields = []contract.Field{}
			}
			body, err := json.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			_, mapErr := mp.Map(body)
			var mapRej *RejectionError
			if !errors.As(mapErr, &mapRej) {
				t.Fatalf("mapper accepted what the publisher refused (%v)", pubErr)
			}
			if *mapRej != *pubRej {
				t.Errorf("reasons differ:\npublisher: %v\n   mapper: %v", pubRej, mapRej)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
