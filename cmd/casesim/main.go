// Command casesim runs the Amazon Connect Cases simulator (internal/casesim)
// as a standalone HTTP server for demos, benchmarks and publishers' tests.
// It prints "casesim listening on http://ADDR" once it accepts connections.
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
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/casebridge/casebridge/internal/casesim"
)

// DefaultAddr is where casesim listens unless --addr says otherwise.
const DefaultAddr = "127.0.0.1:4567"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "casesim:", err)
		}
		os.Exit(2)
	}
}

// quotaFlags collects repeated --quota flags.
type quotaFlags []string

func (q *quotaFlags) String() string     { return strings.Join(*q, ",") }
func (q *quotaFlags) Set(v string) error { *q = append(*q, v); return nil }

// buildQuotas layers --quotas, then --rate/--burst, then --quota. UpdateCase's
// quota goes into Faults.Rate/Burst rather than Options.Quotas, so that
// --rate/--burst keep meaning UpdateCase, GET /casesim/faults shows the
// bucket in force and PUT /casesim/faults can still change it while the
// simulator runs. --rate and --quota UpdateCase=… together are refused:
// which one should win is not obvious.
func buildQuotas(preset string, overrides []string, rateSet bool, f *casesim.Faults) (map[string]casesim.Quota, error) {
	qs, err := casesim.QuotaPreset(preset)
	if err != nil {
		return nil, err
	}
	if rateSet {
		delete(qs, "UpdateCase")
	}
	for _, spec := range overrides {
		op, q, err := casesim.ParseQuota(spec)
		if err != nil {
			return nil, err
		}
		if op == "UpdateCase" && rateSet {
			return nil, fmt.Errorf("--quota %s and --rate/--burst both set UpdateCase's quota; use one", spec)
		}
		qs[op] = q
	}
	if q, ok := qs["UpdateCase"]; ok {
		f.Rate, f.Burst = q.Rate, q.Burst
		delete(qs, "UpdateCase")
	}
	return qs, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("casesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("addr", DefaultAddr, "listen address (127.0.0.1:0 picks a free port)")
		seed     = fs.String("seed", "", "JSON seed `FILE` with domains, fields, templates and cases (see docs/casesim.md)")
		randSeed = fs.Int64("rand-seed", 0, "seed for fault draws and generated ids (0 = from the clock)")
		logLevel = fs.String("log-level", "info", "debug, info, warn or error")
		f        casesim.Faults
	)
	fs.Float64Var(&f.Rate, "rate", 0, "UpdateCase calls/s allowed before 429 ThrottlingException (0 = unlimited)")
	fs.IntVar(&f.Burst, "burst", 0, "token bucket burst for --rate (0 = 1)")
	fs.DurationVar(&f.Latency, "latency", 0, "extra latency per UpdateCase call, e.g. 20ms")
	fs.DurationVar(&f.LatencyJitter, "latency-jitter", 0, "extra random latency in [0, jitter)")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "fraction of UpdateCase calls answered 500 InternalServerException")
	fs.DurationVar(&f.RetryAfter, "retry-after", 0, "Retry-After on injected 500s (whole seconds, 0 = none)")
	fs.Float64Var(&f.DenyRate, "deny-rate", 0, "fraction of UpdateCase calls answered 403 AccessDeniedException")
	fs.Float64Var(&f.DropRate, "drop-rate", 0, "fraction of UpdateCase connections closed without an answer")
	fs.BoolVar(&f.AllOperations, "all-operations", false, "apply latency, errors, denials and drops to every operation")
	preset := fs.String("quotas", "none", "quota `PRESET` for every operation: none, or aws-default (AWS's published defaults per account and Region)")
	denyUserArn := fs.Bool("deny-user-arn", false, "answer 403 AccessDeniedException to performedBy.userArn, as when the caller lacks connect:DescribeUser")
	var overrides quotaFlags
	fs.Var(&overrides, "quota", "`OPERATION=RATE[:BURST]` quota for one operation, over --quotas (repeatable; rate 0 lifts it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := f.Validate(); err != nil {
		return err
	}
	rateSet := false
	fs.Visit(func(fl *flag.Flag) { rateSet = rateSet || fl.Name == "rate" || fl.Name == "burst" })
	quotas, err := buildQuotas(*preset, overrides, rateSet, &f)
	if err != nil {
		return err
	}
	level, err := zapcore.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(level)
	logCfg.OutputPaths, logCfg.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	log, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	sim := casesim.New(casesim.Options{Faults: f, RandSeed: *randSeed, Logger: log, Quotas: quotas, DenyUserArn: *denyUserArn})
	log.Info("quotas", zap.Any("quotas", sim.Quotas()))
	if *seed != "" {
		if err := sim.LoadSeedFile(*seed); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "casesim listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	log.Info("stopped", zap.Any("stats", sim.Stats()))
	return nil
}
