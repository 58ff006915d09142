package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moontide/moontide/engine/event"
)

// RunnerOptions connects a Runner to its transport. Zero values of the
// optional fields take the documented defaults.
type RunnerOptions struct {
	// Committer receives the runner's progress. Required.
	Committer Committer
	// DeadLetter keeps batches that used up Spec.Retry.MaxAttempts (when
	// Spec.DeadLetter is set) and undecodable deliveries. Required when
	// Spec.DeadLetter is set. Without it an undecodable delivery is refused
	// by Deliver with an error, since it can be neither handled nor dropped.
	DeadLetter DeadLetter
	// Logger receives the runner's logs, with the listener attribute added.
	// The default is slog.Default().
	Logger *slog.Logger
	// QueueSize is the capacity of each worker's queue, in events. A full
	// queue blocks Deliver: that is the backpressure on the input. The
	// default is 2 × Spec.Batch.
	QueueSize int
	// CommitInterval is how often progress is committed while running. The
	// default is 200ms.
	CommitInterval time.Duration
	// CommitEachBatch also commits as soon as a batch finishes, for a
	// Committer that costs little (the embedded transport's is a mutex): a
	// kill -9 then replays little more than the batches in flight.
	CommitEachBatch bool
	// OnCommit, when set, is called after each commit that passed an offset
	// to the Committer or follows a change of Finished, once both are done:
	// a checkpoint save made then records the offsets and the marks of the
	// same batches, in one write (the embedded transport saves then). It
	// runs on the goroutine that commits and must not block. Setting it
	// makes the runner commit after each batch, as CommitEachBatch does.
	OnCommit func()
	// StopGrace is how long a stopping runner lets in-flight batches finish
	// before it cancels the context of Handle calls. The default is 10s.
	StopGrace time.Duration
}

// Defaults of RunnerOptions.
const (
	DefaultCommitInterval = 200 * time.Millisecond
	DefaultStopGrace      = 10 * time.Second
	// finalCommitTimeout bounds the commit a stopping runner makes after
	// its context is already done.
	finalCommitTimeout = 10 * time.Second
)

// Runner runs one listener: it takes deliveries, drops those the listener
// does not subscribe to, spreads the rest over Spec.Workers workers by
// (schema, table, key), cuts batches by Spec.Batch and Spec.MaxWait, calls
// the Handler, retries and dead-letters, and commits the low-water mark of
// each input stream.
//
// Guarantees:
//   - Events of one (schema, table, key) go to one worker, which handles
//     them in delivery order, one batch at a time: they never reorder and
//     never run concurrently, across Swap too.
//   - A DDL event is a barrier: it is handled after every event accepted
//     before it is finished, and events after it wait for it.
//   - An offset is committed only when every delivery of its stream at or
//     below it is finished. A failing batch holds the mark of its streams
//     until it succeeds or is dead-lettered.
//   - Memory is bounded by Spec.Workers × (QueueSize + Spec.Batch) events:
//     Deliver blocks when the worker's queue is full.
//
// Lifecycle: NewRunner, then Run in a goroutine owned by the caller;
// Deliver from the input; Stop (or cancelling Run's context) to end. Run
// returns after the final commit. Deliver, Drain, Swap, Stop and Status are
// safe for concurrent use.
type Runner struct {
	spec  Spec
	opts  RunnerOptions
	log   *slog.Logger
	match *Matcher
	m     *runnerMetrics

	handler atomic.Pointer[handlerBox]
	workers []*worker
	track   tracker

	started  atomic.Bool
	stopOnce sync.Once
	stopping chan struct{} // closed by Stop: intake ends, workers wind down
	done     chan struct{} // closed when Run returns

	// workCtx is the context of Handle and Put calls. It outlives Run's
	// context on purpose, so a graceful stop can finish in-flight batches;
	// it is cancelled when StopGrace runs out.
	workCtx    context.Context
	cancelWork context.CancelFunc

	// draining > 0 makes workers hand partial batches over at once instead
	// of waiting MaxWait; flush wakes workers already waiting.
	draining atomic.Int32
	sigMu    sync.Mutex
	flush    chan struct{}
	swapped  chan struct{} // closed by Swap, wakes workers sleeping in backoff
	finished chan struct{} // signalled when a batch finishes, with CommitEachBatch or OnCommit

	commitMu sync.Mutex // one commit at a time: ticker, Drain and the final one

	marksMu    sync.Mutex
	marks      []event.Mark // per worker: the last binlog event it finished
	marksMoved bool         // marks changed since the last commit

	errMu     sync.Mutex
	lastErr   error
	lastErrAt time.Time
}

