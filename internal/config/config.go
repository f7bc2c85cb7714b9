// Package config reads casebridge's settings, the same way for the worker and the
// Lambda: CASEBRIDGE_* environment variables, optionally overridden by flags.
// AWS settings (region, credentials, endpoints) are left to the SDK's own
// conventions (AWS_REGION, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_CONNECTCASES, …).
package config

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Config holds every casebridge setting. Defaults() gives the documented defaults.
type Config struct {
	QueueURL       string        // source queue (worker only; the Lambda takes it from each record)
	DLQURL         string        // where DeadLetter outcomes are sent
	DomainID       string        // default Cases domain for messages without domainId
	MaxInFlight    int           // worker: messages held at once
	Receivers      int           // worker: concurrent long polls; 0 = in-flight ÷ 10, between 2 and 8
	MaxConcurrency int           // Lambda: records handled at once
	MaxReceives    int           // receive count at which RetryLater becomes retries-exhausted
	MaxHold        time.Duration // worker: how long one message may be held in process
	RateLimit      float64       // UpdateCase calls/s ceiling; 0 = none (the adaptive limiter still applies)
	ShutdownGrace  time.Duration // worker: time to finish in-flight work after SIGTERM
	HTTPAddr       string        // worker: /healthz, /readyz, /metrics
	LogLevel       zapcore.Level
	MaxBodyBytes   int  // larger bodies are rejected as invalid-message
	FieldCatalog   bool // opt-in field catalog (ListFields, BatchGetField, ListFieldOptions)
	Coalesce       bool // merge updates for one case that wait for the limiter into one call
	// FieldCatalogRefresh is how often the catalog reloads field definitions.
	FieldCatalogRefresh time.Duration

	// Rules is the mapping rules file ("" = none: contract v1 only). A
	// relative path is taken from the Lambda's task root, or the worker's
	// working directory.
	Rules string
	// LookupTTL and LookupMissTTL are how long a rule's case lookup is
	// remembered when it found one case, and when it found none or several.
	LookupTTL     time.Duration
	LookupMissTTL time.Duration
	// LookupRateLimit is this instance's share of the account's SearchCases
	// quota in calls/s; 0 = the whole quota (2/s, burst 10).
	LookupRateLimit float64

	// The performedBy policy: allowed customEntity values (comma-separated exact
	// values or path.Match patterns, empty = any), whether userArn is allowed, and
	// the claim applied to messages without one.
	PerformedByAllow   string
	PerformedByUserArn bool // true = allowed (the default)
	PerformedByDefault string
}

// The documented defaults that the worker, the core and the Lambda handler
// also give their options' zero values, so a default is written once.
const (
	DefaultMaxInFlight    = 64
	DefaultMaxConcurrency = 10
	DefaultMaxReceives    = 8
	DefaultMaxHold        = 10 * time.Minute
	DefaultShutdownGrace  = 25 * time.Second
	DefaultLookupTTL      = 5 * time.Minute
	DefaultLookupMissTTL  = 30 * time.Second
)

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		MaxInFlight:    DefaultMaxInFlight,
		MaxConcurrency: DefaultMaxConcurrency,
		MaxReceives:    DefaultMaxReceives,
		MaxHold:        DefaultMaxHold,
		ShutdownGrace:  DefaultShutdownGrace,
		HTTPAddr:       ":8080",
		LogLevel:       zapcore.InfoLevel,
		MaxBodyBytes:   1 << 20,

		FieldCatalogRefresh: 5 * time.Minute,
		PerformedByUserArn:  true,
		LookupTTL:           DefaultLookupTTL,
		LookupMissTTL:       DefaultLookupMissTTL,
	}
}

// setting ties one field to its environment variable and flag.
type setting struct {
	env, flag, help string
	value           flag.Value
}

