// Package embedded joins capture and dispatch in one process without a
// broker (DESIGN §2, embedded mode).
//
// Transport implements capture.Output. Each event gets a global sequence
// number, its offset in the single stream 0, and goes to the runner of
// every listener that subscribes to its table; delivery blocks while a
// runner's queue is full, which stops the binlog reader: memory stays
// bounded whatever the source does.
//
// Checkpoint guarantee: a position passed to Commit is saved only once every
// event numbered before it is finished by every listener it was delivered
// to. Each runner reports its low-water mark through its Committer; a
// listener with nothing unfinished counts as caught up with every event,
// including those it does not subscribe to. A position is saved as soon as
// it is safe, one save at a time, always on stop, and a saved position never
// moves back.
//
// Restart without handling twice: the saved position also records, per
// listener and worker, the last event the worker finished past it
// (checkpoint.Position.Finished; a worker takes its events in binlog
// order). After a restart from that position, an event a listener's worker
// had already finished is not delivered to that listener again. This holds
// only when the listener's workers and subscriptions are unchanged (they
// decide which worker an event goes to) and capture reads the same server
// (checkpoint.Position.ServerID), and only for events past the saved
// position; otherwise the tail is delivered again, as at-least-once allows.
// A kill -9 then repeats, of what had finished, only batches that finished
// in the moment before it, whose marks were not saved yet.
//
// Reload: listeners are added, removed, replaced (spec changed: the old
// runner drains while deliveries are held, then the new one starts with the
// next event) or given a new handler (Swap) while events flow, without
// losing or handling twice anything delivered.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

var (
	metricEvents = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "events_total",
		Help: "Events received from capture.",
	})
	metricSaves = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "checkpoint_saves_total",
		Help: "Checkpoint positions saved.",
	})
	metricSaveErrors = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "checkpoint_save_errors_total",
		Help: "Failed checkpoint saves; the save is tried again a second later.",
	})
	metricCheckpointLag = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "checkpoint_lag_seconds",
		Help: "Source time between the newest transaction captured and the newest one every listener has finished; 0 when caught up.",
	})
	metricSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "resume_skipped_deliveries_total",
		Help: "Deliveries not made after a restart because the listener had finished the event before it.",
	})
	metricCheckpointTS = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "embedded", Name: "checkpoint_timestamp_seconds",
		Help: "Source commit time of the last saved checkpoint, in seconds since the epoch.",
	})
)

// Options tunes a Transport. Zero values take the documented defaults.
type Options struct {
	// SaveInterval is the least time between two saves of the checkpoint.
	// The default, 0, saves as soon as the position moves, one save at a
	// time.
	SaveInterval time.Duration
	// Runner is the template of every runner's options. Committer and
	// CommitEachBatch are set by the transport: commits to it cost one
	// mutex. CommitInterval defaults to 50ms here.
	Runner dispatch.RunnerOptions
	// MaxPendingCommits bounds the remembered transaction boundaries not yet
	// safe. When full, the newest is replaced: the checkpoint then lags a
	// little more, never runs ahead. The default is 4096.
	MaxPendingCommits int
	// Logger is the default for Runner.Logger too. The default is
	// slog.Default().
	Logger *slog.Logger
	// Resume is the checkpoint saved by the previous run, if any: its
	// Finished tells which events past it each listener has finished.
	Resume checkpoint.Position
}

// ErrClosed is returned by Event, Commit and reload calls once the
// transport has stopped.
var ErrClosed = errors.New("embedded transport stopped")

