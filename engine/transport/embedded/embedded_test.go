package embedded

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

const waitFor = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	tablesMu sync.Mutex
	tables   = map[string]*event.Table{}
)

func ev(tbl, key string, id int) *event.Event {
	tablesMu.Lock()
	t := tables[tbl]
	if t == nil {
		t = event.NewTable("shop", tbl, []event.Column{{Name: "id", Type: "bigint"}}, []int{0})
		tables[tbl] = t
	}
	tablesMu.Unlock()
	return &event.Event{ID: strconv.Itoa(id), Action: event.Insert, Table: t, Key: key, TS: int64(1000 + id)}
}

func pos(n int) checkpoint.Position {
	return checkpoint.Position{File: "bin.000001", Pos: uint32(n), TS: int64(1000 + n)}
}

type handlerFunc func(ctx context.Context, worker int, batch []*event.Event) error

func (f handlerFunc) Handle(ctx context.Context, worker int, batch []*event.Event) error {
	return f(ctx, worker, batch)
}

// log records the event ids a listener handled, per key, and whether any id
// came twice.
type log struct {
	mu    sync.Mutex
	byKey map[string][]int
	seen  map[int]int
}

func newLog() *log { return &log{byKey: map[string][]int{}, seen: map[int]int{}} }

func (l *log) handler(gate <-chan struct{}) dispatch.Handler {
	return handlerFunc(func(ctx context.Context, _ int, batch []*event.Event) error {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, e := range batch {
			id, _ := strconv.Atoi(e.ID)
			l.byKey[e.Key] = append(l.byKey[e.Key], id)
			l.seen[id]++
		}
		return nil
	})
}

func (l *log) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func newTransport(t *testing.T, store checkpoint.Store) *Transport {
	t.Helper()
	return New(store, Options{
		SaveInterval: time.Millisecond,
		Logger:       quiet,
		Runner:       dispatch.RunnerOptions{CommitInterval: time.Millisecond, StopGrace: waitFor},
	})
}

// run starts tr.Run and returns a function that stops it and returns its
// error.
func run(t *testing.T, tr *Transport) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(waitFor):
			t.Fatal("transport did not stop")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func spec(name string, subscribe ...string) dispatch.Spec {
	return dispatch.Spec{Name: name, Subscribe: subscribe, Batch: 4, MaxWait: time.Millisecond, Workers: 2}
}

func mustEvent(t *testing.T, tr *Transport, e *event.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := tr.Event(ctx, e); err != nil {
		t.Fatal(err)
	}
}

