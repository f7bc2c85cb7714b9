package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/publish"
)

const sendUsage = `usage:
  worker send (--queue URL | --topic ARN) --case ID [--domain D] [--by NAME | --by-user ARN]
              [--event-id ID] [--string] name=value ...
  worker send (--queue URL | --topic ARN) --file events.jsonl   (- = stdin)

Values are read like the shorthand form: numbers, true/false and null (clears
the field) are typed, anything else is a string; --string sends every value as
a string. --file sends one contract v1 message (canonical or shorthand) per line,
checked before sending; a bad line is reported and skipped.
--queue defaults to CASEBRIDGE_QUEUE_URL. AWS settings follow the SDK
(AWS_REGION, credentials, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SNS).

`

// sendChunk is how many lines go to one SendBatch call: big enough to fill
// SQS batches, small enough for a lively progress bar.
const sendChunk = 100

func sendCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker send", flag.ContinueOnError)
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
			return 0
		}
		return 2
	}
	if (*queue == "") == (*topic == "") {
		fmt.Fprintln(stderr, "worker send: give exactly one of --queue and --topic")
		return 2
	}
	p, err := newPublisher(ctx, *queue, *topic)
	if err != nil {
		fmt.Fprintf(stderr, "worker send: %v\n", err)
		return 1
	}
	if *file != "" {
		if fs.NArg() > 0 || *caseID != "" {
			fmt.Fprintln(stderr, "worker send: --file takes no --case or name=value arguments")
			return 2
		}
		return sendFile(ctx, p, *file, stdin, stderr)
	}

	b := publish.Update(*caseID).Domain(*domain).EventID(*eventID)
	switch {
	case *by != "" && *byUser != "":
		fmt.Fprintln(stderr, "worker send: give at most one of --by and --by-user")
		return 2
	case *by != "":
		b.By(publish.CustomEntity(*by))
	case *byUser != "":
		b.By(publish.User(*byUser))
	}
	for _, arg := range fs.Args() {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(stderr, "worker send: %q is not name=value\n", arg)
			return 2
		}
		v := publish.InferValue(value)
		if *asString {
			v = publish.StringValue(value)
		}
		b.Set(name, v)
	}
	m, err := b.Message()
	if err != nil {
		fmt.Fprintf(stderr, "worker send: message refused: %v\n", err)
		return 1
	}
	id, err := p.Send(ctx, m)
	if err != nil {
		fmt.Fprintf(stderr, "worker send: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, id)
	return 0
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

// sendFile sends a JSON Lines file and prints a progress bar and a summary
// on stderr. It exits 1 if any line was refused or not sent.
func sendFile(ctx context.Context, p *publish.Publisher, path string, stdin io.Reader, stderr io.Writer) int {
	in, total, closeFn, err := openLines(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "worker send: %v\n", err)
		return 1
	}
	defer closeFn()
	bar := newProgressBar(stderr, total)
	var sent, refused, failed, line int
	var batch []*contract.Message
	var lines []int
	flush := func() {
		if len(batch) == 0 {
			return
		}
		res, _ := p.SendBatch(ctx, batch)
		for i, r := range res.Results {
			if r.Err != nil {
				failed++
				bar.note("line %d: not sent: %v", lines[i], r.Err)
			}
		}
		sent += res.Sent
		batch, lines = batch[:0], lines[:0]
		bar.update(sent, refused, failed)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 2<<20) // a message body may be up to 1 MiB
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		m, err := contract.Decode(text)
		if err != nil {
			refused++
			bar.note("line %d: refused: %v", line, err)
			continue
		}
		batch, lines = append(batch, m), append(lines, line)
		if len(batch) == sendChunk {
			flush()
		}
		if ctx.Err() != nil {
			break
		}
	}
	flush()
	bar.done(sent, refused, failed)
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "worker send: reading %s after line %d: %v\n", path, line, err)
		return 1
	}
	if refused > 0 || failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// openLines opens the file and counts its lines for the progress bar
// (stdin cannot be counted: total is -1).
func openLines(path string, stdin io.Reader) (io.Reader, int, func(), error) {
	if path == "-" {
		return stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	total, err := countLines(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, total, func() { f.Close() }, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 64<<10)
	n, last := 0, byte('\n')
	for {
		k, err := r.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' && last != '\n' {
				n++
			}
			last = c
		}
		if err == io.EOF {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// progressBar redraws one line on a terminal, at most every 100ms; on
// anything else it writes only the notes and the summary, so logs stay clean.
type progressBar struct {
	w     io.Writer
	tty   bool
	total int
	last  time.Time
	start time.Time
}

func newProgressBar(w io.Writer, total int) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, total: total, start: time.Now()}
}

func (b *progressBar) line(sent, refused, failed int) string {
	done := sent + refused + failed
	bar := ""
	if b.total > 0 {
		const width = 30
		filled := min(width, done*width/b.total)
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] " + fmt.Sprintf("%d/%d ", done, b.total)
	}
	return fmt.Sprintf("%ssent %d, refused %d, failed %d", bar, sent, refused, failed)
}

func (b *progressBar) update(sent, refused, failed int) {
	if !b.tty || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	fmt.Fprintf(b.w, "\r%s", b.line(sent, refused, failed))
}

func (b *progressBar) note(format string, args ...any) {
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, format+"\n", args...)
}

func (b *progressBar) done(sent, refused, failed int) {
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, "%s in %s\n", b.line(sent, refused, failed), time.Since(b.start).Round(time.Millisecond))
}
