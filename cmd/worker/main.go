// Command worker is casebridge's long-running SQS consumer (run it on ECS), plus
// tools for the people around it: `worker check` validates message files.
//
//	worker [run] [flags]        consume the queue (default)
//	worker check [--domain D] FILE...
//	worker healthcheck [--url URL]
//	worker dlq stats|peek|redrive [flags]
//	worker send (--queue URL | --topic ARN) (--case ID name=value ... | --file FILE)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/casebridge/casebridge/internal/checkcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runWorker(ctx, args, stdout, stderr)
	case "check":
		return checkcmd.Run(ctx, args, stdin, stdout, stderr, os.Getenv)
	case "healthcheck":
		return runHealthcheck(ctx, args, stderr)
	case "dlq":
		return dlqCmd(ctx, args, stdout, stderr)
	case "send":
		return sendCmd(ctx, args, stdin, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "worker: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

const usage = `usage:
  worker [run] [flags]              consume the queue (worker run --help lists every setting)
  worker check [--domain D] FILE... validate message bodies (- = stdin); one JSON line per file
  worker healthcheck [--url URL]    probe /healthz (for container health checks)
  worker dlq stats|peek|redrive     inspect the dead-letter queue, send messages back (worker dlq for help)
  worker send --queue URL --case ID name=value ...   publish an update (worker send --help)
`