func mustCommit(t *testing.T, tr *Transport, p checkpoint.Position) {
	t.Helper()
	if err := tr.Commit(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func listenerStatus(tr *Transport, name string) ListenerStatus {
	for _, l := range tr.Status().Listeners {
		if l.Name == name {
			return l
		}
	}
	return ListenerStatus{}
}

func TestTransportSavesOnlyPositionsEveryListenerHasPassed(t *testing.T) {
	store := &checkpoint.Memory{History: true}
	tr := newTransport(t, store)
	ctx := context.Background()
	fast, slow := newLog(), newLog()
	// The slow listener's handler takes one token per batch.
	tokens := make(chan struct{})
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("fast", "shop.*"), Handler: fast.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	slowSpec := spec("slow", "shop.orders")
	slowSpec.Batch, slowSpec.Workers = 1, 1
	if err := tr.Add(ctx, dispatch.Listener{Spec: slowSpec, Handler: slow.handler(tokens)}); err != nil {
		t.Fatal(err)
	}
	// Transaction 1: offsets 0-1; transaction 2: offsets 2-3.
	mustEvent(t, tr, ev("orders", "1", 0))
	mustEvent(t, tr, ev("items", "1", 1))
	mustCommit(t, tr, pos(100))
	mustEvent(t, tr, ev("orders", "2", 2))
	mustEvent(t, tr, ev("items", "2", 3))
	mustCommit(t, tr, pos(200))

	waitUntil(t, "the fast listener to finish", func() bool { return listenerStatus(tr, "fast").Watermark == 3 })
	if err := tr.save(ctx); err != nil {
		t.Fatal(err)
	}
	if p := store.Last(); !p.IsZero() {
		t.Fatalf("saved %s while the slow listener has finished nothing", p)
	}

	tokens <- struct{}{} // the slow listener finishes offset 0: transaction 1 is done
	waitUntil(t, "the slow listener to pass offset 0", func() bool { return listenerStatus(tr, "slow").Watermark >= 1 })
	if err := tr.save(ctx); err != nil {
		t.Fatal(err)
	}
	if p := store.Last(); p != pos(100) {
		t.Fatalf("saved %s, want %s: transaction 2 is not finished by the slow listener", p, pos(100))
	}

	stop := run(t, tr)
	tokens <- struct{}{}
	waitUntil(t, "the position of transaction 2 to be saved", func() bool { return store.Last() == pos(200) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	saves := store.Saves()
	for i := 1; i < len(saves); i++ {
		if saves[i].Pos <= saves[i-1].Pos {
			t.Errorf("saves went back or repeated: %v", saves)
		}
	}
}

func TestTransportIsNotHeldBackByAListenerWithNothingToDo(t *testing.T) {
	store := &checkpoint.Memory{}
	tr := newTransport(t, store)
	run(t, tr)
	busy, idle := newLog(), newLog()
	ctx := context.Background()
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("busy", "shop.orders"), Handler: busy.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("idle", "blog.*"), Handler: idle.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		mustEvent(t, tr, ev("orders", fmt.Sprint(i%5), i))
		mustCommit(t, tr, pos(i+1))
	}
	waitUntil(t, "the last position to be saved", func() bool { return store.Last() == pos(50) })
	if idle.count() != 0 {
		t.Errorf("the idle listener handled %d events of tables it does not subscribe", idle.count())
	}
}

func TestTransportWithoutListenersSavesEveryBoundary(t *testing.T) {
	store := &checkpoint.Memory{}
	tr := newTransport(t, store)
	stop := run(t, tr)
	mustEvent(t, tr, ev("orders", "1", 0))
	mustCommit(t, tr, pos(7))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if p := store.Last(); p != pos(7) {
		t.Errorf("saved %s, want %s", p, pos(7))
	}
}

func TestTransportStopSavesTheFinalPosition(t *testing.T) {
	store := &checkpoint.Memory{}
	tr := New(store, Options{
		SaveInterval: time.Hour, // only the save on stop can write
		Logger:       quiet,
		Runner:       dispatch.RunnerOptions{CommitInterval: time.Hour, StopGrace: waitFor},
	})
	stop := run(t, tr)
	l := newLog()
	s := spec("l", "shop.*")
	s.MaxWait = time.Hour // batches are cut by the stop itself
	if err := tr.Add(context.Background(), dispatch.Listener{Spec: s, Handler: l.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		mustEvent(t, tr, ev("orders", fmt.Sprint(i%7), i))
		if i%10 == 9 {
			mustCommit(t, tr, pos(i+1))
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if p := store.Last(); p != pos(100) {
		t.Errorf("saved %s on stop, want %s", p, pos(100))
	}
	if l.count() != 100 {
		t.Errorf("handled %d events before stopping, want 100", l.count())
	}
	if err := tr.Event(context.Background(), ev("orders", "1", 100)); err == nil {
		t.Error("Event after stop was accepted")
	}
}

// TestTransportReloadsUnderLoad replaces, swaps, removes and adds listeners
// while events flow, and checks that every event reached each listener that
// subscribed to it exactly once and in order per key.
func TestTransportReloadsUnderLoad(t *testing.T) {
	store := &checkpoint.Memory{}
	tr := newTransport(t, store)
	stop := run(t, tr)
	ctx := context.Background()
	stay, moved, gone := newLog(), newLog(), newLog()
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("stay", "shop.*"), Handler: stay.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("moved", "shop.*"), Handler: moved.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(ctx, dispatch.Listener{Spec: spec("gone", "shop.*"), Handler: gone.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	const n = 6000
	produced := make(chan error, 1)
	go func() {
		defer close(produced)
		for i := 0; i < n; i++ {
			if err := tr.Event(ctx, ev("orders", fmt.Sprint(rand.IntN(30)), i)); err != nil {
				produced <- err
				return
			}
			if i%50 == 49 {
				if err := tr.Commit(ctx, pos(i+1)); err != nil {
					produced <- err
					return
				}
			}
		}
	}()
	added := newLog()
	var addedAt int
	for step := 0; step < 4; step++ {
		waitUntil(t, "progress", func() bool { return stay.count() >= (step+1)*n/6 })
		switch step {
		case 0: // a changed spec: the runner is rebuilt
			s := spec("moved", "shop.*")
			s.Batch = 9
			if err := tr.Replace(ctx, dispatch.Listener{Spec: s, Handler: moved.handler(nil)}); err != nil {
				t.Fatal(err)
			}
		case 1: // same spec, new handler
			if err := tr.Apply(ctx, []dispatch.Listener{
				{Spec: spec("stay", "shop.*"), Handler: stay.handler(nil)},
				{Spec: func() dispatch.Spec { s := spec("moved", "shop.*"); s.Batch = 9; return s }(), Handler: moved.handler(nil)},
				{Spec: spec("gone", "shop.*"), Handler: gone.handler(nil)},
			}); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := tr.Remove(ctx, "gone"); err != nil {
				t.Fatal(err)
			}
		case 3:
			addedAt = int(tr.Status().Seq)
			if err := tr.Add(ctx, dispatch.Listener{Spec: spec("added", "shop.*"), Handler: added.handler(nil)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the last position to be saved", func() bool { return store.Last() == pos(n) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]*log{"stay": stay, "moved": moved} {
		l.mu.Lock()
		if len(l.seen) != n {
			t.Errorf("%s handled %d distinct events, want %d", name, len(l.seen), n)
		}
		for id, c := range l.seen {
			if c != 1 {
				t.Errorf("%s handled event %d %d times", name, id, c)
			}
		}
		for k, ids := range l.byKey {
			if !slices.IsSorted(ids) {
				t.Errorf("%s handled key %s out of order", name, k)
			}
		}
		l.mu.Unlock()
	}
	gone.mu.Lock()
	for id, c := range gone.seen {
		if c != 1 {
			t.Errorf("the removed listener handled event %d %d times", id, c)
		}
	}
	gone.mu.Unlock()
	added.mu.Lock()
	defer added.mu.Unlock()
	if len(added.seen) == 0 {
		t.Error("the added listener handled nothing")
	}
	for id := range added.seen {
		if id < addedAt {
			t.Errorf("the added listener handled event %d from before it was added (at %d)", id, addedAt)
		}
	}
}

func TestTransportApplyRejectsABadSpecBeforeChangingAnything(t *testing.T) {
	tr := newTransport(t, &checkpoint.Memory{})
	run(t, tr)
	l := newLog()
	if err := tr.Add(context.Background(), dispatch.Listener{Spec: spec("a", "shop.*"), Handler: l.handler(nil)}); err != nil {
		t.Fatal(err)
	}
	err := tr.Apply(context.Background(), []dispatch.Listener{{Spec: spec("b", "no-dot"), Handler: l.handler(nil)}})
	if err == nil {
		t.Fatal("Apply accepted a malformed subscription")
	}
	if got := tr.Status().Listeners; len(got) != 1 || got[0].Name != "a" {
		t.Errorf("listeners after a refused Apply: %+v, want only a", got)
	}
}

func TestTransportSavesTheStartAtOnce(t *testing.T) {
	store := &checkpoint.Memory{}
	tr := New(store, Options{Logger: quiet}) // Run is not even started
	if err := tr.Commit(context.Background(), pos(3)); err != nil {
		t.Fatal(err)
	}
	if got := store.Last(); got != pos(3) {
		t.Errorf("saved %s after the first commit, want %s", got, pos(3))
	}
}

// TestTransportSavesEachFinishedBatchOnce: the finished marks and the
// position a batch moves are saved together, not one after the other: with
// the file store, each save is an fsync.
func TestTransportSavesEachFinishedBatchOnce(t *testing.T) {
	store := &checkpoint.Memory{History: true}
	tr := newTransport(t, store)
	gate := make(chan struct{})
	sp := spec("l", "shop.orders")
	sp.Batch, sp.Workers = 1, 1
	if err := tr.Add(context.Background(), dispatch.Listener{Spec: sp, Handler: newLog().handler(gate)}); err != nil {
		t.Fatal(err)
	}
	// The start is saved at once; its wake-up of the save loop is taken
	// here, so that the loop saves only what the batches make it save.
	mustCommit(t, tr, pos(0))
	<-tr.moved
	run(t, tr)
	const events = 20
	for i := 1; i <= events; i++ {
		e := ev("orders", "k", i)
		e.Pos = event.Position{File: pos(i).File, Pos: uint32(10 * i)}
		mustEvent(t, tr, e)
		mustCommit(t, tr, pos(10*i+5))
		gate <- struct{}{} // the batch runs once its transaction is known
		waitUntil(t, fmt.Sprintf("%s saved", pos(10*i+5)), func() bool { return store.Last() == pos(10*i+5) })
	}
	if saves := store.Saves(); len(saves) != events+1 {
		t.Errorf("%d saves for %d batches and the start, want one each: %v", len(saves), events, saves)
	}
}

// TestTransportDoesNotRedoAfterARestartWhatListenersFinished stops a
// listener's worker on one event while the other worker goes on, takes the
// saved checkpoint as a kill -9 would leave it, and replays the binlog from
// it into a new transport: the listener gets only what it had not
// finished, unless the server or the listener's layout changed.
func TestTransportDoesNotRedoAfterARestartWhatListenersFinished(t *testing.T) {
	const serverID = 7
	// Event i sits at bin.000001:base+10i; its transaction commits at +5.
	const base = 1000
	at := func(key string, i, base int) *event.Event {
		e := ev("orders", key, i)
		e.Pos = event.Position{File: "bin.000001", Pos: uint32(base + 10*i)}
		return e
	}
	commitAfter := func(i, base int, server uint32) checkpoint.Position {
		p := pos(base + 10*i + 5)
		p.ServerID = server
		return p
	}
	tests := []struct {
		name    string
		server  uint32 // of the restarted capture
		base    int    // of the binlog the restarted capture reads
		workers int    // of the restarted listener
		rewind  bool   // the saved position was moved back by hand
		moves   bool   // capture moves to another server after its start
		skips   bool
	}{
		{"same server and listener", serverID, base, 2, false, false, true},
		{"another server", serverID + 1, base, 2, false, false, false},
		{"another binlog with the same server id", serverID, 100, 2, false, false, false},
		{"another worker count", serverID, base, 3, false, false, false},
		{"a position moved back by hand", serverID, base, 2, true, false, false},
		{"a move to another server after the start", serverID, base, 2, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The first life: the "slow" key's worker is stuck on it.
			open := func(store checkpoint.Store, resume checkpoint.Position) *Transport {
				return New(store, Options{
					SaveInterval: time.Millisecond, Logger: quiet, Resume: resume,
					// Room for what queues behind the stuck event.
					Runner: dispatch.RunnerOptions{CommitInterval: time.Millisecond, StopGrace: waitFor, QueueSize: 64},
				})
			}
			store := &checkpoint.Memory{}
			first := open(store, checkpoint.Position{})
			run(t, first)
			gate := make(chan struct{})
			t.Cleanup(func() { close(gate) }) // before the transport stops
			done := newLog()
			record := done.handler(nil)
			h := handlerFunc(func(ctx context.Context, w int, batch []*event.Event) error {
				for _, e := range batch {
					if e.Key == "slow" {
						select {
						case <-gate:
						case <-ctx.Done():
							return ctx.Err()
						}
					}
				}
				return record.Handle(ctx, w, batch)
			})
			if err := first.Add(context.Background(), dispatch.Listener{Spec: spec("l", "shop.*"), Handler: h}); err != nil {
				t.Fatal(err)
			}
			runner := first.slots["l"].runner
			stuck := runner.Worker(at("slow", 0, base))
			var evs []*event.Event
			lastFree := 0
			for i := 0; len(evs) < 40; i++ {
				key := fmt.Sprint("k", i)
				if len(evs) == 1 {
					key = "slow"
				}
				e := at(key, len(evs), base)
				if runner.Worker(e) != stuck {
					lastFree = len(evs)
				}
				evs = append(evs, e)
			}
			mustCommit(t, first, commitAfter(-1, base, serverID))
			for i, e := range evs {
				mustEvent(t, first, e)
				mustCommit(t, first, commitAfter(i, base, serverID))
			}
			freeMark := fmt.Sprintf(`"pos":%d`, base+10*lastFree)
			waitUntil(t, "the free worker's last event saved as finished", func() bool {
				return strings.Contains(string(store.Last().Finished), freeMark)
			})
			crash := store.Last()
			from := (int(crash.Pos) - base + 5) / 10 // the first event after it
			if from > 1 {
				t.Fatalf("saved %s, past the stuck event 1", crash)
			}
			finishedBefore := done.ids()

			// The second life, from the saved checkpoint.
			if tt.rewind {
				crash.Pos, from = uint32(base-15), 0
			}
			store2 := &checkpoint.Memory{}
			second := open(store2, crash)
			stop := run(t, second)
			again := newLog()
			s := spec("l", "shop.*")
			s.Workers = tt.workers
			if err := second.Add(context.Background(), dispatch.Listener{Spec: s, Handler: again.handler(nil)}); err != nil {
				t.Fatal(err)
			}
			start := crash
			start.ServerID, start.Finished = tt.server, ""
			mustCommit(t, second, start)
			if tt.moves {
				// As capture tells a reconnect to another server.
				start.ServerID = serverID + 1
				mustCommit(t, second, start)
				tt.server = start.ServerID
			}
			for i := from; i < len(evs); i++ {
				mustEvent(t, second, at(evs[i].Key, i, tt.base))
				mustCommit(t, second, commitAfter(i, tt.base, tt.server))
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			redone := again.ids()
			for i := from; i < len(evs); i++ {
				before, now := slices.Contains(finishedBefore, i), slices.Contains(redone, i)
				switch {
				case !before && !now:
					t.Errorf("event %d was never handled", i)
				case before && now && tt.skips:
					t.Errorf("event %d was handled again after the restart", i)
				case before && !now && !tt.skips:
					t.Errorf("event %d was skipped after the restart, with marks that do not apply", i)
				}
			}
			if f := store2.Last().Finished; f != "" {
				t.Errorf("caught up, the checkpoint still holds finished marks: %s", f)
			}
		})
	}
}

// ids returns the event ids handled, in no order.
func (l *log) ids() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]int, 0, len(l.seen))
	for id := range l.seen {
		ids = append(ids, id)
	}
	return ids
}
