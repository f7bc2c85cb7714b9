// Command casebridge is the tool for the people around the service:
// publishers check and send messages, operators look into the dead-letter
// queue and send messages back. The service itself is cmd/worker (ECS) or
// cmd/lambda; neither ships this tool.
//
//	casebridge check [--domain D] [--rules FILE [--lookup]] FILE...
//	casebridge send (--queue URL | --topic ARN) (--case ID name=value ... | --file FILE)
//	casebridge dlq stats|peek|redrive [flags]
//
// Exit status: 0 success, 1 failure (a rejected message, a failed send),
// 2 usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `usage: casebridge COMMAND [flags] [args]

Commands:
  check   validate message files offline, as the consumer would map them (casebridge check --help)
  send    publish case updates to a queue or topic, one by hand or a JSON Lines file (casebridge send --help)
  dlq     inspect the dead-letter queue and send messages back: stats, peek, redrive (casebridge dlq --help)

Exit status: 0 success, 1 failure, 2 usage error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	switch {
	case cmd == "check":
		return checkCmd(ctx, args, stdin, stdout, stderr)
	case cmd == "send":
		return sendCmd(ctx, args, stdin, stdout, stderr)
	case cmd == "dlq":
		return dlqCmd(ctx, args, stdout, stderr)
	case isHelp(cmd):
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "casebridge: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
}

// isHelp reports whether arg asks for help rather than naming a command.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}
