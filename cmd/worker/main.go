// Command worker is casebridge's long-running SQS consumer (run it on ECS).
// The tools for publishers and operators (check, send, dlq) are a separate
// command, cmd/casebridge, so neither this binary nor its image ships them.
//
//	worker [run] [flags]        consume the queue (default)
//	worker healthcheck [--url URL]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "help" || a == "-h" || a == "-help" || a == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case a != "" && a[0] != '-':
			cmd, args = a, args[1:]
		}
	}
	switch cmd {
	case "run":
		return runWorker(ctx, args, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, stderr)
	default:
		fmt.Fprintf(stderr, "worker: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

const usage = `usage:
  worker [run] [flags]              consume the queue (worker run --help lists every setting)
  worker healthcheck [--url URL]    probe /healthz (for container health checks)

check, send and dlq are in the casebridge command (go run ./cmd/casebridge --help).
`
