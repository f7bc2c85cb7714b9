package contract_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/schema"
)

// decoderOnly lists the rules JSON Schema cannot express. Corpus files named
// "decoder-only-*" break one of them: the schema accepts them and the
// decoder must reject them. Anything else must get the same verdict from both.
//
//   - unique field ids in the canonical list (uniqueItems compares whole
//     items, not one property);
//   - no repeated key in a JSON object (validators parse with "last key
//     wins"; this is also what makes shorthand ids unique);
//   - valid UTF-8 and a single JSON value per body (the schema sees parsed
//     data, never bytes; covered by the decoder's own tests);
//   - a stringValue's limit in UTF-8 bytes (the schema's maxLength counts
//     code points, so it is only an upper bound there).
//
// Other lengths agree: the library counts code points, as the decoder does
// (checked below with multi-byte strings at the limits).
const decoderOnlyPrefix = "decoder-only-"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := schema.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

type corpusCase struct {
	name  string
	body  []byte
	valid bool
}

func corpus(t *testing.T) []corpusCase {
	t.Helper()
	var cases []corpusCase
	for _, dir := range []string{"valid", "invalid"} {
		paths, err := filepath.Glob(filepath.Join("testdata", "corpus", dir, "*.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no corpus in %s: %v", dir, err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, corpusCase{dir + "/" + filepath.Base(p), b, dir == "valid"})
		}
	}
	// Length limits with multi-byte characters: bytes and code points differ.
	long := func(n int) string { return strings.Repeat("é", n) }
	msg := func(fields string) []byte {
		return []byte(`{"caseId":"c1","fields":` + fields + `}`)
	}
	return append(cases,
		corpusCase{"gen/string-2050-code-points-4100-bytes", msg(`{"summary":"` + long(2050) + `"}`), true},
		corpusCase{"gen/" + decoderOnlyPrefix + "string-4100-code-points-8200-bytes", msg(`{"summary":"` + long(4100) + `"}`), false},
		corpusCase{"gen/string-4101-code-points", msg(`{"summary":"` + long(4101) + `"}`), false},
		corpusCase{"gen/id-500-code-points", msg(`[{"id":"` + long(500) + `","value":{"booleanValue":true}}]`), true},
		corpusCase{"gen/id-501-code-points", msg(`[{"id":"` + long(501) + `","value":{"booleanValue":true}}]`), false},
		corpusCase{"gen/shorthand-id-501-code-points", msg(`{"` + long(501) + `":true}`), false},
		corpusCase{"gen/event-id-129", []byte(`{"caseId":"c1","fields":{"a":1},"eventId":"` + strings.Repeat("e", 129) + `"}`), false},
		corpusCase{"gen/220-fields", msg(manyFields(220)), true},
		corpusCase{"gen/221-fields", msg(manyFields(221)), false},
	)
}

func manyFields(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i) + `":1`)
	}
	b.WriteString("}")
	return b.String()
}

// TestSchemaAgreesWithDecoder runs every corpus message through the shipped
// JSON Schema and through Decode and checks that they agree.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range corpus(t) {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tc.body))
			schemaOK := err == nil && sch.Validate(doc) == nil
			_, decErr := contract.Decode(tc.body)
			decoderOK := decErr == nil

			if decoderOK != tc.valid {
				t.Errorf("decoder: accepted=%v, want %v (err: %v)", decoderOK, tc.valid, decErr)
			}
			wantSchema := tc.valid
			if strings.Contains(tc.name, decoderOnlyPrefix) {
				wantSchema = true // a rule the schema cannot express; see decoderOnly
			}
			if schemaOK != wantSchema {
				t.Errorf("schema: accepted=%v, want %v (decoder said: %v)", schemaOK, wantSchema, decErr)
			}
		})
	}
}
