package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
)

func step(s string) { fmt.Fprintf(os.Stderr, "==> %s\n", s) }

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// describe prints a case's fields sorted by id, e.g. `priority=3 status="closed"`.
func describe(fields map[string]types.FieldValueUnion) string {
	ids := make([]string, 0, len(fields))
	for id := range fields {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, id+"="+valueString(fields[id]))
	}
	return strings.Join(parts, " ")
}

func valueString(v types.FieldValueUnion) string {
	switch v := v.(type) {
	case *types.FieldValueUnionMemberStringValue:
		return fmt.Sprintf("%q", v.Value)
	case *types.FieldValueUnionMemberDoubleValue:
		return fmt.Sprint(v.Value)
	case *types.FieldValueUnionMemberBooleanValue:
		return fmt.Sprint(v.Value)
	case *types.FieldValueUnionMemberUserArnValue:
		return v.Value
	case *types.FieldValueUnionMemberEmptyValue:
		return "(empty)"
	default:
		return "?"
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
