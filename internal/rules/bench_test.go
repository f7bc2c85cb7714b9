package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/mapper"
)

// benchEvent is an EventBridge billing event of realistic size; compare
// BenchmarkMap here with internal/mapper's BenchmarkMap (a contract v1
// message): the budget is at most 2× per event.
const benchEvent = `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Invoice Paid",
"source":"billing","account":"111122223333","time":"2026-12-01T18:43:48Z","region":"us-east-1","resources":[],
"detail":{"orderNumber":8842,"amount":99.5,"currency":"EUR","customer":{"id":"c-77","tier":"gold"}}}`

// benchV1 is internal/mapper's benchRaw: the typical contract v1 message
// its BenchmarkMap/raw decodes and maps.
const benchV1 = `{"domainId":"3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01","caseId":"7a1d6c3e-0000-4000-8000-000000000001",` +
	`"fields":[{"id":"status","value":{"stringValue":"closed"}},{"id":"title","value":{"stringValue":"Refund issued"}},` +
	`{"id":"priority","value":{"doubleValue":3}},{"id":"escalated","value":{"booleanValue":true}},{"id":"reason","value":{"emptyValue":{}}}],` +
	`"performedBy":{"customEntity":"billing-system"},"eventId":"evt-8842","occurredAt":"2026-11-25T09:00:00Z"}`

var benchEvents = []struct{ name, event string }{
	{"lookup-first-rule", benchEvent},
	{"caseid-second-rule", `{"crm":{"kind":"change","caseRef":"7a1d6c3e-0000-4000-8000-000000000001","subject":"printer on fire","prio":2}}`},
}

func BenchmarkMap(b *testing.B) {
	s := compile(b, testRules)
	for _, tc := range benchEvents {
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

// BenchmarkMapVsContractV1 measures the budget in one run: it
// alternates bursts of four calls of Map on an event and of the contract v1
// mapper on benchV1, so the load of a shared machine falls on both alike,
// and reports each one's time per event and their ratio (x-v1, at most 2).
// The mapevent- cases time the consumer's whole mapping instead
// (mapper.MapEvent with the rules: envelope detection, then the rules),
// and mapevent-contract-v1 what the rules add to a contract v1 message
// (every condition is false, then contract v1 maps it).
func BenchmarkMapVsContractV1(b *testing.B) {
	s := compile(b, testRules)
	v1 := mapper.New(mapper.Config{})
	withRules := mapper.New(mapper.Config{Rules: s, DefaultDomainID: "dom-default"})
	v1Body := []byte(benchV1)
	ctx, cancel := context.WithCancel(context.Background()) // as the consumer's: cancellable
	defer cancel()
	v1Map := func() error { _, err := v1.Map(v1Body); return err }
	for _, tc := range benchEvents {
		body := []byte(tc.event)
		b.Run(tc.name, func(b *testing.B) {
			alternate(b, v1Map, func() error { _, err := s.Map(ctx, body); return err })
		})
	}
	for _, tc := range append(benchEvents, struct{ name, event string }{"contract-v1", benchV1}) {
		body := []byte(tc.event)
		b.Run("mapevent-"+tc.name, func(b *testing.B) {
			alternate(b, v1Map, func() error { _, err := withRules.MapEvent(ctx, body); return err })
		})
	}
}

// alternate runs v1 and rules in turns of four calls each, timing each
// side, and reports their times per call and the ratio.
func alternate(b *testing.B, v1, rules func() error) {
	const burst = 4
	var rulesTime, v1Time time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		for range burst {
			if err := v1(); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range burst {
			if err := rules(); err != nil {
				b.Fatal(err)
			}
		}
		v1Time += mid.Sub(start)
		rulesTime += time.Since(mid)
		n += burst
	}
	b.ReportMetric(float64(rulesTime.Nanoseconds())/float64(n), "rules-ns/event")
	b.ReportMetric(float64(v1Time.Nanoseconds())/float64(n), "v1-ns/msg")
	b.ReportMetric(float64(rulesTime)/float64(v1Time), "x-v1")
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		compile(b, testRules)
	}
}
