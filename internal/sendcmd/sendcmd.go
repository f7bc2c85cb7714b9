// Package sendcmd is the library half of `casebridge send --file`: it reads
// a JSON Lines file of contract v1 messages (canonical or shorthand), checks
// each line with the consumer's own decoder, sends the good ones through a
// publish.Publisher in batches, and reports progress and a summary. The
// command line (flags, single messages) lives in cmd/casebridge.
package sendcmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/casebridge/casebridge/contract"
	"github.com/casebridge/casebridge/publish"
)

// Chunk is how many lines go to one SendBatch call: big enough to fill SQS
// batches, small enough for a lively progress bar.
const Chunk = 100

// maxLine is the longest line read: a message body may be up to 1 MiB.
const maxLine = 2 << 20

// Sender is the part of *publish.Publisher that SendLines uses.
type Sender interface {
	SendBatch(ctx context.Context, msgs []*publish.Message) (publish.BatchResult, error)
}

// Summary counts what SendLines did with the lines it read.
type Summary struct {
	Lines   int // lines read, blank ones included
	Sent    int // accepted by the queue or topic
	Refused int // not a valid message; never sent
	Failed  int // valid, but the send failed
}

// OK reports whether every non-blank line was sent.
func (s Summary) OK() bool { return s.Refused == 0 && s.Failed == 0 }

// Open opens path for SendLines and counts its lines for the progress bar;
// "-" is stdin, whose lines cannot be counted (total is -1).
func Open(path string, stdin io.Reader) (r io.Reader, total int, closeFn func(), err error) {
	if path == "-" {
		return stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	total, err = countLines(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, total, func() { f.Close() }, nil
}

// SendLines sends one message per non-blank line of in. Refused lines and
// failed sends are reported on progress ("line N: refused: …", "line N: not
// sent: …") and skipped; at the end it writes the summary line. When
// progress is a terminal it also redraws a progress bar, out of total lines
// (total <= 0: unknown). It stops early when ctx is done. The error is a
// failure to read in or ctx's error; Summary says how far it got either way.
func SendLines(ctx context.Context, s Sender, in io.Reader, total int, progress io.Writer) (Summary, error) {
	bar := newProgressBar(progress, total)
	var sum Summary
	var batch []*publish.Message
	var lines []int
	flush := func() {
		if len(batch) == 0 {
			return
		}
		res, _ := s.SendBatch(ctx, batch) // per-message errors are in res.Results
		for i, r := range res.Results {
			if r.Err != nil {
				sum.Failed++
				bar.note("line %d: not sent: %v", lines[i], r.Err)
			}
		}
		sum.Sent += res.Sent
		batch, lines = batch[:0], lines[:0]
		bar.update(sum)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		sum.Lines++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		m, err := contract.Decode(text)
		if err != nil {
			sum.Refused++
			bar.note("line %d: refused: %v", sum.Lines, err)
			continue
		}
		batch, lines = append(batch, m), append(lines, sum.Lines)
		if len(batch) == Chunk {
			flush()
		}
		if ctx.Err() != nil {
			break
		}
	}
	flush()
	bar.done(sum)
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("after line %d: %w", sum.Lines, err)
	}
	return sum, ctx.Err()
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
	if w == nil {
		w = io.Discard
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, total: total, start: time.Now()}
}

func (b *progressBar) line(s Summary) string {
	done := s.Sent + s.Refused + s.Failed
	bar := ""
	if b.total > 0 {
		const width = 30
		filled := min(width, done*width/b.total)
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] " + fmt.Sprintf("%d/%d ", done, b.total)
	}
	return fmt.Sprintf("%ssent %d, refused %d, failed %d", bar, s.Sent, s.Refused, s.Failed)
}

func (b *progressBar) update(s Summary) {
	if !b.tty || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	fmt.Fprintf(b.w, "\r%s", b.line(s))
}

func (b *progressBar) note(format string, args ...any) {
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, format+"\n", args...)
}

func (b *progressBar) done(s Summary) {
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, "%s in %s\n", b.line(s), time.Since(b.start).Round(time.Millisecond))
}