// Transport is the embedded capture.Output. Event, Commit and Heartbeat are
// called by capture's one reading goroutine; Add, Remove, Replace, Swap,
// Apply and Status may be called from any goroutine. Run must be running
// for checkpoints to be saved; it owns the runners' goroutines and stops
// them when its context ends.
type Transport struct {
	store checkpoint.Store
	opts  Options
	log   *slog.Logger

	// feed is a one-slot lock held by Event while it routes and delivers,
	// and by Add and Replace, so a reload cuts the stream at an event
	// boundary. A channel, unlike a mutex, lets a reload give up when its
	// context ends.
	feed    chan struct{}
	targets []*slot // reused by Event, only while holding feed

	ctx    context.Context // lifetime of the runners
	cancel context.CancelFunc
	wg     sync.WaitGroup // the runners' Run goroutines

	saveMu sync.Mutex // one save at a time: Run's, or the first Commit's

	mu       sync.Mutex
	closed   bool
	seq      int64            // offset of the next event
	slots    map[string]*slot // listeners that receive events
	all      []*slot          // slots that count for the checkpoint: live and draining
	route    []*slot          // index-aligned with router
	router   *dispatch.Router
	commits  []boundary    // transaction boundaries not yet safe, by seq
	moved    chan struct{} // signalled when a boundary may have become safe
	captured checkpoint.Position
	safe     checkpoint.Position // newest boundary every listener has passed
	saved    checkpoint.Position
	savedAt  time.Time
	sourceTS int64 // newest source time seen: event commit time or heartbeat
	// resume holds the finished marks of Options.Resume by listener, for
	// slots built before the first event; nil once capture has started.
	resume        map[string]finishedMarks
	resumeFloor   event.Mark // Options.Resume as a mark: skipped events are past it
	resumeChecked bool       // the first Commit or Event has been seen
	// serverID is capture's server; serverMoved is set when a commit came
	// from another one (a failover behind the source's address): marks of
	// two binlogs cannot be compared, so none are used or saved any more.
	serverID    uint32
	serverMoved bool
}

// finishedDoc is checkpoint.Position.Finished.
type finishedDoc struct {
	// File and Pos repeat the position the marks were saved with: marks
	// under a position edited since (to replay from earlier) are ignored.
	File      string                   `json:"file"`
	Pos       uint32                   `json:"pos"`
	Listeners map[string]finishedMarks `json:"listeners"`
}

// finishedMarks is one listener's entry in finishedDoc.
type finishedMarks struct {
	// Layout is what decides which worker an event goes to, and whether it
	// goes to the listener at all; marks of another layout mean nothing.
	Layout string `json:"layout"`
	// Marks holds, by worker index, the last event that worker finished.
	Marks map[int]event.Mark `json:"marks"`
}

// layout is finishedMarks.Layout for spec (defaults applied).
func layout(spec dispatch.Spec) string {
	return fmt.Sprintf("workers=%d subscribe=%s", spec.Workers, strings.Join(slices.Sorted(slices.Values(spec.Subscribe)), ","))
}

// maxFinished bounds the size of checkpoint.Position.Finished, which every
// store must hold (the mysql store's column is a TEXT): beyond it the marks
// are not saved, and a restart handles the tail again.
const maxFinished = 32 << 10

// boundary is a transaction end: pos is safe once every event with an offset
// below seq is finished.
type boundary struct {
	seq int64
	pos checkpoint.Position
}

// slot is one listener's runner and its progress as the transport sees it.
type slot struct {
	t         *Transport
	name      string
	spec      dispatch.Spec
	runner    *dispatch.Runner
	delivered int64  // highest offset handed to the runner, -1 before any
	done      int64  // highest offset the runner committed, -1 before any
	retired   bool   // no longer routed; a refused delivery is not an error
	layout    string // layout(spec), the Layout of its finished marks
	// skip holds, by worker, the last event the listener finished before
	// the restart; skipping is set while events may still be at or before
	// one of them (skipEnd, the latest).
	skip     []event.Mark
	skipEnd  event.Mark
	skipping bool
	exit     chan struct{}
	err      error // Run's result, set before exit closes
}

