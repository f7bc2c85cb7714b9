// Command bench is casebridge's benchmark harness: it starts goaws, the Cases
// simulator, the worker and the Lambda (under the Runtime Interface Emulator)
// as separate processes, runs every scenario of docs/benchmarks.md in one run,
// prints a table and optionally writes it as JSON.
//
//	go run ./cmd/bench [--quick] [--json FILE] [--markdown] [--scenarios a,b,...]
//
// It exits 0 when every scenario ran and lost nothing, whether or not targets
// were met (misses are printed), 1 when a scenario failed to run or lost
// messages, and 2 on bad flags. Run scripts/tools.sh once first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/casebridge/casebridge/internal/testkit/bench"
	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small N and short windows (CI: proves the harness runs in about a minute)")
	jsonPath := fs.String("json", "", "also write the results as JSON to `FILE`")
	markdown := fs.Bool("markdown", false, "print the table as Markdown (for docs/benchmarks.md)")
	scen := fs.String("scenarios", "", "comma-separated subset of: "+strings.Join(bench.Scenarios, ","))
	keep := fs.Bool("keep", false, "keep the temporary directory with the binaries and every process's log")
	var workerEnv multi
	fs.Var(&workerEnv, "worker-env", "extra `KEY=VALUE` for every worker (repeatable), to try a setting")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	root, err := testbed.RepoRoot()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	cfg := bench.Config{Root: root, Quick: *quick, Progress: stderr, WorkerEnv: workerEnv, KeepDir: *keep}
	if *scen != "" {
		cfg.Scenarios = strings.Split(*scen, ",")
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	rep.Command = "go run ./cmd/bench " + strings.Join(args, " ")
	rep.Machine = machine(ctx)
	if err := rep.WriteTable(stdout, *markdown); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if *jsonPath != "" {
		f, err := os.Create(*jsonPath)
		if err == nil {
			err = errors.Join(rep.WriteJSON(f), f.Close())
		}
		if err != nil {
			fmt.Fprintln(stderr, "bench: --json:", err)
			return 1
		}
	}
	misses := 0
	for _, r := range rep.Results {
		if !r.Pass && r.Err == "" {
			misses++
		}
	}
	fmt.Fprintf(stderr, "bench: %d rows, %d targets missed, %.0fs\n", len(rep.Results), misses, rep.Seconds)
	if rep.Failed() {
		fmt.Fprintln(stderr, "bench: FAILED: a scenario did not run or lost messages")
		return 1
	}
	return 0
}

// machine records what the figures were taken on.
func machine(ctx context.Context) map[string]any {
	m := map[string]any{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "numCPU": runtime.NumCPU(), "goVersion": runtime.Version()}
	if out, err := exec.CommandContext(ctx, "free", "-h").Output(); err == nil {
		m["free"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return m
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
