package rules_test

import (
	"context"
	"testing"
)

// benchEvent is an EventBridge billing event of realistic size; compare
// BenchmarkMap here with internal/mapper's BenchmarkMap (a contract v1
// message): the budget is at most 2× per event.
const benchEvent = `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Invoice Paid",
"source":"billing","account":"111122223333","time":"2026-12-01T18:43:48Z","region":"us-east-1","resources":[],
"detail":{"orderNumber":8842,"amount":99.5,"currency":"EUR","customer":{"id":"c-77","tier":"gold"}}}`

func BenchmarkMap(b *testing.B) {
	s := compile(b, testRules)
	for _, tc := range []struct{ name, event string }{
		{"lookup-first-rule", benchEvent},
		{"caseid-second-rule", `{"crm":{"kind":"change","caseRef":"7a1d6c3e-0000-4000-8000-000000000001","subject":"printer on fire","prio":2}}`},
	} {
		body := []byte(tc.event)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := s.Map(context.Background(), body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		compile(b, testRules)
	}
}