// Commit implements dispatch.Committer for the slot's runner.
func (s *slot) Commit(_ context.Context, stream int, offset int64) error {
	if stream != 0 {
		return fmt.Errorf("embedded transport: commit for stream %d, only stream 0 exists", stream)
	}
	s.t.mu.Lock()
	s.done = max(s.done, offset)
	s.t.mu.Unlock()
	return nil // the runner's OnCommit wakes the save loop
}

// handled reports whether the listener finished e before the restart, so
// that it is not delivered again. It must be called with mu held.
func (s *slot) handled(e *event.Event) bool {
	m := e.Mark()
	if c, ok := m.Compare(s.t.resumeFloor); !ok || c <= 0 {
		// Only events past the saved position were finished after it;
		// one at or before it comes from another binlog.
		return false
	}
	c, ok := m.Compare(s.skipEnd)
	if !ok {
		return false
	}
	if c > 0 {
		s.skipping = false // the binlog is past every mark
		return false
	}
	w := s.runner.Worker(e)
	return w < len(s.skip) && m.AtOrBefore(s.skip[w])
}

// marks is the slot's entry for checkpoint.Position.Finished: per worker,
// the last event finished, if it is past floor. It must be called with mu
// held.
func (s *slot) marks(floor event.Mark) (finishedMarks, bool) {
	f := finishedMarks{Layout: s.layout}
	for w, m := range s.runner.Finished() {
		if m.IsZero() && w < len(s.skip) {
			// Nothing finished since the restart; events after the
			// old mark come after it in the binlog.
			m = s.skip[w]
		}
		if m.IsZero() || m.AtOrBefore(floor) {
			continue
		}
		if f.Marks == nil {
			f.Marks = make(map[int]event.Mark)
		}
		f.Marks[w] = m
	}
	return f, f.Marks != nil
}

// caughtUpTo is the offset up to which the listener has finished everything
// that concerns it. With nothing unfinished that is every event so far:
// events it was not given are not its business.
func (s *slot) caughtUpTo(seq int64) int64 {
	if s.done >= s.delivered {
		return seq - 1
	}
	return s.done
}

