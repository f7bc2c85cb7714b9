// Package worker is casebridge's long-running SQS transport: long-poll receivers
// feed a bounded pool that runs the consumer core, keeps in-flight messages
// invisible (heartbeat), batches deletes, keeps FIFO groups in order and drains on
// shutdown. Policy lives in the core; this package only moves messages.
package worker

import (
	"cmp"
	"math"

	"github.com/casebridge/casebridge/internal/quota"

	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/casebridge/casebridge/internal/config"
	"github.com/casebridge/casebridge/internal/consumer"
	"github.com/casebridge/casebridge/internal/retry"
)

// SQSAPI is the subset of the SQS client the worker uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Options configures a Worker. Zero fields take the documented defaults.
type Options struct {
	SQS      SQSAPI           // required
	QueueURL string           // required
	Handler  consumer.Handler // required
	Circuit  *quota.Circuit   // optional: polling pauses while it is open
	Logger   *zap.Logger
	Metrics  *Metrics // optional

	MaxInFlight   int           // config.DefaultMaxInFlight
	Receivers     int           // MaxInFlight ÷ 10, between 2 and 8
	MaxHold       time.Duration // config.DefaultMaxHold: a message's time budget from receipt
	ShutdownGrace time.Duration // config.DefaultShutdownGrace
	WaitTime      int32         // 20: long-poll seconds
	// VisibilityTimeout is the one the heartbeat keeps renewing; 0 reads the
	// queue's own at start.
	VisibilityTimeout time.Duration
	DeleteFlushEvery  time.Duration // 20ms: longest a delete waits for its batch to fill
	// BacklogCheckEvery is how often the worker reads the queue's depth to
	// estimate how long its backlog takes at the rate this instance gets, and
	// how many consumers share the queue (15s; needs Metrics).
	BacklogCheckEvery time.Duration
	// TracerProvider, when set, gives each message a span whose parent is the
	// publisher's context (its traceparent attribute or AWSTraceHeader) and
	// ends it after the delete or the release; the core adds its spans under
	// it. Nil is tracing off: no header is read and no span is made.
	TracerProvider trace.TracerProvider
	// Coalesce hands the messages of a FIFO group that are here together to the
	// handler in one HandleGroup call, so it can merge their updates into one
	// UpdateCase call; otherwise they go one at a time.
	Coalesce bool
}

// Worker runs the receive → handle → delete loop. Create with New, start with Run.
type Worker struct {
	o        Options
	slots    chan struct{} // one token per free in-flight slot
	deleter  *deleter
	groups   *groupRunner[*job]
	ready    readiness
	backlog  backlogWatch
	sharing  sharingWatch
	inflight sync.WaitGroup
	held     atomic.Int64 // messages received and not yet finished (casebridge_in_flight_messages)
	tracer   *tracer      // nil: tracing off
	sysAttrs []sqstypes.MessageSystemAttributeName

	// Set by Run before the first receive; the FIFO group runners read them.
	runCtx, hardCtx context.Context
	// jobs feeds the pool of MaxInFlight long-lived goroutines that handle
	// standard-queue messages: a goroutine per message would grow a fresh stack
	// through the SDK's deep call chain every time (a tenth of the CPU in profiles).
	jobs chan *job
}