type handlerBox struct{ h Handler }

// item is a delivery on its way to a worker.
type item struct {
	ev *event.Event
	r  ref
}

type worker struct {
	id     int
	ch     chan item
	batch  []*event.Event
	refs   []ref
	counts tableCounters
}

// NewRunner builds the runner of one listener. The spec is completed with
// its defaults and validated.
func NewRunner(spec Spec, h Handler, opts RunnerOptions) (*Runner, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.WithDefaults()
	if h == nil {
		return nil, fmt.Errorf("listener %q: no handler", spec.Name)
	}
	if opts.Committer == nil {
		return nil, fmt.Errorf("listener %q: no committer", spec.Name)
	}
	if spec.DeadLetter && opts.DeadLetter == nil {
		return nil, fmt.Errorf("listener %q: dead_letter is set but no dead letter destination is configured", spec.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 2 * spec.Batch
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = DefaultCommitInterval
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	match, err := NewMatcher(spec.Subscribe)
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", spec.Name, err)
	}
	r := &Runner{
		spec:     spec,
		opts:     opts,
		log:      opts.Logger.With(slog.String("listener", spec.Name)),
		match:    match,
		m:        newRunnerMetrics(spec.Name),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		flush:    make(chan struct{}),
		swapped:  make(chan struct{}),
		finished: make(chan struct{}, 1),
	}
	r.workCtx, r.cancelWork = context.WithCancel(context.Background())
	r.handler.Store(&handlerBox{h})
	r.workers = make([]*worker, spec.Workers)
	r.marks = make([]event.Mark, spec.Workers)
	for i := range r.workers {
		r.workers[i] = &worker{
			id:     i,
			ch:     make(chan item, opts.QueueSize),
			batch:  make([]*event.Event, 0, spec.Batch),
			refs:   make([]ref, 0, spec.Batch),
			counts: newTableCounters(r.m),
		}
	}
	return r, nil
}

// Spec is the runner's spec, defaults applied.
func (r *Runner) Spec() Spec { return r.spec }

// Done is closed when Run has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Run starts the workers and the committer and blocks until ctx is done or
// Stop is called. It then stops intake, lets workers finish what they were
// given (handing partial batches over at once, trying a failing batch no
// more), cancels Handle calls still running after StopGrace, makes a final
// commit and returns that commit's error. Deliveries not finished by then
// stay uncommitted: the transport delivers them again after a restart.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return fmt.Errorf("listener %q: runner already started", r.spec.Name)
	}
	defer close(r.done)
	defer r.cancelWork()
	r.log.Info("listener started", slog.Int("workers", r.spec.Workers), slog.Int("batch", r.spec.Batch))

	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(w)
		}()
	}
	commitStop, commitDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(commitDone)
		r.commitLoop(commitStop)
	}()

	select {
	case <-ctx.Done():
	case <-r.stopping:
	}
	r.Stop()

	workersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(workersDone)
	}()
	grace := time.NewTimer(r.opts.StopGrace)
	select {
	case <-workersDone:
		grace.Stop()
	case <-grace.C:
		r.log.Warn("in-flight batches did not finish within the stop grace; cancelling them",
			slog.Duration("grace", r.opts.StopGrace))
		r.cancelWork()
		<-workersDone
	}
	close(commitStop)
	<-commitDone

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalCommitTimeout)
	defer cancel()
	err := r.commit(cctx)
	left := r.track.pending()
	r.m.inFlight.Sub(float64(left))
	if err != nil {
		r.log.Error("final commit failed", slog.Any("err", err))
		return fmt.Errorf("listener %q: final commit: %w", r.spec.Name, err)
	}
	r.log.Info("listener stopped", slog.Int("unfinished", left))
	return nil
}

// Stop asks Run to stop and returns at once; Done tells when it has. Later
// Deliver and Drain calls return ErrStopped.
func (r *Runner) Stop() {
	r.stopOnce.Do(func() { close(r.stopping) })
}