// New builds a transport that saves positions to store. Listeners are added
// with Add or Apply; Run must be started to save checkpoints.
func New(store checkpoint.Store, opts Options) *Transport {
	if opts.MaxPendingCommits <= 0 {
		opts.MaxPendingCommits = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Runner.Logger == nil {
		opts.Runner.Logger = opts.Logger
	}
	if opts.Runner.CommitInterval <= 0 {
		opts.Runner.CommitInterval = 50 * time.Millisecond
	}
	t := &Transport{
		store: store,
		opts:  opts,
		log:   opts.Logger.With(slog.String("transport", "embedded")),
		feed:  make(chan struct{}, 1),
		moved: make(chan struct{}, 1),
		slots: make(map[string]*slot),
	}
	t.resumeFloor = event.Mark{File: opts.Resume.File, Pos: opts.Resume.Pos}
	if f := opts.Resume.Finished; f != "" {
		// Only work done twice can come of ignoring the marks.
		var doc finishedDoc
		switch err := json.Unmarshal([]byte(f), &doc); {
		case err != nil:
			t.log.Warn("the saved checkpoint's finished marks are unreadable; listeners may handle the events after it again",
				slog.String("pos", opts.Resume.String()), slog.Any("err", err))
		case doc.File != opts.Resume.File || doc.Pos != opts.Resume.Pos:
			t.log.Warn("the saved checkpoint's position was changed after its finished marks were saved; listeners handle the events after it again",
				slog.String("pos", opts.Resume.String()), slog.String("marks_at", fmt.Sprintf("%s:%d", doc.File, doc.Pos)))
		default:
			t.resume = doc.Listeners
		}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// checkResume keeps the slots' skip marks only if capture reads the server
// that wrote them, and forgets the saved marks: slots built from now on
// start without any. start is capture's start position, zero if Event came
// first. It must be called with mu held.
func (t *Transport) checkResume(start checkpoint.Position) {
	if t.resumeChecked {
		return
	}
	t.resumeChecked, t.resume = true, nil
	same := start.ServerID != 0 && start.ServerID == t.opts.Resume.ServerID
	for _, s := range t.all {
		if s.skip == nil {
			continue
		}
		if !same {
			s.skip, s.skipping = nil, false
			continue
		}
		t.log.Info("listener skips what it finished before the restart",
			slog.String("listener", s.name), slog.String("until", fmt.Sprintf("%s:%d", s.skipEnd.File, s.skipEnd.Pos)))
	}
	if !same && t.opts.Resume.Finished != "" {
		t.log.Warn("capture reads another server than the one the finished marks were saved on; listeners handle the events after the checkpoint again",
			slog.Any("saved_server_id", t.opts.Resume.ServerID), slog.Any("server_id", start.ServerID))
	}
}

// followServer notes capture's server, and stops using and saving marks
// once it changes. It must be called with mu held.
func (t *Transport) followServer(id uint32) {
	switch {
	case t.serverMoved || id == t.serverID:
	case t.serverID == 0:
		t.serverID = id
	default:
		t.serverMoved = true
		for _, s := range t.all {
			s.skipping = false
		}
		t.log.Warn("capture reads another server now; finished marks are no longer saved, so a restart handles the events after the checkpoint again",
			slog.Any("server_id", id), slog.Any("was", t.serverID))
	}
}

func (t *Transport) lockFeed(ctx context.Context) error {
	select { // uncontended, the common case: cheaper than the select below
	case t.feed <- struct{}{}:
		return nil
	default:
	}
	select {
	case t.feed <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Transport) unlockFeed() { <-t.feed }

// Event numbers e and delivers it to every subscribed listener, blocking
// while one of them is full. An error means e may have reached only some
// listeners; the checkpoint then never passes it, and capture must stop.
func (t *Transport) Event(ctx context.Context, e *event.Event) error {
	if err := t.lockFeed(ctx); err != nil {
		return err
	}
	defer t.unlockFeed()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.checkResume(checkpoint.Position{})
	off := t.seq
	t.seq++
	if e.TS > t.sourceTS {
		t.sourceTS = e.TS
	}
	targets := t.targets[:0]
	if t.router != nil {
		for _, i := range t.router.RouteEvent(e) {
			s := t.route[i]
			if s.skipping && s.handled(e) {
				metricSkipped.Inc()
				continue
			}
			// Set before delivering, under mu: from now on the checkpoint
			// waits for this listener to finish off.
			s.delivered = off
			targets = append(targets, s)
		}
	}
	t.mu.Unlock()
	metricEvents.Inc()
	for _, s := range targets {
		err := s.runner.Deliver(ctx, dispatch.Delivery{Event: e, Offset: off})
		if err != nil {
			if errors.Is(err, dispatch.ErrStopped) && t.isRetired(s) {
				continue // removed meanwhile: the event is no longer its business
			}
			clear(targets)
			return fmt.Errorf("delivering event %s (%s.%s) to listener %q: %w",
				e.ID, e.Table.Schema, e.Table.Name, s.name, err)
		}
	}
	clear(targets)
	t.targets = targets
	return nil
}

func (t *Transport) isRetired(s *slot) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.retired
}

// Commit records that p is safe once every event received so far is
// finished. It never blocks on listeners; Run saves it when it is safe. A
// first Commit before any event (capture's start position) is saved before
// Commit returns.
func (t *Transport) Commit(ctx context.Context, p checkpoint.Position) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	first := t.safe.IsZero() && t.seq == 0
	t.checkResume(p)
	t.followServer(p.ServerID)
	t.commit(p)
	t.mu.Unlock()
	if first {
		// The start position (capture.Output): saved before any event.
		return t.save(ctx)
	}
	return nil
}

// commit records the boundary p after the events received so far. It must
// be called with mu held.
func (t *Transport) commit(p checkpoint.Position) {
	t.captured = p
	if p.TS > t.sourceTS {
		t.sourceTS = p.TS
	}
	b := boundary{seq: t.seq, pos: p}
	if n := len(t.commits); n > 0 && (t.commits[n-1].seq == b.seq || n >= t.opts.MaxPendingCommits) {
		// Same events (an empty transaction) or no room: keep the newer
		// boundary, which needs at least as much finished work.
		t.commits[n-1] = b
	} else {
		t.commits = append(t.commits, b)
	}
	if t.idle() {
		// No runner will report progress: the boundary is safe now.
		t.signalMoved()
	}
}

// idle reports whether every listener has finished all it was given. It
// must be called with mu held.
func (t *Transport) idle() bool {
	for _, s := range t.all {
		if s.done < s.delivered {
			return false
		}
	}
	return true
}

// signalMoved wakes Run to save.
func (t *Transport) signalMoved() {
	select {
	case t.moved <- struct{}{}:
	default: // a save is due already
	}
}

// Heartbeat records the source's time while it is idle, so lag reads zero.
func (t *Transport) Heartbeat(_ context.Context, ts int64) error {
	t.mu.Lock()
	if ts > t.sourceTS {
		t.sourceTS = ts
	}
	t.mu.Unlock()
	return nil
}

// advance moves safe to the newest boundary every listener has passed. It
// must be called with mu held.
func (t *Transport) advance() {
	frontier := t.seq - 1
	for _, s := range t.all {
		frontier = min(frontier, s.caughtUpTo(t.seq))
	}
	i := 0
	for i < len(t.commits) && t.commits[i].seq-1 <= frontier {
		t.safe = t.commits[i].pos
		i++
	}
	if i > 0 {
		n := copy(t.commits, t.commits[i:])
		clear(t.commits[n:])
		t.commits = t.commits[:n]
	}
}

// save saves the newest safe position if it is newer than the saved one.
func (t *Transport) save(ctx context.Context) error {
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	t.mu.Lock()
	t.advance()
	pos := t.safe
	marks := t.finished(pos)
	lag := int64(0)
	if len(t.commits) > 0 && t.sourceTS > pos.TS && pos.TS > 0 {
		lag = t.sourceTS - pos.TS
	}
	t.mu.Unlock()
	// Encoded outside mu, which every event takes. t.saved changes only
	// here, under saveMu.
	pos.Finished = marks.encode()
	changed := pos != t.saved && !pos.IsZero()
	metricCheckpointLag.Set(float64(lag) / 1000)
	if !changed {
		return nil
	}
	if err := t.store.Save(ctx, pos); err != nil {
		metricSaveErrors.Inc()
		t.log.Error("saving checkpoint failed", slog.String("pos", pos.String()), slog.Any("err", err))
		return fmt.Errorf("saving checkpoint %s: %w", pos, err)
	}
	metricSaves.Inc()
	metricCheckpointTS.Set(float64(pos.TS) / 1000)
	t.mu.Lock()
	t.saved, t.savedAt = pos, time.Now()
	t.mu.Unlock()
	return nil
}

// finished is checkpoint.Position.Finished for a save of pos, before
// encoding: the marks of the live listeners past pos. It must be called with
// mu held.
func (t *Transport) finished(pos checkpoint.Position) finishedDoc {
	doc := finishedDoc{File: pos.File, Pos: pos.Pos}
	if t.serverMoved {
		return doc
	}
	floor := event.Mark{File: pos.File, Pos: pos.Pos}
	for name, s := range t.slots {
		if f, ok := s.marks(floor); ok {
			if doc.Listeners == nil {
				doc.Listeners = make(map[string]finishedMarks)
			}
			doc.Listeners[name] = f
		}
	}
	return doc
}

// encode is doc as checkpoint.Position.Finished: empty without marks, or
// beyond maxFinished.
func (doc finishedDoc) encode() checkpoint.RawJSON {
	if doc.Listeners == nil {
		return ""
	}
	data, err := json.Marshal(doc) // sorted keys: equal marks, equal text
	if err != nil || len(data) > maxFinished {
		return "" // marks are plain strings and numbers: only too many
	}
	return checkpoint.RawJSON(data)
}

// Run saves the checkpoint whenever it moves (and every second, which keeps
// the lag metric current while listeners are stuck) until ctx ends, then stops
// every runner (each finishes its in-flight batches and commits), saves
// the final safe position and returns. Stop capture before cancelling ctx,
// or its Event calls fail with ErrClosed. The returned error joins the
// runners' final commit errors and the final save's.
func (t *Transport) Run(ctx context.Context) error {
	checkpoint.SaveLoop(ctx.Done(), t.moved, time.Second, t.opts.SaveInterval, func() error { return t.save(ctx) })
	t.mu.Lock()
	t.closed = true
	slots := append([]*slot(nil), t.all...)
	t.mu.Unlock()
	var errs []error
	for _, s := range slots {
		s.runner.Stop()
	}
	for _, s := range slots {
		<-s.exit
		if s.err != nil {
			errs = append(errs, s.err)
		}
	}
	t.wg.Wait()
	t.cancel()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := t.save(sctx); err != nil {
		errs = append(errs, err)
	}
	t.mu.Lock()
	t.log.Info("embedded transport stopped", slog.String("pos", t.saved.String()), slog.Int("unsafe_commits", len(t.commits)))
	t.mu.Unlock()
	return errors.Join(errs...)
}

// newSlot builds a listener's runner without starting it, so that a bad
// spec fails before anything changes.
func (t *Transport) newSlot(l dispatch.Listener) (*slot, error) {
	s := &slot{t: t, name: l.Spec.Name, delivered: -1, done: -1, exit: make(chan struct{})}
	opts := t.opts.Runner
	opts.Committer = s
	opts.CommitEachBatch = true
	opts.OnCommit = t.signalMoved // done and the marks moved: save both at once
	r, err := dispatch.NewRunner(l.Spec, l.Handler, opts)
	if err != nil {
		return nil, err
	}
	s.runner, s.spec = r, r.Spec()
	s.layout = layout(s.spec)
	return s, nil
}

// insert makes s a live listener. Before capture has started, it takes the
// saved marks of its name, which checkResume then keeps or drops with the
// others. It must be called with mu held.
func (t *Transport) insert(s *slot) {
	t.slots[s.name] = s
	t.all = append(t.all, s)
	f, ok := t.resume[s.name]
	if t.resumeChecked || !ok || f.Layout != s.layout {
		return
	}
	s.skip = make([]event.Mark, s.spec.Workers)
	for w, m := range f.Marks {
		if w >= 0 && w < len(s.skip) {
			s.skip[w] = m
			if c, ok := m.Compare(s.skipEnd); s.skipEnd.IsZero() || (ok && c > 0) {
				s.skipEnd = m
			}
		}
	}
	s.skipping = !s.skipEnd.IsZero()
}

func (t *Transport) start(s *slot) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		s.err = s.runner.Run(t.ctx)
		if s.err != nil {
			t.log.Error("listener runner ended with an error", slog.String("listener", s.name), slog.Any("err", s.err))
		}
		close(s.exit)
	}()
}

