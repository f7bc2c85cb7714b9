package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/internal/sendcmd"
	"github.com/casebridge/casebridge/publish"
)

const sendUsage = `usage:
  casebridge send (--queue URL | --topic ARN) --case ID [--domain D] [--by NAME | --by-user ARN]
                  [--event-id ID] [--string] name=value ...
  casebridge send (--queue URL | --topic ARN) --file events.jsonl   (- = stdin)

Values are read like the shorthand form: numbers, true/false and null (clears
the field) are typed, anything else is a string; --string sends every value as
a string. --file sends one contract v1 message (canonical or shorthand) per line,
checked before sending; a bad line is reported and skipped.
--queue defaults to CASEBRIDGE_QUEUE_URL. AWS settings follow the SDK
(AWS_REGION, credentials, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SNS).
With OTEL_EXPORTER_OTLP_ENDPOINT set, the send is one span, exported over
OTLP/HTTP, and every message carries it as its traceparent attribute.
Exit status: 0 sent, 1 refused or not sent (with --file: any line), 2 usage error.

`

func sendCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("casebridge send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sendUsage); fs.PrintDefaults() }
	queue := fs.String("queue", os.Getenv("CASEBRIDGE_QUEUE_URL"), "SQS queue URL")
	topic := fs.String("topic", "", "SNS topic ARN (instead of --queue)")
	caseID := fs.String("case", "", "case id")
	domain := fs.String("domain", os.Getenv("CASEBRIDGE_DOMAIN_ID"), "Cases domain id (optional when the worker has a default)")
	by := fs.String("by", "", "performedBy customEntity")
	byUser := fs.String("by-user", "", "performedBy userArn")
	eventID := fs.String("event-id", "", "eventId (FIFO deduplication id)")
	asString := fs.Bool("string", false, "send every value as a string")
	file := fs.String("file", "", "JSON Lines file of messages, - for stdin")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if (*queue == "") == (*topic == "") {
		fmt.Fprintln(stderr, "casebridge send: give exactly one of --queue and --topic")
		return exitUsage
	}
	ctx, endSpan := startSendSpan(ctx, os.Getenv, stderr, *queue, *topic)
	code := sendMessages(ctx, fs, stdin, stdout, stderr, sendArgs{
		queue: *queue, topic: *topic, caseID: *caseID, domain: *domain, by: *by, byUser: *byUser,
		eventID: *eventID, asString: *asString, file: *file,
	})
	endSpan(code != exitOK)
	return code
}

type sendArgs struct {
	queue, topic, caseID, domain, by, byUser, eventID, file string
	asString                                                bool
}

// sendMessages is the send itself, inside the send's span when tracing is on.
func sendMessages(ctx context.Context, fs *flag.FlagSet, stdin io.Reader, stdout, stderr io.Writer, a sendArgs) int {
	if a.file != "" {
		if fs.NArg() > 0 || a.caseID != "" {
			fmt.Fprintln(stderr, "casebridge send: --file takes no --case or name=value arguments")
			return exitUsage
		}
		p, err := newPublisher(ctx, a.queue, a.topic)
		if err != nil {
			fmt.Fprintf(stderr, "casebridge send: %v\n", err)
			return exitFailure
		}
		return sendFile(ctx, p, a.file, stdin, stderr)
	}

	b := publish.Update(a.caseID).Domain(a.domain).EventID(a.eventID)
	switch {
	case a.by != "" && a.byUser != "":
		fmt.Fprintln(stderr, "casebridge send: give at most one of --by and --by-user")
		return exitUsage
	case a.by != "":
		b.By(publish.CustomEntity(a.by))
	case a.byUser != "":
		b.By(publish.User(a.byUser))
	}
	for _, arg := range fs.Args() {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(stderr, "casebridge send: %q is not name=value\n", arg)
			return exitUsage
		}
		v := publish.InferValue(value)
		if a.asString {
			v = publish.StringValue(value)
		}
		b.Set(name, v)
	}
	m, err := b.Message()
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: message refused: %v\n", err)
		return exitFailure
	}
	p, err := newPublisher(ctx, a.queue, a.topic)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: %v\n", err)
		return exitFailure
	}
	id, err := p.Send(ctx, m)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, id)
	return exitOK
}

func newPublisher(ctx context.Context, queue, topic string) (*publish.Publisher, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if topic != "" {
		return publish.NewSNS(sns.NewFromConfig(cfg), topic), nil
	}
	return publish.NewSQS(sqs.NewFromConfig(cfg), queue), nil
}

// sendFile sends a JSON Lines file with a progress bar and a summary on
// stderr. It exits 1 if any line was refused or not sent.
func sendFile(ctx context.Context, p *publish.Publisher, path string, stdin io.Reader, stderr io.Writer) int {
	in, total, closeFn, err := sendcmd.Open(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: %v\n", err)
		return exitFailure
	}
	defer closeFn()
	sum, err := sendcmd.SendLines(ctx, p, in, total, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "casebridge send: reading %s: %v\n", path, err)
		return exitFailure
	}
	if !sum.OK() {
		return exitFailure
	}
	return exitOK
}