// settings lists every setting once; FromEnv, RegisterFlags and Usage all read it.
func (c *Config) settings() []setting {
	return []setting{
		{"CASEBRIDGE_QUEUE_URL", "queue-url", "source SQS queue URL (worker)", (*stringValue)(&c.QueueURL)},
		{"CASEBRIDGE_DLQ_URL", "dlq-url", "dead-letter queue URL (required)", (*stringValue)(&c.DLQURL)},
		{"CASEBRIDGE_DOMAIN_ID", "domain", "default Cases domain id for messages without domainId", (*stringValue)(&c.DomainID)},
		{"CASEBRIDGE_MAX_IN_FLIGHT", "max-in-flight", "messages held in process at once (worker)", (*positiveInt)(&c.MaxInFlight)},
		{"CASEBRIDGE_RECEIVERS", "receivers", "concurrent long polls (worker); auto = in-flight ÷ 10, between 2 and 8", (*autoInt)(&c.Receivers)},
		{"CASEBRIDGE_MAX_CONCURRENCY", "max-concurrency", "records of one Lambda batch handled at once", (*positiveInt)(&c.MaxConcurrency)},
		{"CASEBRIDGE_MAX_RECEIVES", "max-receives", "receive count at which a retry becomes retries-exhausted", (*positiveInt)(&c.MaxReceives)},
		{"CASEBRIDGE_MAX_HOLD", "max-hold", "longest a message is held in process while retrying (worker)", (*durationValue)(&c.MaxHold)},
		{"CASEBRIDGE_RATE_LIMIT", "rate-limit", "UpdateCase calls/s ceiling, 0 = none", (*rateValue)(&c.RateLimit)},
		{"CASEBRIDGE_SHUTDOWN_GRACE", "shutdown-grace", "time to finish in-flight work after SIGTERM (worker)", (*durationValue)(&c.ShutdownGrace)},
		{"CASEBRIDGE_HTTP_ADDR", "http-addr", "address for /healthz, /readyz, /metrics (worker)", (*stringValue)(&c.HTTPAddr)},
		{"CASEBRIDGE_LOG_LEVEL", "log-level", "debug, info, warn or error", (*levelValue)(&c.LogLevel)},
		{"CASEBRIDGE_MAX_BODY_BYTES", "max-body-bytes", "largest accepted message body", (*positiveInt)(&c.MaxBodyBytes)},
		{"CASEBRIDGE_FIELD_CATALOG", "field-catalog", "on/off: check fields against the domain's definitions before calling the API", (*onOff)(&c.FieldCatalog)},
		{"CASEBRIDGE_PERFORMED_BY_ALLOW", "performed-by-allow", "allowed performedBy.customEntity values, comma-separated, patterns like billing-* (empty = any)", (*stringValue)(&c.PerformedByAllow)},
		{"CASEBRIDGE_PERFORMED_BY_USER_ARN", "performed-by-user-arn", "allow or forbid performedBy.userArn (it needs connect:DescribeUser)", (*allowForbid)(&c.PerformedByUserArn)},
		{"CASEBRIDGE_PERFORMED_BY_DEFAULT", "performed-by-default", "performedBy for messages without one: a customEntity name, or a user ARN (arn:…)", (*stringValue)(&c.PerformedByDefault)},
		{"CASEBRIDGE_COALESCE", "coalesce", "on/off: merge updates for the same case waiting for the rate limit into one UpdateCase call", (*onOff)(&c.Coalesce)},
		{"CASEBRIDGE_FIELD_CATALOG_REFRESH", "field-catalog-refresh", "how often the field catalog reloads", (*durationValue)(&c.FieldCatalogRefresh)},
		{"CASEBRIDGE_RULES", "rules", "mapping rules file for events that are not contract v1 (relative: from LAMBDA_TASK_ROOT in the Lambda)", (*stringValue)(&c.Rules)},
		{"CASEBRIDGE_LOOKUP_TTL", "lookup-ttl", "how long a rule's case lookup that found the case is cached", (*durationValue)(&c.LookupTTL)},
		{"CASEBRIDGE_LOOKUP_MISS_TTL", "lookup-miss-ttl", "how long a case lookup that found no case, or several, is cached", (*durationValue)(&c.LookupMissTTL)},
		{"CASEBRIDGE_LOOKUP_RATE_LIMIT", "lookup-rate-limit", "SearchCases calls/s for this instance's case lookups, paced one at a time; 0 = the account's whole quota (2/s, burst 10)", (*rateValue)(&c.LookupRateLimit)},
	}
}

