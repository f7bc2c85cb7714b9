package main

import (
	"context"
	"testing"

	"github.com/casebridge/casebridge/internal/tracing"
)

func TestTracingFollowsTheStandardVariables(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
	}
	for _, tc := range tests {
		getenv := func(k string) string { return tc.env[k] }
		if got := tracing.Enabled(getenv); got != tc.want {
			t.Errorf("%v: tracing %v, want %v", tc.env, got, tc.want)
		}
		tp, shutdown, err := setupTracing(context.Background(), getenv)
		if err != nil {
			t.Fatal(err)
		}
		if (tp != nil) != tc.want {
			t.Errorf("%v: provider %v", tc.env, tp)
		}
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}