func (r *Runner) isStopping() bool {
	select {
	case <-r.stopping:
		return true
	default:
		return false
	}
}

// Deliver hands the runner one delivery. It blocks while the queue of the
// event's worker is full; that is how a slow listener slows its input.
//
// Calls for one stream must not run concurrently and must carry increasing
// offsets (≥ 0); calls for different streams may run concurrently. A nil
// error means the delivery was accepted: the runner finishes it or, if it
// stops first, never commits past it. On error (ctx done, ErrStopped, an
// offset that does not grow, poison without a dead letter) the delivery was
// not accepted and the caller still owns it.
func (r *Runner) Deliver(ctx context.Context, d Delivery) error {
	if r.isStopping() {
		return ErrStopped
	}
	if d.Err != nil || d.Event == nil {
		return r.poison(ctx, d)
	}
	e := d.Event
	if !r.match.MatchEvent(e) {
		// Not subscribed: finished on arrival, it only moves the mark.
		if bad := r.track.skip(d.Stream, d.Offset); bad != nil {
			return r.offsetError(bad)
		}
		return nil
	}
	if e.Action == event.DDL {
		return r.deliverBarrier(ctx, d)
	}
	return r.enqueue(ctx, d)
}

func (r *Runner) enqueue(ctx context.Context, d Delivery) error {
	w := r.workers[r.pick(d.Event)]
	rf, bad := r.track.add(d.Stream, d.Offset)
	if bad != nil {
		return r.offsetError(bad)
	}
	r.m.inFlight.Inc()
	it := item{d.Event, rf}
	// Most deliveries find room in the queue; a send alone costs a fraction
	// of the three-way select (which a profile of capture put at 15%
	// of its CPU). Either may send while stopping, as the select could.
	select {
	case w.ch <- it:
		return nil
	default:
	}
	select {
	case w.ch <- it:
		return nil
	case <-r.stopping:
		r.refuse(rf)
		return ErrStopped
	case <-ctx.Done():
		r.refuse(rf)
		return ctx.Err()
	}
}

func (r *Runner) refuse(rf ref) {
	r.track.untrack(rf)
	r.m.inFlight.Dec()
}

func (r *Runner) offsetError(e *errOffset) error {
	return fmt.Errorf("listener %q: stream %d: offset %d after %d: offsets must grow", r.spec.Name, e.stream, e.off, e.last)
}

// deliverBarrier hands over a DDL event once everything before it is
// finished and returns once it is finished itself, so that a schema change
// is never applied before or after the wrong rows. In Kafka mode the
// barrier covers what this process received of the listener's partitions.
func (r *Runner) deliverBarrier(ctx context.Context, d Delivery) error {
	if err := r.waitFinished(ctx); err != nil {
		return err
	}
	if err := r.enqueue(ctx, d); err != nil {
		return err
	}
	// The event is accepted: a failure to wait for it is the caller's
	// context ending, and the event stays owned by the runner.
	if err := r.waitFinished(ctx); err != nil && !errors.Is(err, ErrStopped) {
		return err
	}
	return nil
}

// waitFinished waits until every delivery accepted so far is finished,
// telling workers to hand partial batches over at once meanwhile.
func (r *Runner) waitFinished(ctx context.Context) error {
	r.draining.Add(1)
	defer r.draining.Add(-1)
	r.sigMu.Lock()
	close(r.flush)
	r.flush = make(chan struct{})
	r.sigMu.Unlock()
	return r.track.wait(ctx, r.stopping)
}

// poison sends an undecodable delivery to the dead letter and counts it
// finished. It runs on the caller's goroutine: the rest of the stream waits
// behind it, which keeps the stream's order and costs nothing when messages
// decode.
func (r *Runner) poison(ctx context.Context, d Delivery) error {
	cause := d.Err
	if cause == nil {
		cause = errors.New("delivery without an event")
	}
	if r.opts.DeadLetter == nil {
		return fmt.Errorf("listener %q: undecodable message at stream %d offset %d and no dead letter to keep it: %w",
			r.spec.Name, d.Stream, d.Offset, cause)
	}
	rf, bad := r.track.add(d.Stream, d.Offset)
	if bad != nil {
		return r.offsetError(bad)
	}
	r.m.inFlight.Inc()
	r.log.Warn("undecodable message goes to the dead letter",
		slog.Int("stream", d.Stream), slog.Int64("offset", d.Offset), slog.Any("err", cause))
	err := r.retryPut(ctx, func(ctx context.Context) error {
		return r.opts.DeadLetter.PutRaw(ctx, r.spec.Name, d.Stream, d.Offset, d.Raw, cause)
	})
	if err != nil {
		r.refuse(rf)
		return err
	}
	r.m.deadMessages.Inc()
	r.track.finish([]ref{rf})
	r.m.inFlight.Dec()
	return nil
}

