package config

import (
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxInFlight != 64 || c.MaxReceives != 8 || c.MaxHold != 10*time.Minute || c.ShutdownGrace != 25*time.Second ||
		c.HTTPAddr != ":8080" || c.LogLevel != zapcore.InfoLevel || c.RateLimit != 0 || c.MaxBodyBytes != 1<<20 || c.MaxConcurrency != 10 ||
		c.Rules != "" || c.LookupTTL != 5*time.Minute || c.LookupMissTTL != 30*time.Second {
		t.Errorf("defaults %+v differ from the documented ones", c)
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"durations", map[string]string{"CASEBRIDGE_MAX_HOLD": "90s", "CASEBRIDGE_SHUTDOWN_GRACE": "5s"},
			func(c Config) bool { return c.MaxHold == 90*time.Second && c.ShutdownGrace == 5*time.Second }, ""},
		{"rate", map[string]string{"CASEBRIDGE_RATE_LIMIT": "2.5"}, func(c Config) bool { return c.RateLimit == 2.5 }, ""},
		{"rate zero means none", map[string]string{"CASEBRIDGE_RATE_LIMIT": "0"}, func(c Config) bool { return c.RateLimit == 0 }, ""},
		{"level", map[string]string{"CASEBRIDGE_LOG_LEVEL": "debug"}, func(c Config) bool { return c.LogLevel == zapcore.DebugLevel }, ""},
		{"catalog", map[string]string{"CASEBRIDGE_FIELD_CATALOG": "on"}, func(c Config) bool { return c.FieldCatalog }, ""},
		{"strings", map[string]string{"CASEBRIDGE_QUEUE_URL": "q", "CASEBRIDGE_DLQ_URL": "d", "CASEBRIDGE_DOMAIN_ID": "dom"},
			func(c Config) bool { return c.QueueURL == "q" && c.DLQURL == "d" && c.DomainID == "dom" }, ""},
		{"rules and lookup cache", map[string]string{"CASEBRIDGE_RULES": "rules.json", "CASEBRIDGE_LOOKUP_TTL": "1m", "CASEBRIDGE_LOOKUP_MISS_TTL": "5s"},
			func(c Config) bool {
				return c.Rules == "rules.json" && c.LookupTTL == time.Minute && c.LookupMissTTL == 5*time.Second
			}, ""},
		{"lookup share", map[string]string{"CASEBRIDGE_LOOKUP_RATE_LIMIT": "0.6"}, func(c Config) bool { return c.LookupRateLimit == 0.6 }, ""},
		{"bad lookup share", map[string]string{"CASEBRIDGE_LOOKUP_RATE_LIMIT": "-1"}, nil, "CASEBRIDGE_LOOKUP_RATE_LIMIT"},
		{"bad lookup TTL", map[string]string{"CASEBRIDGE_LOOKUP_MISS_TTL": "0s"}, nil, "CASEBRIDGE_LOOKUP_MISS_TTL"},
		{"bad duration names the variable", map[string]string{"CASEBRIDGE_MAX_HOLD": "10"}, nil, "CASEBRIDGE_MAX_HOLD"},
		{"negative in-flight", map[string]string{"CASEBRIDGE_MAX_IN_FLIGHT": "-1"}, nil, "CASEBRIDGE_MAX_IN_FLIGHT"},
		{"bad rate", map[string]string{"CASEBRIDGE_RATE_LIMIT": "fast"}, nil, "CASEBRIDGE_RATE_LIMIT"},
		{"bad level", map[string]string{"CASEBRIDGE_LOG_LEVEL": "loud"}, nil, "CASEBRIDGE_LOG_LEVEL"},
		{"bad on/off", map[string]string{"CASEBRIDGE_FIELD_CATALOG": "maybe"}, nil, "CASEBRIDGE_FIELD_CATALOG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("FromEnv = %+v, %v", c, err)
			}
		})
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"CASEBRIDGE_MAX_IN_FLIGHT": "10", "CASEBRIDGE_QUEUE_URL": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--max-in-flight", "3"}); err != nil {
		t.Fatal(err)
	}
	if c.MaxInFlight != 3 || c.QueueURL != "from-env" {
		t.Errorf("got %d %q: flags must override env, env must stay where no flag is given", c.MaxInFlight, c.QueueURL)
	}
}

func TestValidate(t *testing.T) {
	c := Defaults()
	if err := c.Validate(true); err == nil || !strings.Contains(err.Error(), "CASEBRIDGE_QUEUE_URL") {
		t.Errorf("missing queue: %v", err)
	}
	c.QueueURL = "q"
	if err := c.Validate(true); err == nil || !strings.Contains(err.Error(), "CASEBRIDGE_DLQ_URL") {
		t.Errorf("missing DLQ: %v", err)
	}
	c.DLQURL = "d"
	if err := c.Validate(true); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
	if err := (Config{DLQURL: "d", MaxHold: time.Minute}).Validate(false); err != nil {
		t.Errorf("the Lambda needs no queue URL: %v", err)
	}
}
