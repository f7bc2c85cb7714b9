// Package app assembles the consumer core from configuration, the same way for
// the worker and the Lambda, so the two binaries cannot drift apart.
package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/catalog"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/lookup"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/quota"
	"github.com/casebridge/casebridge/internal/rules"
)

// Repeated access denials open the circuit, which pauses polling for the cooldown.
const (
	circuitThreshold = 5
	circuitCooldown  = 30 * time.Second
)

// Parts are what a transport needs besides the core.
type Parts struct {
	Core    *consumer.Core
	Limiter *quota.Limiter // shared by every message of the process
	Circuit *quota.Circuit
}

// Options says how the binary wants its parts.
type Options struct {
	// EagerCatalog loads the field catalog's default domain now (the worker);
	// false loads domains when first seen (the Lambda: no network calls at init).
	EagerCatalog bool
	Metrics      consumer.Metrics
	Logger       *zap.Logger
	// TracerProvider makes the core's spans; nil → none.
	TracerProvider trace.TracerProvider
	// LookupObserver hears the case lookups' cache hits and SearchCases
	// calls (the binary's metrics); nil → none.
	LookupObserver lookup.Observer
	// RulesDir is where a relative CASEBRIDGE_RULES path starts: the
	// Lambda's task root (its package); "" is the working directory.
	RulesDir string
}

// LoadRules reads and compiles the rules file cfg names (nil, nil when it
// names none). A file that does not compile is a *rules.CompileError
// naming the rule and the position, so the process stops saying where.
func LoadRules(cfg config.Config, dir string) (*rules.Set, error) {
	if cfg.Rules == "" {
		return nil, nil
	}
	path := cfg.Rules
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	data, err := readLimited(path, rules.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("CASEBRIDGE_RULES=%s: %w", cfg.Rules, err)
	}
	set, err := rules.Compile(data)
	if err != nil {
		return nil, fmt.Errorf("CASEBRIDGE_RULES=%s: %w", cfg.Rules, err)
	}
	return set, nil
}

// readLimited reads at most limit+1 bytes: enough for Compile to refuse a
// file that is too large, without reading all of it.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

// Build assembles the core. The catalog's refresh loop runs until ctx ends.
func Build(ctx context.Context, cfg config.Config, cl clients.Clients, o Options) (Parts, error) {
	// The worker and the Lambda start the same, politely (the limiter's slow
	// start): a fresh Lambda environment that started unlimited met a quota
	// of 1 call/s with 55 throttled calls for its first 10 records.
	set, err := LoadRules(cfg, o.RulesDir)
	if err != nil {
		return Parts{}, err
	}
	p := Parts{
		Limiter: quota.NewLimiter(quota.LimiterConfig{Ceiling: cfg.RateLimit}),
		Circuit: quota.NewCircuit(circuitThreshold, circuitCooldown),
	}
	var resolver consumer.Resolver
	if cfg.FieldCatalog {
		var domains []string
		if cfg.DomainID != "" {
			domains = []string{cfg.DomainID}
		}
		cat := catalog.New(cl.Cases, catalog.Options{Domains: domains, Refresh: cfg.FieldCatalogRefresh, Logger: o.Logger})
		if o.EagerCatalog {
			if err := cat.Load(ctx); err != nil {
				return Parts{}, err
			}
		}
		go cat.Run(ctx)
		resolver = cat
	}
	var finder consumer.CaseFinder
	if set != nil {
		// Built whether or not a rule looks cases up: it costs nothing
		// until one does.
		finder = lookup.New(cl.Cases, lookup.Options{TTL: cfg.LookupTTL, MissTTL: cfg.LookupMissTTL,
			Share: cfg.LookupRateLimit, Observer: o.LookupObserver, Logger: o.Logger})
	}
	policy, err := consumer.ParsePerformedBy(cfg.PerformedByAllow, !cfg.PerformedByUserArn, cfg.PerformedByDefault)
	if err != nil {
		return Parts{}, fmt.Errorf("CASEBRIDGE_PERFORMED_BY_*: %w", err)
	}
	core, err := consumer.New(consumer.Options{
		PerformedBy: policy,
		Cases:       cl.Cases, DLQ: cl.SQS, DLQURL: cfg.DLQURL,
		Resolver:    resolver,
		Mapper:      mapper.New(mapper.Config{DefaultDomainID: cfg.DomainID, MaxBodyBytes: cfg.MaxBodyBytes, Rules: set}),
		Finder:      finder,
		Limiter:     p.Limiter,
		Circuit:     p.Circuit,
		Metrics:     o.Metrics,
		Logger:      o.Logger,
		MaxReceives: cfg.MaxReceives,
		Coalesce:    cfg.Coalesce,

		TracerProvider: o.TracerProvider,
	})
	if err != nil {
		return Parts{}, err
	}
	p.Core = core
	return p, nil
}