// retryPut calls put until it succeeds: a dead letter is never dropped. It
// gives up only when ctx is done or the runner stops.
func (r *Runner) retryPut(ctx context.Context, put func(context.Context) error) error {
	backoff := r.spec.Retry.Backoff
	for attempt := 1; ; attempt++ {
		err := put(ctx)
		if err == nil {
			return nil
		}
		r.noteErr(err)
		r.log.Error("writing to the dead letter failed; retrying",
			slog.Int("attempt", attempt), slog.Duration("backoff", backoff), slog.Any("err", err))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.stopping:
			t.Stop()
			return ErrStopped
		}
		backoff = min(2*backoff, r.spec.Retry.MaxBackoff)
	}
}

// Worker is the index of the worker that handles e when it is delivered:
// it depends only on (schema, table, key) and Spec.Workers.
func (r *Runner) Worker(e *event.Event) int { return r.pick(e) }

// Finished returns, per worker, the binlog mark of the last event it
// finished (handled or dead-lettered); zero for a worker that finished none.
// A worker takes its events in delivery order, so when deliveries come in
// binlog order (embedded mode), every event given to worker i at or before
// Finished()[i] is finished.
func (r *Runner) Finished() []event.Mark {
	r.marksMu.Lock()
	defer r.marksMu.Unlock()
	return slices.Clone(r.marks)
}

// pick maps (schema, table, key) to a worker with FNV-1a, inline so that it
// allocates nothing.
func (r *Runner) pick(e *event.Event) int {
	if len(r.workers) == 1 {
		return 0
	}
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	mix := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h ^= 0xff // separator: ("ab","c") and ("a","bc") differ
		h *= prime64
	}
	mix(e.Table.Schema)
	mix(e.Table.Name)
	mix(e.Key)
	return int(h % uint64(len(r.workers)))
}

// Swap makes h the handler of every batch attempt that starts from now on.
// A Handle call in progress finishes with the old handler; a batch waiting
// to be retried is retried at once with h, because a reload is how a user
// fixes a batch that keeps failing. The caller owns the old handler and
// closes it once Swap has returned and in-flight calls are done (Drain).
func (r *Runner) Swap(h Handler) {
	if h == nil {
		return
	}
	r.handler.Store(&handlerBox{h})
	r.sigMu.Lock()
	close(r.swapped)
	r.swapped = make(chan struct{})
	r.sigMu.Unlock()
	r.log.Info("listener handler swapped")
}

// Drain waits until every delivery accepted before the call is finished,
// then commits. The caller holds back new deliveries meanwhile when it needs
// a clean cut (a reload that rebuilds the runner). It returns ErrStopped if
// the runner stops first, or ctx's error.
func (r *Runner) Drain(ctx context.Context) error {
	if r.isStopping() {
		return ErrStopped
	}
	if err := r.waitFinished(ctx); err != nil {
		return fmt.Errorf("draining listener %q: %w", r.spec.Name, err)
	}
	if err := r.commit(ctx); err != nil {
		return fmt.Errorf("draining listener %q: %w", r.spec.Name, err)
	}
	return nil
}

// work is worker w's loop: cut a batch, run it, repeat. It returns when the
// runner stops and w's queue is empty, or when a batch fails while stopping.
func (r *Runner) work(w *worker) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var it item
		select {
		case it = <-w.ch:
		case <-r.stopping:
			select {
			case it = <-w.ch:
			default:
				return
			}
		}
		w.add(it)
		r.fill(w, timer)
		if !r.runBatch(w) {
			return
		}
	}
}

