package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/contract"
)

// TestResolveRule: a rule's numbers and booleans become the strings Text
// and SingleSelect fields take, where Resolve (contract v1) refuses them;
// everything Resolve checks is still checked.
func TestResolveRule(t *testing.T) {
	s := startSim(t)
	c := New(s.client, Options{Domains: []string{dom}})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		in       types.FieldValue
		want     types.FieldValueUnion // nil: rejected by ResolveRule
		strictOK bool                  // Resolve accepts it too
	}{
		{"integer to Text", fv("Title", num(8842)), str("8842"), false},
		{"fraction to Text", fv("Title", num(12.5)), str("12.5"), false},
		{"boolean to Text", fv("Title", boolean(true)), str("true"), false},
		{"string to Number", fv("Priority", str("42")), num(42), true},
		{"number to an option", fv("Free", num(3)), str("3"), false},
		{"boolean not an option", fv("Status", boolean(true)), nil, false},
		{"string not a number", fv("Priority", str("forty")), nil, false},
		{"number to Boolean", fv("Escalated", num(1)), nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.ResolveRule(context.Background(), input(tt.in))
			if tt.want == nil {
				var rej *contract.RejectionError
				if !errors.As(err, &rej) {
					t.Fatalf("err = %v, want a rejection", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := member(out.Fields[0].Value)+":"+show(out.Fields[0].Value), member(tt.want)+":"+show(tt.want); got != want {
					t.Errorf("value = %s, want %s", got, want)
				}
			}
			if _, err := c.Resolve(context.Background(), input(tt.in)); (err == nil) != tt.strictOK {
				t.Errorf("Resolve (contract v1): err %v, want accepted %v", err, tt.strictOK)
			}
		})
	}
}