// FromEnv returns Defaults() overridden by every CASEBRIDGE_* variable getenv knows.
// An invalid value fails with an error naming the variable.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Defaults()
	for _, s := range c.settings() {
		raw := strings.TrimSpace(getenv(s.env))
		if raw == "" {
			continue
		}
		if err := s.value.Set(raw); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", s.env, raw, err)
		}
	}
	return c, nil
}

// RegisterFlags adds a flag per setting to fs; each flag's default is c's current
// value, so call it on the result of FromEnv to let flags override the environment.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, s := range c.settings() {
		fs.Var(s.value, s.flag, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
}

// PrintUsage writes one entry per setting: flag, environment variable, meaning
// and documented default (the flag package hides defaults that equal a type's
// zero value, such as info or 0, so it is not used for this).
func PrintUsage(w io.Writer) {
	d := Defaults()
	for _, s := range d.settings() {
		def := s.value.String()
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s, %s\n        %s (default %s)\n", s.flag, s.env, s.help, def)
	}
}

// Validate checks what every deployment needs; requireQueue is true for the worker.
func (c Config) Validate(requireQueue bool) error {
	if requireQueue && c.QueueURL == "" {
		return fmt.Errorf("CASEBRIDGE_QUEUE_URL (--queue-url) is required")
	}
	if c.DLQURL == "" {
		return fmt.Errorf("CASEBRIDGE_DLQ_URL (--dlq-url) is required: messages that can never succeed must have somewhere to go")
	}
	if c.MaxHold < time.Second {
		return fmt.Errorf("CASEBRIDGE_MAX_HOLD=%s: must be at least 1s", c.MaxHold)
	}
	return nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type positiveInt int

func (v *positiveInt) String() string { return strconv.Itoa(int(*v)) }
func (v *positiveInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a whole number above 0")
	}
	*v = positiveInt(n)
	return nil
}

// autoInt is a positiveInt whose zero means "chosen from other settings".
type autoInt int

func (v *autoInt) String() string {
	if *v == 0 {
		return "auto"
	}
	return strconv.Itoa(int(*v))
}
func (v *autoInt) Set(s string) error { return (*positiveInt)(v).Set(s) }

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive Go duration such as 25s or 10m")
	}
	*v = durationValue(d)
	return nil
}

type rateValue float64

func (v *rateValue) String() string { return strconv.FormatFloat(float64(*v), 'f', -1, 64) }
func (v *rateValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != f || f > 1e9 {
		return fmt.Errorf("want calls per second, 0 or more")
	}
	*v = rateValue(f)
	return nil
}

type levelValue zapcore.Level

func (v *levelValue) String() string { return zapcore.Level(*v).String() }
func (v *levelValue) Set(s string) error {
	l, err := zapcore.ParseLevel(s)
	if err != nil {
		return fmt.Errorf("want debug, info, warn or error")
	}
	*v = levelValue(l)
	return nil
}

type allowForbid bool

func (v *allowForbid) String() string {
	if *v {
		return "allow"
	}
	return "forbid"
}
func (v *allowForbid) Set(s string) error {
	switch strings.ToLower(s) {
	case "allow":
		*v = true
	case "forbid":
		*v = false
	default:
		return fmt.Errorf("want allow or forbid")
	}
	return nil
}

type onOff bool

func (v *onOff) String() string {
	if *v {
		return "on"
	}
	return "off"
}
func (v *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "1", "yes":
		*v = true
	case "off", "false", "0", "no":
		*v = false
	default:
		return fmt.Errorf("want on or off")
	}
	return nil
}