// rebuild recomputes the router from the live slots. It must be called with
// mu held; a bad subscription cannot happen here since every runner was
// built from a validated spec.
func (t *Transport) rebuild() {
	t.route = t.route[:0]
	specs := make([]dispatch.Spec, 0, len(t.slots))
	for _, s := range t.all {
		if !s.retired {
			t.route = append(t.route, s)
			specs = append(specs, s.spec)
		}
	}
	router, err := dispatch.NewRouter(specs)
	if err != nil {
		panic(fmt.Sprintf("embedded: router of validated specs: %v", err))
	}
	t.router = router
}

// Add starts a listener. It receives events from the next one on; events
// before it do not hold it back.
func (t *Transport) Add(ctx context.Context, l dispatch.Listener) error {
	s, err := t.newSlot(l)
	if err != nil {
		return err
	}
	if err := t.lockFeed(ctx); err != nil {
		return fmt.Errorf("adding listener %q: %w", l.Spec.Name, err)
	}
	defer t.unlockFeed()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if _, ok := t.slots[s.name]; ok {
		return fmt.Errorf("adding listener %q: it already exists", s.name)
	}
	t.insert(s)
	t.rebuild()
	t.start(s)
	t.log.Info("listener added", slog.String("listener", s.name))
	return nil
}

