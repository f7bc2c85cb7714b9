package mapper

import (
	"strconv"
	"testing"
)

// FuzzMap: Map never panics, always answers with a request or a
// *RejectionError, and whatever it accepts re-encodes (in canonical form,
// raw) to a message that maps to the same request.
// Seeds: testdata/fuzz/FuzzMap plus the ones added below.
// Run: go test -run '^$' -fuzz FuzzMap -fuzztime 60s ./internal/mapper/
func FuzzMap(f *testing.F) {
	for _, s := range []string{
		benchRaw, shortMsg, snsBody(shortMsg), eventBridge(shortMsg),
		`{"caseId":"c","fields":{"a":null,"b":-0,"c":1e308,"d":"\u00e9\ud83d\ude9a"}}`,
		`{"caseId":"c","fields":[{"id":"a","value":{"emptyValue":{}}}],"performedBy":{"userArn":"u"}}`,
		`{"Type":"Notification","Message":"{\"caseId\":\"c\",\"fields\":{\"a\":1}}"}`,
	} {
		f.Add([]byte(s))
	}
	m := New(Config{DefaultDomainID: "default-domain"})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := m.Map(body)
		if err != nil {
			if _, ok := err.(*RejectionError); !ok {
				t.Fatalf("error %T is not a *RejectionError: %v", err, err)
			}
			return
		}
		first := requestJSON(t, got.Input)
		again, err := m.Map([]byte(first))
		if err != nil {
			t.Fatalf("accepted %q, but its request %s is rejected: %v", body, first, err)
		}
		if second := requestJSON(t, again.Input); second != first {
			t.Fatalf("round trip changed the request:\n %s\n %s", first, second)
		}
		if got.Envelope != EnvelopeRaw && got.Envelope != EnvelopeSNS && got.Envelope != EnvelopeEventBridge {
			t.Fatalf("envelope %q", got.Envelope)
		}
	})
}

// seedFile renders one seed in the format of testdata/fuzz.
func seedFile(b []byte) string {
	return "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
}
