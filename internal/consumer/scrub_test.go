package consumer

import (
	"github.com/casebridge/casebridge/contract"

	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

func TestRedact(t *testing.T) {
	tests := []struct{ msg, value, want string }{
		{`"reopened" is not an option for field status`, "reopened", `"<value>" is not an option for field status`},
		{`value a is bad; a again`, "a", `value <value> is bad; <value> again`},
		{`status has no option named reopen`, "open", `status has no option named reopen`},
		{`x`, "", `x`},
		{`Jane Doe, Jane Doe`, "Jane Doe", `<value>, <value>`},
	}
	for _, tc := range tests {
		if got := redact(tc.msg, tc.value); got != tc.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tc.msg, tc.value, got, tc.want)
		}
	}
}

// TestServiceMessagesLoseFieldValues: a service message quoting the rejected
// value reaches neither the DLQ reason nor the outcome's error text.
func TestServiceMessagesLoseFieldValues(t *testing.T) {
	const secret = "Jane Q. Customer 555-0100"
	quoting := &types.ValidationException{Message: aws.String(`"` + secret + `" is not a valid value for field summary`)}
	dlq := &fakeDLQ{}
	core := newTestCore(t, &fakeCases{script: []error{quoting}}, dlq, "u")
	body := `{"domainId":"d","caseId":"c","fields":{"summary":"` + secret + `"}}`
	out := core.Handle(context.Background(), Message{ID: "m", Body: body})
	if out.Kind != DeadLettered || len(dlq.sent) != 1 {
		t.Fatalf("outcome %v, %d sends", out.Kind, len(dlq.sent))
	}
	var r contract.DeadLetterRecord
	_ = json.Unmarshal([]byte(aws.ToString(dlq.sent[0].MessageAttributes[contract.ErrorAttribute].StringValue)), &r)
	if strings.Contains(r.Message, secret) || strings.Contains(errorText(out.Err), secret) {
		t.Errorf("field value leaked: reason %q, error %q", r.Message, errorText(out.Err))
	}
	if !strings.Contains(r.Message, "is not a valid value for field summary") {
		t.Errorf("reason lost the service's explanation: %q", r.Message)
	}
	if aws.ToString(dlq.sent[0].MessageBody) != body {
		t.Error("the DLQ body must still be the original, byte for byte")
	}
}
