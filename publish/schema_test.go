package publish

import (
	"bytes"
	"testing"

	"github.com/casebridge/casebridge/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestPublishedBodiesMatchTheSchema checks that what the Go publisher sends
// and what docs/publishing.md shows non-Go publishers both pass the JSON Schema.
func TestPublishedBodiesMatchTheSchema(t *testing.T) {
	sch, err := schema.Compile()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Update(caseID).Domain("3f7c6a2e-0d4b-4c1e-9a55-2b8f1e6d7c01").Set("status", "closed").Set("priority", 3).
		Clear("reason").Set("owner", UserArnValue("arn:aws:connect:us-east-1:1:instance/i/agent/a")).
		By(CustomEntity("billing")).EventID("evt-8842").Message()
	if err != nil {
		t.Fatal(err)
	}
	built, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	docsExample := []byte(`{"caseId":"` + caseID + `","fields":{"status":"closed","priority":3,"reason":null},` +
		`"performedBy":{"customEntity":"billing"},"eventId":"evt-8842"}`)
	for name, body := range map[string][]byte{"built": built, "docs example": docsExample} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: schema rejects %s: %v", name, body, err)
		}
	}
}