// New checks opts and fills in defaults.
func New(opts Options) (*Worker, error) {
	if opts.SQS == nil || opts.QueueURL == "" || opts.Handler == nil {
		return nil, errors.New("worker: SQS, QueueURL and Handler are required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	opts.MaxInFlight = cmp.Or(opts.MaxInFlight, config.DefaultMaxInFlight)
	// One long poll brings at most 10 messages; enough polls in parallel keep
	// every slot fed without waiting on each other's round trips.
	opts.Receivers = cmp.Or(opts.Receivers, min(max(opts.MaxInFlight/10, 2), 8))
	opts.MaxHold = cmp.Or(opts.MaxHold, config.DefaultMaxHold)
	opts.ShutdownGrace = cmp.Or(opts.ShutdownGrace, config.DefaultShutdownGrace)
	opts.WaitTime = cmp.Or(opts.WaitTime, 20)
	opts.DeleteFlushEvery = cmp.Or(opts.DeleteFlushEvery, 20*time.Millisecond)
	opts.BacklogCheckEvery = cmp.Or(opts.BacklogCheckEvery, 15*time.Second)
	// A slot is a message held, handled or about to be. One receive's worth
	// beyond MaxInFlight lets the next messages be here the moment a handler
	// frees up, instead of a receive round trip later; they are the
	// received-but-unstarted messages a shutdown gives back at once.
	held := opts.MaxInFlight + prefetch
	w := &Worker{o: opts, slots: make(chan struct{}, held), jobs: make(chan *job, held)}
	for range held {
		w.slots <- struct{}{}
	}
	w.tracer = newTracer(opts.TracerProvider, opts.QueueURL)
	w.sysAttrs = w.tracer.systemAttributes([]sqstypes.MessageSystemAttributeName{
		sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
		sqstypes.MessageSystemAttributeNameMessageGroupId,
		sqstypes.MessageSystemAttributeNameSentTimestamp,
	})
	w.backlog.drainSecs = math.NaN()
	w.sharing.consumers = math.NaN()
	opts.Metrics.watchWorker(func() float64 { return float64(w.held.Load()) }, w.backlog.estimate, w.sharing.estimate)
	w.deleter = newDeleter(opts.SQS, opts.QueueURL, opts.DeleteFlushEvery, opts.Logger, opts.Metrics)
	w.deleter.tracer = w.tracer
	batch := 1
	if opts.Coalesce {
		batch = opts.MaxInFlight
	}
	w.groups = newGroupRunner(batch, w.runGroupBatch)
	return w, nil
}

// prefetch is how many messages may wait, received, for a free handler.
const prefetch = maxBatch

// Ready reports whether the worker is receiving (false before start, while the
// access-denied circuit is open, and while draining).
func (w *Worker) Ready() bool {
	return w.ready.get() && (w.o.Circuit == nil || !w.o.Circuit.Open())
}

// Run receives until ctx is canceled, then drains: in-flight messages get
// ShutdownGrace to finish, deletes are flushed, unstarted messages are released.
// It returns nil after a clean drain. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if w.o.VisibilityTimeout == 0 {
		// SQS may not answer yet (the worker started first): keep asking.
		backoff := retry.NewBackoff(200*time.Millisecond, 10*time.Second)
		for {
			vt, err := w.queueVisibility(ctx)
			if err == nil {
				w.o.VisibilityTimeout = vt
				break
			}
			if wrongQueue(err) {
				return fmt.Errorf("CASEBRIDGE_QUEUE_URL: %w", err)
			}
			d, _ := backoff.Next()
			w.o.Logger.Warn("cannot read the queue's attributes yet; retrying", zap.Duration("wait", d), zap.Error(err))
			if retry.Sleep(ctx, d) != nil {
				return fmt.Errorf("stopped before the queue answered: %w", err)
			}
		}
	}
	// hardCtx ends in-flight work when the grace period is over.
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	w.runCtx, w.hardCtx = ctx, hardCtx
	deleterDone := make(chan struct{})
	go func() { w.deleter.run(); close(deleterDone) }()
	var pool sync.WaitGroup
	for range w.o.MaxInFlight {
		pool.Add(1)
		go func() {
			defer pool.Done()
			for j := range w.jobs {
				if ctx.Err() != nil { // shutting down: not started, give it back at once
					w.giveBack(j, "shutdown before start")
				} else {
					w.process(j)
				}
				w.finish()
			}
		}()
	}

	if w.o.Metrics != nil {
		go w.watchBacklog(ctx)
	}
	var receivers sync.WaitGroup
	for i := range w.o.Receivers {
		receivers.Add(1)
		go func() { defer receivers.Done(); w.receiveLoop(ctx, i) }()
	}
	w.ready.set(true)
	w.o.Logger.Info("worker started", zap.String("queue", w.o.QueueURL), zap.Int("maxInFlight", w.o.MaxInFlight),
		zap.Int("receivers", w.o.Receivers), zap.Duration("visibilityTimeout", w.o.VisibilityTimeout))
	<-ctx.Done()
	w.ready.set(false)
	receivers.Wait() // long polls are canceled with ctx: no new messages from here on
	close(w.jobs)    // the pool finishes what it was given, then ends
	w.o.Logger.Info("draining", zap.Duration("grace", w.o.ShutdownGrace))

	finished := make(chan struct{})
	go func() { w.inflight.Wait(); close(finished) }()
	timer := time.NewTimer(w.o.ShutdownGrace)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
		w.o.Logger.Warn("shutdown grace over; giving unfinished messages back to the queue")
		hardStop()
		<-finished
	}
	pool.Wait()
	w.deleter.close()
	<-deleterDone
	w.o.Logger.Info("worker stopped")
	return nil
}

// wrongQueue tells a queue that is not there, or not ours to read, from SQS
// being unreachable: retrying cannot fix the first.
func wrongQueue(err error) bool {
	var missing *sqstypes.QueueDoesNotExist
	var api smithy.APIError
	if errors.As(err, &missing) {
		return true
	}
	if errors.As(err, &api) {
		code := api.ErrorCode()
		return strings.Contains(code, "NonExistentQueue") || strings.Contains(code, "AccessDenied")
	}
	return false
}

func (w *Worker) queueVisibility(ctx context.Context) (time.Duration, error) {
	out, err := w.o.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(w.o.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout},
	})
	if err != nil {
		return 0, fmt.Errorf("reading the queue's visibility timeout (%s): %w", w.o.QueueURL, err)
	}
	var secs int
	if _, err := fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)], &secs); err != nil || secs <= 0 {
		secs = 30 // SQS's default
	}
	return time.Duration(secs) * time.Second, nil
}

func (w *Worker) isFIFO() bool { return strings.HasSuffix(w.o.QueueURL, ".fifo") }

type readiness struct {
	mu sync.Mutex
	v  bool
}

func (r *readiness) get() bool  { r.mu.Lock(); defer r.mu.Unlock(); return r.v }
func (r *readiness) set(v bool) { r.mu.Lock(); r.v = v; r.mu.Unlock() }
