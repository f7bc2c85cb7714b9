package reliability

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// updateCorpus rewrites testdata/hostile from the table below:
// go test -run TestCorpusUpToDate -update-corpus ./internal/reliability/
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/hostile from hostileCases")

// corpusMaxBody is the body limit every hostile-input test configures: below
// SQS's own limit, so an oversize body can still travel through SQS.
const corpusMaxBody = 64 << 10

// hostile is one corpus entry: a body and the words its rejection must contain.
type hostile struct {
	File string `json:"file"`
	Want string `json:"want"` // substring of the rejection text: names the problem
	// SQS is false for bodies SQS refuses to carry (raw NUL, invalid UTF-8,
	// other characters outside SQS's allowed set); those are tested through the
	// decoder, the check command and the Lambda handler only.
	SQS  bool `json:"sqs"`
	body []byte
}

const c1 = "7a1d6c3e-0000-4000-8000-000000000001"

func raw(fields string) string { return fmt.Sprintf(`{"caseId":%q,"fields":%s}`, c1, fields) }

func canon(value string) string { return raw(`[{"id":"reason","value":` + value + `}]`) }

// hostileCases is the corpus. Each entry is one kind of attack or mistake.
func hostileCases() []hostile {
	long := func(n int) string { return strings.Repeat("x", n) }
	var fields221 strings.Builder
	var short221 strings.Builder
	for i := range 221 {
		if i > 0 {
			fields221.WriteByte(',')
			short221.WriteByte(',')
		}
		fmt.Fprintf(&fields221, `{"id":"f%d","value":{"stringValue":"v"}}`, i)
		fmt.Fprintf(&short221, `"f%d":"v"`, i)
	}
	deep := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	sns := func(message string) string {
		return `{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":` + message + `}`
	}
	eb := func(detail string) string {
		return `{"version":"0","id":"e-1","detail-type":"CaseUpdate","source":"billing","detail":` + detail + `}`
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	oversize := raw(`{"summary":` + q(long(70000)) + `}`)

	cs := []struct {
		name, body, want string
		noSQS            bool
	}{
		{"empty", "", "unexpected end of input", true},
		{"whitespace-only", " \n\t ", "unexpected end of input", false},
		{"not-json-text", "close case 7a1d please", "invalid JSON", false},
		{"xml", `<update caseId="x"><status>closed</status></update>`, "invalid JSON", false},
		{"json-array", `[{"caseId":"x"}]`, "must be a JSON object", false},
		{"json-string", `"caseId"`, "must be a JSON object", false},
		{"json-number", `42`, "must be a JSON object", false},
		{"json-null", `null`, "must be a JSON object", false},
		{"truncated", `{"caseId":"` + c1 + `","fields":{"status":"closed"`, "unexpected", false},
		{"trailing-data", raw(`{"status":"closed"}`) + `{"caseId":"x"}`, "after the", false},
		{"trailing-comma", `{"caseId":"` + c1 + `","fields":{"status":"closed"},}`, "invalid JSON", false},
		{"single-quotes", `{'caseId':'x','fields':{}}`, "invalid JSON", false},
		{"bom-prefix", "\ufeff" + raw(`{"status":"closed"}`), "invalid JSON", false},
		{"nesting-10000-array", deep("[", "]", 10000), "must be a JSON object", false},
		{"nesting-10000-in-value", raw(`{"reason":` + deep("[", "]", 10000) + `}`), "fields.reason", false},
		{"nesting-10000-objects", raw(`{"reason":` + deep(`{"a":`, `}`, 10000) + `}`), "fields.reason", false},
		{"nesting-10000-in-sns", sns(q(deep("[", "]", 10000))), "must be a JSON object", false},
		{"escaped-nul-in-value", raw(`{"reason":"a\u0000b"}`), "control character", false},
		{"escaped-nul-in-case-id", `{"caseId":"a\u0000b","fields":{"reason":"x"}}`, "caseId", false},
		{"escaped-bell-in-value", raw(`{"reason":"ring\u0007"}`), "control character", false},
		{"escaped-escape-in-value", raw(`{"reason":"\u001b[31mred"}`), "control character", false},
		{"lone-high-surrogate", raw(`{"reason":"\ud800"}`), "surrogate", false},
		{"lone-low-surrogate", raw(`{"reason":"x\udfffy"}`), "surrogate", false},
		{"lone-surrogate-in-key", raw(`{"\ud83d":"x"}`), "surrogate", false},
		{"number-1e400", canon(`{"doubleValue":1e400}`), "float64 range", false},
		{"number-minus-1e400-shorthand", raw(`{"priority":-1e400}`), "float64 range", false},
		{"nan-literal", raw(`{"priority":NaN}`), "invalid JSON", false},
		{"infinity-string", canon(`{"doubleValue":"Infinity"}`), "doubleValue", false},
		{"duplicate-top-level-key", `{"caseId":"` + c1 + `","caseId":"7a1d6c3e-0000-4000-8000-000000000002","fields":{"reason":"x"}}`, "duplicate key", false},
		{"duplicate-shorthand-field", raw(`{"reason":"a","reason":"b"}`), "duplicate", false},
		{"duplicate-canonical-field-id", raw(`[{"id":"reason","value":{"stringValue":"a"}},{"id":"reason","value":{"stringValue":"b"}}]`), "duplicate", false},
		{"duplicate-union-member", canon(`{"stringValue":"a","stringValue":"b"}`), "duplicate key", false},
		{"union-two-members", canon(`{"stringValue":"a","doubleValue":1}`), "both", false},
		{"union-no-member", canon(`{}`), "one of", false},
		{"union-unknown-member", canon(`{"textValue":"a"}`), "unknown key", false},
		{"union-is-array", canon(`["stringValue","a"]`), "fields[0].value", false},
		{"union-is-string", canon(`"a"`), "fields[0].value", false},
		{"empty-value-not-empty", canon(`{"emptyValue":{"stringValue":"x"}}`), "must be {}", false},
		{"empty-value-null", canon(`{"emptyValue":null}`), "not null", false},
		{"string-value-number", canon(`{"stringValue":3}`), "stringValue", false},
		{"boolean-value-string", canon(`{"booleanValue":"true"}`), "booleanValue", false},
		{"string-value-4101", canon(`{"stringValue":` + q(long(4101)) + `}`), "4100", false},
		{"case-id-501", `{"caseId":"` + long(501) + `","fields":{"reason":"x"}}`, "500", false},
		{"domain-id-501", `{"domainId":"` + long(501) + `","caseId":"` + c1 + `","fields":{"reason":"x"}}`, "500", false},
		{"field-id-501", raw(`{"` + long(501) + `":"x"}`), "500", false},
		{"fields-221-canonical", raw(`[` + fields221.String() + `]`), "220", false},
		{"fields-221-shorthand", raw(`{` + short221.String() + `}`), "220", false},
		{"fields-empty-list", raw(`[]`), "fields", false},
		{"fields-empty-object", raw(`{}`), "fields", false},
		{"fields-null", raw(`null`), "fields", false},
		{"field-id-empty", raw(`{"":"x"}`), "empty", false},
		{"missing-case-id", `{"fields":{"reason":"x"}}`, "caseId", false},
		{"empty-case-id", `{"caseId":"","fields":{"reason":"x"}}`, "caseId", false},
		{"case-id-number", `{"caseId":7,"fields":{"reason":"x"}}`, "caseId", false},
		{"unknown-key-typo", `{"caseId":"` + c1 + `","feilds":{"reason":"x"}}`, "unknown key", false},
		{"key-wrong-case", `{"CaseId":"` + c1 + `","fields":{"reason":"x"}}`, "unknown key", false},
		{"proto-pollution-key", `{"__proto__":{"admin":true},"caseId":"` + c1 + `","fields":{"reason":"x"}}`, "unknown key", false},
		{"version-2", `{"version":"2","caseId":"` + c1 + `","fields":{"reason":"x"}}`, "version", false},
		{"event-id-129", `{"eventId":"` + long(129) + `","caseId":"` + c1 + `","fields":{"reason":"x"}}`, "eventId", false},
		{"occurred-at-not-rfc3339", `{"occurredAt":"yesterday","caseId":"` + c1 + `","fields":{"reason":"x"}}`, "occurredAt", false},
		{"performed-by-both", `{"caseId":"` + c1 + `","fields":{"reason":"x"},"performedBy":{"userArn":"arn:aws:connect:us-east-1:1:instance/i/agent/a","customEntity":"x"}}`, "performedBy", false},
		{"performed-by-empty", `{"caseId":"` + c1 + `","fields":{"reason":"x"},"performedBy":{}}`, "performedBy", false},
		{"performed-by-bad-pattern", `{"caseId":"` + c1 + `","fields":{"reason":"x"},"performedBy":{"customEntity":"<script>alert(1)</script>"}}`, "performedBy.customEntity", false},
		{"sns-message-object", sns(raw(`{"reason":"x"}`)), "Message", false},
		{"sns-message-number", sns(`12`), "Message", false},
		{"sns-message-missing", `{"Type":"Notification","MessageId":"m-1"}`, "Message", false},
		{"sns-subscription-confirmation", `{"Type":"SubscriptionConfirmation","Message":"confirm","SubscribeURL":"http://169.254.169.254/"}`, "not a Notification", false},
		{"sns-message-invalid-contract", sns(q(`{"caseId":"` + c1 + `","fields":{"reason":{"stringValue":"a","booleanValue":true}}}`)), "both", false},
		{"sns-double-wrapped", sns(q(sns(q(raw(`{"reason":"x"}`))))), "unknown key", false},
		{"sns-message-not-json", sns(q(`hello`)), "invalid JSON", false},
		{"eventbridge-detail-null", eb(`null`), "must be a JSON object", false},
		{"eventbridge-detail-missing", `{"version":"0","detail-type":"CaseUpdate","source":"billing"}`, "without detail", false},
		{"eventbridge-detail-string", eb(q(raw(`{"reason":"x"}`))), "must be a JSON object", false},
		{"eventbridge-detail-invalid", eb(`{"caseId":"` + c1 + `","fields":{"reason":"x"},"admin":true}`), "unknown key", false},
		{"oversize-body", oversize, "limit", false},
		{"raw-nul-byte", raw(`{"reason":"a` + "\x00" + `b"}`), "invalid", true},
		{"raw-control-char", raw(`{"reason":"a` + "\x01" + `b"}`), "invalid", true},
		{"invalid-utf8", raw(`{"reason":"a` + "\xff\xfe" + `b"}`), "UTF-8", true},
		{"overlong-utf8", raw(`{"reason":"` + "\xc0\xaf" + `"}`), "UTF-8", true},
		{"raw-surrogate-utf8", raw(`{"reason":"` + "\xed\xa0\x80" + `"}`), "UTF-8", true},
	}
	out := make([]hostile, len(cs))
	for i, c := range cs {
		ext := ".json"
		if c.noSQS {
			ext = ".bin"
		}
		out[i] = hostile{File: c.name + ext, Want: c.want, SQS: !c.noSQS, body: []byte(c.body)}
	}
	return out
}

func corpusDir(t testing.TB) string {
	t.Helper()
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "hostile")
}

