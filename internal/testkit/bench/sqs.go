package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"
)

// smallBody is the message of the throughput scenarios: one field, default domain.
func smallBody(i int) string {
	return `{"caseId":"` + caseID(i) + `","fields":{"priority":` + strconv.Itoa(i) + `}}`
}

// preload sends bodies to the queue with SendMessageBatch from a few goroutines.
// Entries of one MessageGroupId always go through the same goroutine, in order,
// so FIFO order per group is the order of entries.
func preload(ctx context.Context, client *sqs.Client, url string, entries []sqstypes.SendMessageBatchRequestEntry) error {
	const senders = 8
	buckets := make([][]sqstypes.SendMessageBatchRequestEntry, senders)
	for i, en := range entries {
		b := i % senders
		if g := aws.ToString(en.MessageGroupId); g != "" {
			h := fnv.New32a()
			h.Write([]byte(g))
			b = int(h.Sum32() % senders)
		}
		buckets[b] = append(buckets[b], en)
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, bucket := range buckets {
		g.Go(func() error {
			for len(bucket) > 0 {
				n := min(10, len(bucket))
				batch := make([]sqstypes.SendMessageBatchRequestEntry, n)
				for i := range n {
					batch[i] = bucket[i]
					batch[i].Id = aws.String(strconv.Itoa(i)) // positions, never message ids
				}
				out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: batch})
				if err != nil {
					return fmt.Errorf("preload: %w", err)
				}
				// goaws leaves Successful empty; Failed is right on every server.
				if len(out.Failed) > 0 {
					return fmt.Errorf("preload: %d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
				}
				bucket = bucket[n:]
			}
			return nil
		})
	}
	return g.Wait()
}

func smallEntries(n int) []sqstypes.SendMessageBatchRequestEntry {
	out := make([]sqstypes.SendMessageBatchRequestEntry, n)
	for i := range out {
		out[i].MessageBody = aws.String(smallBody(i))
	}
	return out
}

// drain is what observeDrain saw.
type drain struct {
	start, at99, end time.Time
	counts           updateCounts // UpdateCase answers during the drain
}

// rate is the rate over the first 99 % of the messages. goaws now and then
// cuts a ReceiveMessage response after it has marked its messages in flight;
// those few stay invisible until their visibility timeout, and timing the
// whole drain would measure that timeout instead of the consumer.
func (d drain) rate(n int) float64 { return float64(n99(n)) / d.at99.Sub(d.start).Seconds() }

func n99(n int) int { return (n*99 + 99) / 100 }

// observeDrain waits until all n messages are off the queue and, when cases is
// set, the simulator has answered n more successful UpdateCase calls than at
// base. The drain starts at the first success seen (or at from, without
// cases), so each consumer's start-up is left out the same way; every point is
// seen by the same 20 ms poll.
func (e *env) observeDrain(ctx context.Context, url string, base updateCounts, n int, cases bool, from time.Time, timeout time.Duration) (drain, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := drain{start: from}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last, depth := updateCounts{}, -1
	for {
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("not drained after %s: %d of %d applied, %d messages left on the queue",
				timeout, last.OK, n, depth)
		case <-tick.C:
		}
		if cases {
			c, err := e.updates(ctx)
			if err != nil {
				continue // the deadline reports it if it lasts
			}
			last = c.minus(base)
			if d.start.IsZero() && last.OK > 0 {
				d.start = time.Now()
			}
			if d.at99.IsZero() && last.OK >= n99(n) {
				d.at99 = time.Now()
			}
			if last.OK < n {
				continue
			}
		}
		var err error
		if depth, err = e.depth(ctx, url); err != nil {
			continue
		}
		if d.at99.IsZero() && n-depth >= n99(n) {
			d.at99 = time.Now()
		}
		if depth == 0 {
			d.end, d.counts = time.Now(), last
			return d, nil
		}
	}
}