// Remove stops routing events to a listener, drains what it was given and
// stops it. The listener is gone even when draining fails (ctx ended); then
// its unfinished events no longer hold the checkpoint back, and the drain
// error is returned.
func (t *Transport) Remove(ctx context.Context, name string) error {
	t.mu.Lock()
	s, ok := t.slots[name]
	if !ok {
		t.mu.Unlock()
		return fmt.Errorf("removing listener %q: no such listener", name)
	}
	delete(t.slots, name)
	s.retired = true
	t.rebuild()
	t.mu.Unlock()

	err := s.runner.Drain(ctx)
	s.runner.Stop()
	<-s.exit
	t.mu.Lock()
	t.dropSlot(s)
	t.mu.Unlock()
	t.log.Info("listener removed", slog.String("listener", name))
	if err != nil && !errors.Is(err, dispatch.ErrStopped) {
		return fmt.Errorf("removing listener %q: %w", name, err)
	}
	return nil
}

func (t *Transport) dropSlot(s *slot) {
	for i, x := range t.all {
		if x == s {
			t.all = append(t.all[:i], t.all[i+1:]...)
			break
		}
	}
}

// Replace rebuilds a listener whose spec changed: deliveries are held while
// the old runner drains and stops, then the new runner starts with the next
// event. If draining fails (ctx ended), the old runner keeps running and
// nothing changed. A listener that does not exist is added.
func (t *Transport) Replace(ctx context.Context, l dispatch.Listener) error {
	ns, err := t.newSlot(l)
	if err != nil {
		return err
	}
	if err := t.lockFeed(ctx); err != nil {
		return fmt.Errorf("replacing listener %q: waiting for deliveries to pause: %w", l.Spec.Name, err)
	}
	defer t.unlockFeed()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	old := t.slots[ns.name]
	t.mu.Unlock()
	if old != nil {
		if err := old.runner.Drain(ctx); err != nil {
			return fmt.Errorf("replacing listener %q: %w", ns.name, err)
		}
		old.runner.Stop()
		<-old.exit
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old != nil {
		old.retired = true
		t.dropSlot(old)
	}
	t.insert(ns)
	t.rebuild()
	t.start(ns)
	t.log.Info("listener replaced", slog.String("listener", ns.name))
	return nil
}

// Swap gives a listener a new handler without touching its runner: each
// worker uses h from its next batch on (see dispatch.Runner.Swap).
func (t *Transport) Swap(name string, h dispatch.Handler) error {
	t.mu.Lock()
	s, ok := t.slots[name]
	t.mu.Unlock()
	if !ok {
		return fmt.Errorf("swapping handler of listener %q: no such listener", name)
	}
	s.runner.Swap(h)
	return nil
}

// Apply makes the running listeners those of ls: new names are added,
// missing ones removed, changed specs replaced, and the rest get their new
// handler by Swap. Every spec is checked before anything changes.
func (t *Transport) Apply(ctx context.Context, ls []dispatch.Listener) error {
	seen := make(map[string]bool, len(ls))
	for _, l := range ls {
		if err := l.Spec.Validate(); err != nil {
			return err
		}
		if seen[l.Spec.Name] {
			return fmt.Errorf("listener %q appears twice", l.Spec.Name)
		}
		seen[l.Spec.Name] = true
	}
	t.mu.Lock()
	current := make(map[string]dispatch.Spec, len(t.slots))
	for name, s := range t.slots {
		current[name] = s.spec
	}
	t.mu.Unlock()
	var errs []error
	for name := range current {
		if !seen[name] {
			errs = append(errs, t.Remove(ctx, name))
		}
	}
	for _, l := range ls {
		spec, ok := current[l.Spec.Name]
		switch {
		case !ok:
			errs = append(errs, t.Add(ctx, l))
		case spec.Equal(l.Spec.WithDefaults()):
			errs = append(errs, t.Swap(l.Spec.Name, l.Handler))
		default:
			errs = append(errs, t.Replace(ctx, l))
		}
	}
	return errors.Join(errs...)
}

// ListenerStatus is one listener's progress in the embedded stream.
type ListenerStatus struct {
	Name string `json:"name"`
	// Delivered is the offset of the last event handed to the listener.
	Delivered int64 `json:"delivered"`
	// Watermark is the offset up to which it has finished everything.
	Watermark int64 `json:"watermark"`
	// Behind counts the events since the oldest one it has not finished,
	// whether or not they are its own.
	Behind int64                 `json:"behind"`
	Runner dispatch.RunnerStatus `json:"runner"`
}

// Status is a snapshot for /status.
type Status struct {
	// Seq is the number of events received so far.
	Seq int64 `json:"seq"`
	// Captured is the newest transaction boundary received.
	Captured checkpoint.Position `json:"captured"`
	// Safe is the newest boundary every listener has finished.
	Safe checkpoint.Position `json:"safe"`
	// Saved is the last position written to the store, at SavedAt.
	Saved   checkpoint.Position `json:"saved"`
	SavedAt time.Time           `json:"saved_at,omitzero"`
	// PendingCommits counts boundaries received and not yet safe.
	PendingCommits int `json:"pending_commits"`
	// SourceTS is the newest source time seen (event or heartbeat), ms.
	SourceTS int64 `json:"source_ts"`
	// LagSeconds is the time from the source's newest moment to now.
	LagSeconds float64 `json:"lag_seconds"`
	// CheckpointLagSeconds is source time not yet safe: how far the
	// slowest listener is behind; 0 when caught up.
	CheckpointLagSeconds float64          `json:"checkpoint_lag_seconds"`
	Listeners            []ListenerStatus `json:"listeners"`
}

// Status reports positions, lag and each listener's progress.
func (t *Transport) Status() Status {
	t.mu.Lock()
	t.advance()
	st := Status{
		Seq: t.seq, Captured: t.captured, Safe: t.safe, Saved: t.saved, SavedAt: t.savedAt,
		PendingCommits: len(t.commits), SourceTS: t.sourceTS,
	}
	if t.sourceTS > 0 {
		st.LagSeconds = max(0, time.Since(time.UnixMilli(t.sourceTS)).Seconds())
	}
	if len(t.commits) > 0 && t.safe.TS > 0 && t.sourceTS > t.safe.TS {
		st.CheckpointLagSeconds = float64(t.sourceTS-t.safe.TS) / 1000
	}
	slots := append([]*slot(nil), t.all...)
	ls := make([]ListenerStatus, len(slots))
	for i, s := range slots {
		up := s.caughtUpTo(t.seq)
		ls[i] = ListenerStatus{Name: s.name, Delivered: s.delivered, Watermark: up, Behind: t.seq - 1 - up}
	}
	t.mu.Unlock()
	for i, s := range slots {
		ls[i].Runner = s.runner.Status()
	}
	st.Listeners = ls
	return st
}