func (w *worker) add(it item) {
	w.batch = append(w.batch, it.ev)
	w.refs = append(w.refs, it.r)
}

// fill adds queued events to w's batch until it holds Spec.Batch events,
// MaxWait has passed since the batch began, or someone waits for the
// runner to be idle (Drain, a DDL barrier, stop).
func (r *Runner) fill(w *worker, timer *time.Timer) {
	if len(w.batch) >= r.spec.Batch {
		return
	}
	timer.Reset(r.spec.MaxWait)
	defer timer.Stop()
	for len(w.batch) < r.spec.Batch {
		select {
		case it := <-w.ch:
			w.add(it)
			continue
		default:
		}
		// Take the flush channel before reading draining: a waiter sets
		// draining before it closes the channel, so one of the two is seen.
		r.sigMu.Lock()
		flush := r.flush
		r.sigMu.Unlock()
		if r.draining.Load() > 0 || r.isStopping() {
			return
		}
		select {
		case it := <-w.ch:
			w.add(it)
		case <-timer.C:
			return
		case <-flush:
			return
		case <-r.stopping:
			return
		}
	}
}

// runBatch runs w's batch until it succeeds or is dead-lettered, then
// finishes it. It returns false, leaving the batch unfinished, when the
// runner stops before that.
func (r *Runner) runBatch(w *worker) bool {
	start := time.Now()
	r.m.batchEvents.Observe(float64(len(w.batch)))
	backoff := r.spec.Retry.Backoff
	handled := true
	for attempt := 1; ; attempt++ {
		err := r.call(w)
		if err == nil {
			break
		}
		r.m.failures.Inc()
		r.noteErr(err)
		first := w.batch[0]
		r.log.Warn("batch failed",
			slog.Int("worker", w.id), slog.Int("attempt", attempt), slog.Int("events", len(w.batch)),
			slog.String("table", first.Table.Schema+"."+first.Table.Name),
			slog.String("pos", fmt.Sprintf("%s:%d", first.Pos.File, first.Pos.Pos)),
			slog.Any("err", err))
		if r.isStopping() {
			// Trying again could outlast the grace; the batch and what
			// follows it on this worker stay unfinished and uncommitted.
			w.reset()
			return false
		}
		if r.spec.DeadLetter && r.spec.Retry.MaxAttempts > 0 && attempt >= r.spec.Retry.MaxAttempts {
			if !r.deadLetter(w, err) {
				w.reset()
				return false
			}
			handled = false
			break
		}
		r.m.retries.Inc()
		r.sigMu.Lock()
		swapped := r.swapped
		r.sigMu.Unlock()
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
			backoff = min(2*backoff, r.spec.Retry.MaxBackoff)
		case <-swapped:
			t.Stop()
			backoff = r.spec.Retry.Backoff
		case <-r.stopping:
			t.Stop()
			w.reset()
			return false
		}
	}
	if handled {
		w.counts.count(w.batch)
	}
	if m := w.batch[len(w.batch)-1].Mark(); !m.IsZero() {
		r.marksMu.Lock()
		r.marks[w.id] = m
		r.marksMoved = true
		r.marksMu.Unlock()
	}
	r.track.finish(w.refs)
	if r.opts.CommitEachBatch || r.opts.OnCommit != nil {
		select {
		case r.finished <- struct{}{}:
		default: // a commit is due already
		}
	}
	r.m.inFlight.Sub(float64(len(w.batch)))
	r.m.batchSeconds.Observe(time.Since(start).Seconds())
	w.reset()
	return true
}

// reset empties the batch for reuse, dropping its pointers so finished
// events can be collected.
func (w *worker) reset() {
	clear(w.batch)
	w.batch = w.batch[:0]
	clear(w.refs)
	w.refs = w.refs[:0]
}

