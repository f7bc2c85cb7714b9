package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/clients"
	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/healthcheck"
	"github.com/casebridge/casebridge/internal/logging"
	"github.com/casebridge/casebridge/internal/worker"
)

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: worker run [flags]\n\nEvery flag can be set by the environment variable named in its help; flags win over the environment.\nAWS settings follow the SDK: AWS_REGION, the credential chain, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_CONNECTCASES.\n\n")
		config.PrintUsage(fs.Output())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.Validate(true); err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 2
	}
	log, err := logging.New(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 2
	}
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("worker failed", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	cl, err := clients.Load(ctx, cfg.MaxInFlight)
	if err != nil {
		return err
	}
	tp, shutdownTracing, err := setupTracing(ctx, os.Getenv)
	if err != nil {
		return err
	}
	defer func() {
		// After the drain: the last messages' spans (their deletes) are in the
		// buffer, and SIGTERM has already canceled ctx.
		flushCtx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := shutdownTracing(flushCtx); err != nil {
			log.Warn("could not flush the last spans", zap.Error(err))
		}
	}()
	if tp != nil {
		log.Info("tracing on: exporting spans over OTLP/HTTP")
	}
	var parts app.Parts
	// Scraped only after Build returned and the HTTP server started.
	metrics := worker.NewMetrics(limiterStatus{&parts})
	parts, err = app.Build(ctx, cfg, cl, app.Options{EagerCatalog: true, Logger: log, Metrics: metrics, LookupObserver: metrics, TracerProvider: tp})
	if err != nil {
		return err
	}
	core, circuit := parts.Core, parts.Circuit
	w, err := worker.New(worker.Options{
		SQS: cl.SQS, QueueURL: cfg.QueueURL, Handler: core, Circuit: circuit, Logger: log, Metrics: metrics,
		MaxInFlight: cfg.MaxInFlight, Receivers: cfg.Receivers, MaxHold: cfg.MaxHold, ShutdownGrace: cfg.ShutdownGrace,
		Coalesce: cfg.Coalesce, TracerProvider: tp,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("CASEBRIDGE_HTTP_ADDR=%s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: w.HTTPHandler(metrics), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server failed", zap.Error(err))
		}
	}()
	log.Info("http listening", zap.String("addr", ln.Addr().String()))
	runErr := w.Run(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return runErr
}

// tracingFlushTimeout bounds the last export at exit; ECS's stop timeout
// (30s by default) also covers the shutdown grace before it.
const tracingFlushTimeout = 3 * time.Second

func runHealthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := healthcheck.DefaultURL
	if cfg, err := config.FromEnv(os.Getenv); err == nil {
		if u, err := healthcheck.URLFromAddr(cfg.HTTPAddr); err == nil {
			def = u // the container's own CASEBRIDGE_HTTP_ADDR
		}
	}
	url := fs.String("url", def, "URL to probe; healthy when it answers 2xx")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := healthcheck.Probe(ctx, *url, *timeout); err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	return 0
}

// limiterStatus reads the limiter of parts once app.Build has made it (the
// metrics are made first, because the core reports into them).
type limiterStatus struct{ parts *app.Parts }

func (l limiterStatus) Limit() float64   { return l.parts.Limiter.Limit() }
func (l limiterStatus) QuotaBound() bool { return l.parts.Limiter.QuotaBound() }
