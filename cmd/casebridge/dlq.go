package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/internal/dlqtool"
)

const dlqUsage = `usage:
  casebridge dlq stats   [--dlq URL] [--json]
  casebridge dlq peek    [--dlq URL] [--limit N] [--show-values]
  casebridge dlq redrive [--dlq URL] [--reason R] [--code C] [--limit N] [--dry-run] [--rate N] [--to URL]

stats counts the DLQ's messages by reason and error code; peek prints one JSON
line per message (reason, case id, field ids; values and body only with
--show-values); both leave every message on the queue, visible. redrive sends
the matching messages back to the queue they came from (or --to), without the
casebridge-error attribute and with a redrive counter, deleting each from the
DLQ only after its send succeeded, at most --rate messages a second.
--dlq defaults to CASEBRIDGE_DLQ_URL. AWS settings follow the SDK.
casebridge dlq SUBCOMMAND --help lists the flags.
Exit status: 0 done, 1 failed (redrive: any message not moved), 2 usage error.

`

func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, dlqUsage)
		return exitOK
	}
	if len(args) == 0 || (args[0] != "stats" && args[0] != "peek" && args[0] != "redrive") {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "casebridge dlq: unknown subcommand %q\n", args[0])
		}
		fmt.Fprint(stderr, dlqUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("casebridge dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dlqUsage); fs.PrintDefaults() }
	dlq := fs.String("dlq", os.Getenv("CASEBRIDGE_DLQ_URL"), "dead-letter queue URL")
	hold := fs.Duration("hold", 5*time.Minute, "how long scanned messages stay invisible while the command runs")
	asJSON := fs.Bool("json", false, "stats: print JSON")
	limit := fs.Int("limit", 0, "peek, redrive: at most N messages (0 = all)")
	showValues := fs.Bool("show-values", false, "peek: include field values and bodies (may be personal data)")
	reason := fs.String("reason", "", "redrive: only this reason class (e.g. not-found)")
	code := fs.String("code", "", "redrive: only this error code (e.g. ResourceNotFoundException)")
	dryRun := fs.Bool("dry-run", false, "redrive: count what would move, move nothing")
	rate := fs.Float64("rate", dlqtool.DefaultRedriveRate, "redrive: messages sent per second")
	to := fs.String("to", "", "redrive: destination queue URL (default: each message's source queue)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *dlq == "" {
		fmt.Fprintln(stderr, "casebridge dlq: --dlq (or CASEBRIDGE_DLQ_URL) is required")
		return exitUsage
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge dlq: loading AWS configuration: %v\n", err)
		return exitFailure
	}
	tool := dlqtool.New(sqs.NewFromConfig(cfg), *dlq, dlqtool.Options{Hold: *hold})

	switch sub {
	case "stats":
		s, err := tool.Stats(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "casebridge dlq stats: %v\n", err)
			return exitFailure
		}
		if *asJSON {
			return printJSON(stdout, stderr, s)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "messages\t%d\t(queue depth %d)\n", s.Total, s.Depth)
		if !s.OldestFailure.IsZero() {
			fmt.Fprintf(tw, "oldest failure\t%s\n", s.OldestFailure.Format(time.RFC3339))
		}
		fmt.Fprintln(tw, "\nREASON\tCODE\tCOUNT")
		for _, c := range s.ByCode {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.Class, c.Code, c.Count)
		}
		tw.Flush()
		return exitOK
	case "peek":
		entries, err := tool.Peek(ctx, dlqtool.PeekOptions{Limit: *limit, ShowValues: *showValues})
		for _, e := range entries {
			if code := printJSON(stdout, stderr, e); code != 0 {
				return code
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "casebridge dlq peek: %v\n", err)
			return exitFailure
		}
		return exitOK
	default:
		var last time.Time
		rep, err := tool.Redrive(ctx, dlqtool.RedriveOptions{
			Class: contract.Reason(*reason), Code: *code, Limit: *limit, DryRun: *dryRun, Rate: *rate, To: *to,
			Progress: func(p dlqtool.Progress) {
				if time.Since(last) >= time.Second {
					last = time.Now()
					fmt.Fprintf(stderr, "scanned %d, matched %d, moved %d, failed %d\n", p.Scanned, p.Matched, p.Moved, p.Failed)
				}
			},
		})
		for _, f := range rep.Failures {
			fmt.Fprintf(stderr, "not moved: %s: %s\n", f.MessageID, f.Error)
		}
		verb, n := "moved", rep.Moved
		if rep.DryRun {
			verb, n = "would move", rep.Matched
		}
		fmt.Fprintf(stdout, "scanned %d, matched %d, %s %d, failed %d\n", rep.Scanned, rep.Matched, verb, n, rep.Failed)
		if err != nil {
			fmt.Fprintf(stderr, "casebridge dlq redrive: %v\n", err)
			return exitFailure
		}
		if rep.Failed > 0 {
			return exitFailure
		}
		return exitOK
	}
}

func printJSON(stdout, stderr io.Writer, v any) int {
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		fmt.Fprintf(stderr, "casebridge: writing output: %v\n", err)
		return exitFailure
	}
	return exitOK
}