// call runs one attempt, turning a panic into an error so that a broken
// handler fails its batch instead of the process.
func (r *Runner) call(w *worker) (err error) {
	h := r.handler.Load().h
	t0 := time.Now()
	defer func() {
		r.m.handleSeconds.Observe(time.Since(t0).Seconds())
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h.Handle(r.workCtx, w.id, w.batch)
}

// deadLetter puts w's batch to the dead letter, retrying Put until it
// succeeds. It returns false if the runner stops first.
func (r *Runner) deadLetter(w *worker, cause error) bool {
	first := w.batch[0]
	r.log.Error("batch used up its attempts; sending it to the dead letter",
		slog.Int("worker", w.id), slog.Int("events", len(w.batch)),
		slog.String("table", first.Table.Schema+"."+first.Table.Name),
		slog.String("pos", fmt.Sprintf("%s:%d", first.Pos.File, first.Pos.Pos)),
		slog.Any("err", cause))
	err := r.retryPut(r.workCtx, func(ctx context.Context) error {
		return r.opts.DeadLetter.Put(ctx, r.spec.Name, w.batch, cause)
	})
	if err != nil {
		return false
	}
	r.m.deadBatches.Inc()
	r.m.deadLetterEvents.Add(float64(len(w.batch)))
	return true
}

func (r *Runner) noteErr(err error) {
	r.errMu.Lock()
	r.lastErr, r.lastErrAt = err, time.Now()
	r.errMu.Unlock()
}

func (r *Runner) commitLoop(stop <-chan struct{}) {
	t := time.NewTicker(r.opts.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.finished:
		case <-stop:
			return
		}
		// Errors are logged and counted inside; the next tick retries.
		_ = r.commit(r.workCtx)
	}
}

// commit passes each stream's mark to the Committer if it moved, then
// calls OnCommit if that or Finished moved.
func (r *Runner) commit(ctx context.Context) error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.marksMu.Lock()
	moved := r.marksMoved
	r.marksMoved = false
	r.marksMu.Unlock()
	type mark struct {
		s   *stream
		off int64
	}
	var marks [8]mark
	todo := marks[:0]
	r.track.mu.Lock()
	for _, s := range r.track.order {
		if off, ok := s.watermark(); ok && off > s.committed {
			todo = append(todo, mark{s, off})
		}
	}
	r.track.mu.Unlock()
	var errs []error
	for _, mk := range todo {
		if err := r.opts.Committer.Commit(ctx, mk.s.id, mk.off); err != nil {
			r.m.commitErrors.Inc()
			r.noteErr(err)
			r.log.Error("commit failed", slog.Int("stream", mk.s.id), slog.Int64("offset", mk.off), slog.Any("err", err))
			errs = append(errs, fmt.Errorf("committing stream %d offset %d: %w", mk.s.id, mk.off, err))
			continue
		}
		r.track.mu.Lock()
		mk.s.committed = mk.off
		r.track.mu.Unlock()
		r.m.committed(mk.s.id, mk.off)
		moved = true
	}
	if moved && r.opts.OnCommit != nil {
		r.opts.OnCommit()
	}
	return errors.Join(errs...)
}

// StreamStatus is the progress of one input stream.
type StreamStatus struct {
	Stream int `json:"stream"`
	// Last is the highest offset accepted, -1 before any.
	Last int64 `json:"last"`
	// Watermark is the highest offset at or below which everything is
	// finished, -1 before any.
	Watermark int64 `json:"watermark"`
	// Committed is the last offset passed to the Committer, -1 before any.
	Committed int64 `json:"committed"`
	// Pending counts the accepted deliveries not finished.
	Pending int `json:"pending"`
}

// RunnerStatus is a snapshot for /status.
type RunnerStatus struct {
	Listener  string         `json:"listener"`
	Workers   int            `json:"workers"`
	Streams   []StreamStatus `json:"streams"`
	LastError string         `json:"last_error,omitempty"`
	LastErrAt time.Time      `json:"last_error_at,omitzero"`
}

// Status returns the runner's progress and its last error.
func (r *Runner) Status() RunnerStatus {
	st := RunnerStatus{Listener: r.spec.Name, Workers: r.spec.Workers}
	r.track.mu.Lock()
	for _, s := range r.track.order {
		wm, ok := s.watermark()
		if !ok {
			wm = -1
		}
		st.Streams = append(st.Streams, StreamStatus{Stream: s.id, Last: s.last, Watermark: wm, Committed: s.committed, Pending: s.unfinished()})
	}
	r.track.mu.Unlock()
	r.errMu.Lock()
	if r.lastErr != nil {
		st.LastError, st.LastErrAt = r.lastErr.Error(), r.lastErrAt
	}
	r.errMu.Unlock()
	return st
}
