// Package app assembles the consumer core from configuration, the same way for
// the worker and the Lambda, so the two binaries cannot drift apart.
package app

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/catalog"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/mapper"
	"github.com/casebridge/casebridge/internal/quota"
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
}

// Build assembles the core. The catalog's refresh loop runs until ctx ends.
func Build(ctx context.Context, cfg config.Config, cl clients.Clients, o Options) (Parts, error) {
	// The worker and the Lambda start the same, politely (the limiter's slow
	// start): a fresh Lambda environment that started unlimited met a quota
	// of 1 call/s with 55 throttled calls for its first 10 records.
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
	policy, err := consumer.ParsePerformedBy(cfg.PerformedByAllow, !cfg.PerformedByUserArn, cfg.PerformedByDefault)
	if err != nil {
		return Parts{}, fmt.Errorf("CASEBRIDGE_PERFORMED_BY_*: %w", err)
	}
	core, err := consumer.New(consumer.Options{
		PerformedBy: policy,
		Cases:       cl.Cases, DLQ: cl.SQS, DLQURL: cfg.DLQURL,
		Resolver:    resolver,
		Mapper:      mapper.New(mapper.Config{DefaultDomainID: cfg.DomainID, MaxBodyBytes: cfg.MaxBodyBytes}),
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