// loadCorpus reads testdata/hostile as committed (expect.json and the bodies).
func loadCorpus(t testing.TB) []hostile {
	t.Helper()
	dir := corpusDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Files []hostile }
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for i := range idx.Files {
		if idx.Files[i].body, err = os.ReadFile(filepath.Join(dir, idx.Files[i].File)); err != nil {
			t.Fatal(err)
		}
	}
	return idx.Files
}

// TestCorpusUpToDate keeps testdata/hostile equal to hostileCases, so the
// corpus cannot drift from the table that documents it.
func TestCorpusUpToDate(t *testing.T) {
	want := hostileCases()
	dir := corpusDir(t)
	if *updateCorpus {
		idx, _ := json.MarshalIndent(struct {
			Comment string    `json:"comment"`
			Files   []hostile `json:"files"`
		}{"generated by internal/testkit/reliability/corpus_test.go (-update-corpus); want = substring of the rejection", want}, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "expect.json"), append(idx, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, h := range want {
			if err := os.WriteFile(filepath.Join(dir, h.File), h.body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := loadCorpus(t)
	if len(got) != len(want) {
		t.Fatalf("expect.json lists %d files, the table %d: run with -update-corpus", len(got), len(want))
	}
	if len(got) < 50 {
		t.Errorf("corpus has %d files, want at least 50", len(got))
	}
	for i := range want {
		if got[i].File != want[i].File || got[i].Want != want[i].Want || got[i].SQS != want[i].SQS || !bytes.Equal(got[i].body, want[i].body) {
			t.Errorf("%s differs from the table: run with -update-corpus", want[i].File)
		}
	}
}
