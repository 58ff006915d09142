package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/event"
)

func newRunner(t *testing.T, spec Spec, h Handler, opts RunnerOptions) *Runner {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	}
	if len(spec.Subscribe) == 0 {
		spec.Subscribe = []string{"shop.*"}
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.CommitInterval == 0 {
		opts.CommitInterval = time.Millisecond
	}
	r, err := NewRunner(spec, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recording returns a handler that records into rec and jitters so that
// workers interleave.
func recording(rec *recorder) Handler {
	return handlerFunc(func(ctx context.Context, worker int, batch []*event.Event) error {
		rec.begin(batch)
		if rand.IntN(4) == 0 {
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		}
		rec.end(batch, true)
		return nil
	})
}

func TestRunnerKeepsEachKeyInOrderAcrossWorkers(t *testing.T) {
	rec := newRecorder()
	c := newCommitter(t)
	r := newRunner(t, Spec{Workers: 8, Batch: 16, MaxWait: time.Millisecond}, recording(rec), RunnerOptions{Committer: c})
	start(t, r)

	const n = 20000
	want := map[string][]int64{}
	tables := []string{"orders", "order_items"}
	for off := int64(0); off < n; off++ {
		// 2 tables × 40 keys: each key is updated about 250 times.
		tbl, key := tables[rand.IntN(2)], fmt.Sprint(rand.IntN(40))
		want[tbl+"/"+key] = append(want[tbl+"/"+key], off)
		deliver(t, r, Delivery{Event: ev("shop", tbl, key, off), Offset: off})
	}
	c.waitCommitted(t, 0, n-1)
	rec.check(t, want)
}

func TestRunnerCutsBatchesBySize(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
		return nil
	})
	c := newCommitter(t)
	// MaxWait is an hour: only size can cut a batch until Drain.
	r := newRunner(t, Spec{Batch: 10, MaxWait: time.Hour}, h, RunnerOptions{Committer: c, QueueSize: 100})
	start(t, r)
	for off := int64(0); off < 35; off++ {
		deliver(t, r, Delivery{Event: ev("shop", "orders", "1", off), Offset: off})
	}
	c.waitCommitted(t, 0, 29)
	mu.Lock()
	if !slices.Equal(sizes, []int{10, 10, 10}) {
		t.Errorf("batch sizes %v before drain, want [10 10 10]", sizes)
	}
	mu.Unlock()
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.last(0); got != 34 {
		t.Errorf("committed %d after drain, want 34", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sizes, []int{10, 10, 10, 5}) {
		t.Errorf("batch sizes %v, want [10 10 10 5]: drain hands the partial batch over", sizes)
	}
}

func TestRunnerCommitsEachBatchWhenAsked(t *testing.T) {
	c := newCommitter(t)
	// The interval is an hour: only a finished batch can cause a commit.
	r := newRunner(t, Spec{Batch: 10, MaxWait: time.Hour}, handlerFunc(func(context.Context, int, []*event.Event) error { return nil }),
		RunnerOptions{Committer: c, CommitInterval: time.Hour, CommitEachBatch: true})
	start(t, r)
	for off := int64(0); off < 20; off++ {
		deliver(t, r, Delivery{Event: ev("shop", "orders", "1", off), Offset: off})
	}
	c.waitCommitted(t, 0, 19)
}

func TestRunnerHandsAPartialBatchOverAfterMaxWait(t *testing.T) {
	got := make(chan int, 10)
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		got <- len(batch)
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Batch: 100, MaxWait: 20 * time.Millisecond}, h, RunnerOptions{Committer: c})
	start(t, r)
	for off := int64(0); off < 3; off++ {
		deliver(t, r, Delivery{Event: ev("shop", "orders", "1", off), Offset: off})
	}
	select {
	case n := <-got:
		if n != 3 {
			t.Errorf("first batch has %d events, want 3", n)
		}
	case <-time.After(waitFor):
		t.Fatal("a partial batch was never handed over")
	}
	c.waitCommitted(t, 0, 2)
}

func TestRunnerRetriesAFailingBatchAndHoldsTheCommit(t *testing.T) {
	const backoff = 5 * time.Millisecond
	var mu sync.Mutex
	var attempts []time.Time
	fixed := make(chan struct{})
	rec := newRecorder()
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "bad" {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			select {
			case <-fixed:
			default:
				return errors.New("sink down")
			}
		}
		rec.begin(batch)
		rec.end(batch, true)
		return nil
	})
	c := newCommitter(t)
	// Four workers, one event per batch: the events after the bad one finish
	// on other workers while it fails.
	r := newRunner(t, Spec{Workers: 4, Batch: 1, Retry: Retry{Backoff: backoff, MaxBackoff: time.Second}}, h,
		RunnerOptions{Committer: c})
	start(t, r)
	// The keys after the bad one live on other workers, so they finish
	// while it fails: the mark must still stop below it.
	badWorker := r.pick(ev("shop", "orders", "bad", 0))
	keys := []string{"a", "b", "c", "d", "bad"}
	for i := 0; len(keys) < 10; i++ {
		if k := fmt.Sprint("k", i); r.pick(ev("shop", "orders", k, 0)) != badWorker {
			keys = append(keys, k)
		}
	}
	want := map[string][]int64{}
	for off, k := range keys {
		want["orders/"+k] = []int64{int64(off)}
		deliver(t, r, Delivery{Event: ev("shop", "orders", k, int64(off)), Offset: int64(off)})
	}
	waitUntil(t, "four failed attempts and every other event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 4 && rec.count() == 9
	})
	c.waitCommitted(t, 0, 3)
	if got := c.max(0); got != 3 {
		t.Fatalf("committed %d while offset 4 keeps failing, want 3", got)
	}
	close(fixed)
	c.waitCommitted(t, 0, 9)
	rec.check(t, want)

	mu.Lock()
	defer mu.Unlock()
	wait := backoff
	for i := 1; i < 4; i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap < wait {
			t.Errorf("attempt %d came %s after the previous one, want at least %s", i+1, gap, wait)
		}
		wait *= 2
	}
	if st := r.Status(); !strings.Contains(st.LastError, "sink down") {
		t.Errorf("status last error %q does not name the failure", st.LastError)
	}
}

func TestRunnerDeadLettersABatchAfterMaxAttempts(t *testing.T) {
	var attempts atomic.Int32
	rec := newRecorder()
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "bad" {
			attempts.Add(1)
			return errors.New("script error: boom")
		}
		rec.begin(batch)
		rec.end(batch, true)
		return nil
	})
	c := newCommitter(t)
	dl := newDeadLetter(2) // the dead letter itself fails twice first
	r := newRunner(t, Spec{Batch: 1, DeadLetter: true, Retry: Retry{MaxAttempts: 3, Backoff: time.Millisecond}}, h,
		RunnerOptions{Committer: c, DeadLetter: dl})
	start(t, r)
	keys := []string{"a", "bad", "b"}
	for off, k := range keys {
		deliver(t, r, Delivery{Event: ev("shop", "orders", k, int64(off)), Offset: int64(off)})
	}
	c.waitCommitted(t, 0, 2)
	if n := attempts.Load(); n != 3 {
		t.Errorf("the bad batch was tried %d times, want 3", n)
	}
	rec.check(t, map[string][]int64{"orders/a": {0}, "orders/b": {2}})
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if len(dl.batches) != 1 || !slices.Equal(dl.batches[0], []int64{1}) {
		t.Fatalf("dead letter holds %v, want one batch [1]", dl.batches)
	}
	if dl.causes[0] == nil || !strings.Contains(dl.causes[0].Error(), "boom") {
		t.Errorf("dead letter cause %v, want the handler's error", dl.causes[0])
	}
}

func TestRunnerSendsPoisonToTheDeadLetterInOrder(t *testing.T) {
	rec := newRecorder()
	c := newCommitter(t)
	dl := newDeadLetter(2)
	r := newRunner(t, Spec{Batch: 1, Retry: Retry{Backoff: time.Millisecond}}, recording(rec), RunnerOptions{Committer: c, DeadLetter: dl,
		// Commit only when asked, so every commit can be checked against
		// the dead letter's state.
		CommitInterval: time.Hour})
	start(t, r)
	deliver(t, r, Delivery{Event: ev("shop", "orders", "1", 0), Offset: 0})
	deliver(t, r, Delivery{Offset: 1, Err: errors.New("invalid json"), Raw: []byte("{nope")})
	// Deliver returned: the letter is stored, after two failed puts.
	dl.mu.Lock()
	if len(dl.raws) != 1 || dl.calls != 3 {
		t.Fatalf("dead letter holds %v after %d calls, want one raw letter after 3", dl.raws, dl.calls)
	}
	l := dl.raws[0]
	if l.off != 1 || l.raw != "{nope" || l.cause == nil || l.cause.Error() != "invalid json" {
		t.Errorf("raw letter %+v, want offset 1, payload {nope, cause invalid json", l)
	}
	dl.mu.Unlock()
	deliver(t, r, Delivery{Event: ev("shop", "orders", "1", 2), Offset: 2})
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.last(0); got != 2 {
		t.Errorf("committed %d, want 2", got)
	}
	rec.check(t, map[string][]int64{"orders/1": {0, 2}})
}

func TestRunnerRefusesPoisonWithoutADeadLetter(t *testing.T) {
	c := newCommitter(t)
	r := newRunner(t, Spec{}, recording(newRecorder()), RunnerOptions{Committer: c})
	start(t, r)
	err := r.Deliver(context.Background(), Delivery{Offset: 7, Err: errors.New("bad bytes")})
	if err == nil || !strings.Contains(err.Error(), "offset 7") {
		t.Fatalf("Deliver(poison) = %v, want an error naming the offset", err)
	}
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.last(0); got != -1 {
		t.Errorf("committed %d past a refused poison message", got)
	}
}

func TestRunnerSwapUnderLoadLosesNothing(t *testing.T) {
	rec := newRecorder()
	var gens [4]atomic.Int64
	handlers := make([]Handler, len(gens))
	for i := range handlers {
		handlers[i] = handlerFunc(func(ctx context.Context, w int, batch []*event.Event) error {
			gens[i].Add(int64(len(batch)))
			return recording(rec).Handle(ctx, w, batch)
		})
	}
	c := newCommitter(t)
	r := newRunner(t, Spec{Workers: 4, Batch: 8, MaxWait: time.Millisecond}, handlers[0], RunnerOptions{Committer: c})
	start(t, r)

	const n = 20000
	want := map[string][]int64{}
	for off := int64(0); off < n; off++ {
		key := fmt.Sprint(rand.IntN(50))
		want["orders/"+key] = append(want["orders/"+key], off)
		deliver(t, r, Delivery{Event: ev("shop", "orders", key, off), Offset: off})
		if off > 0 && off%(n/4) == 0 {
			r.Swap(handlers[off/(n/4)])
		}
	}
	c.waitCommitted(t, 0, n-1)
	rec.check(t, want)
	total := int64(0)
	for i := range gens {
		if gens[i].Load() == 0 {
			t.Errorf("handler %d never ran", i)
		}
		total += gens[i].Load()
	}
	if total != n {
		t.Errorf("handlers saw %d events in all, want exactly %d", total, n)
	}
}

func TestRunnerStopFinishesQueuedEventsAndCommits(t *testing.T) {
	rec := newRecorder()
	c := newCommitter(t)
	r := newRunner(t, Spec{Workers: 2, Batch: 7, MaxWait: time.Hour}, recording(rec),
		RunnerOptions{Committer: c, CommitInterval: time.Hour, QueueSize: 1000})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	want := map[string][]int64{}
	for off := int64(0); off < 500; off++ {
		key := fmt.Sprint(off % 13)
		want["orders/"+key] = append(want["orders/"+key], off)
		deliver(t, r, Delivery{Event: ev("shop", "orders", key, off), Offset: off})
	}
	r.Stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run did not return after Stop")
	}
	if got := c.last(0); got != 499 {
		t.Errorf("final commit %d, want 499", got)
	}
	rec.check(t, want)
	if err := r.Deliver(context.Background(), Delivery{Event: ev("shop", "orders", "1", 500), Offset: 500}); !errors.Is(err, ErrStopped) {
		t.Errorf("Deliver after stop = %v, want ErrStopped", err)
	}
}

func TestRunnerStopLeavesAFailingBatchUncommitted(t *testing.T) {
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "bad" {
			return errors.New("sink down")
		}
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Batch: 1, Retry: Retry{Backoff: time.Hour}}, h, RunnerOptions{Committer: c, CommitInterval: time.Hour})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	for off, k := range []string{"a", "bad", "b"} {
		deliver(t, r, Delivery{Event: ev("shop", "orders", k, int64(off)), Offset: int64(off)})
	}
	waitUntil(t, "the bad batch to fail", func() bool { return r.Status().LastError != "" })
	r.Stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := c.last(0); got != 0 {
		t.Errorf("final commit %d, want 0: offset 1 never succeeded", got)
	}
}

func TestRunnerUnsubscribedEventsDoNotHoldTheMark(t *testing.T) {
	gate := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "slow" {
			<-gate
		}
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Subscribe: []string{"shop.orders"}, Batch: 1}, h, RunnerOptions{Committer: c})
	start(t, r)
	deliver(t, r, Delivery{Event: ev("shop", "orders", "1", 0), Offset: 0})
	for off := int64(1); off <= 100; off++ {
		deliver(t, r, Delivery{Event: ev("blog", "posts", "1", off), Offset: off})
	}
	c.waitCommitted(t, 0, 100)

	// A pending subscribed event holds the mark; unsubscribed ones after it
	// do not move it.
	deliver(t, r, Delivery{Event: ev("shop", "orders", "slow", 101), Offset: 101})
	for off := int64(102); off <= 200; off++ {
		deliver(t, r, Delivery{Event: ev("blog", "posts", "1", off), Offset: off})
	}
	st := r.Status()
	if wm := st.Streams[0].Watermark; wm != 100 {
		t.Errorf("watermark %d with offset 101 pending, want 100", wm)
	}
	close(gate)
	c.waitCommitted(t, 0, 200)
}

func TestRunnerTracksStreamsIndependently(t *testing.T) {
	gate := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "slow" {
			<-gate
		}
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Workers: 2, Batch: 1}, h, RunnerOptions{Committer: c})
	start(t, r)
	deliver(t, r, Delivery{Event: ev("shop", "orders", "slow", 5), Stream: 1, Offset: 5})
	for off := int64(0); off < 10; off++ {
		deliver(t, r, Delivery{Event: ev("shop", "orders", "x", off), Stream: 2, Offset: off})
	}
	c.waitCommitted(t, 2, 9)
	if got := c.last(1); got != 4 {
		t.Errorf("stream 1 committed %d while offset 5 is pending, want 4", got)
	}
	close(gate)
	c.waitCommitted(t, 1, 5)
}

func TestRunnerRefusesOffsetsThatDoNotGrow(t *testing.T) {
	c := newCommitter(t)
	r := newRunner(t, Spec{}, recording(newRecorder()), RunnerOptions{Committer: c})
	start(t, r)
	deliver(t, r, Delivery{Event: ev("shop", "orders", "1", 5), Offset: 5})
	for _, d := range []Delivery{
		{Event: ev("shop", "orders", "1", 5), Offset: 5},
		{Event: ev("blog", "posts", "1", 3), Offset: 3},
	} {
		if err := r.Deliver(context.Background(), d); err == nil {
			t.Errorf("offset %d after 5 was accepted", d.Offset)
		}
	}
}

func TestRunnerTreatsAHandlerPanicAsAFailure(t *testing.T) {
	var calls atomic.Int32
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		if calls.Add(1) == 1 {
			panic("nil table")
		}
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Retry: Retry{Backoff: time.Millisecond}}, h, RunnerOptions{Committer: c})
	start(t, r)
	deliver(t, r, Delivery{Event: ev("shop", "orders", "1", 0), Offset: 0})
	c.waitCommitted(t, 0, 0)
	if calls.Load() != 2 {
		t.Errorf("handler called %d times, want 2 (a panic, then a retry)", calls.Load())
	}
}

func TestRunnerHandlesDDLAfterEverythingBeforeIt(t *testing.T) {
	var mu sync.Mutex
	var order []string
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		for _, e := range batch {
			if e.Action != event.DDL {
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			}
			mu.Lock()
			order = append(order, e.ID)
			mu.Unlock()
		}
		return nil
	})
	c := newCommitter(t)
	r := newRunner(t, Spec{Workers: 4, Batch: 4, MaxWait: time.Hour}, h, RunnerOptions{Committer: c})
	start(t, r)
	for off := int64(0); off < 40; off++ {
		e := ev("shop", "orders", fmt.Sprint(off), off)
		if off == 20 {
			e = &event.Event{ID: "20", Action: event.DDL, Table: table("shop", "orders"), Statement: "ALTER TABLE orders ADD c INT"}
		}
		deliver(t, r, Delivery{Event: e, Offset: off})
	}
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	i := slices.Index(order, "20")
	if i != 20 {
		t.Fatalf("the DDL event was handled at position %d, want 20: %v", i, order)
	}
	for _, id := range order[:20] {
		if n := offOf(&event.Event{ID: id}); n >= 20 {
			t.Errorf("event %d handled before the DDL event at offset 20", n)
		}
	}
}

func TestNewRunnerChecksItsInputs(t *testing.T) {
	c := newCommitter(t)
	h := recording(newRecorder())
	tests := []struct {
		name string
		spec Spec
		h    Handler
		opts RunnerOptions
	}{
		{"a spec without a name", Spec{Subscribe: []string{"a.b"}}, h, RunnerOptions{Committer: c}},
		{"a spec without subscriptions", Spec{Name: "x"}, h, RunnerOptions{Committer: c}},
		{"no committer", Spec{Name: "x", Subscribe: []string{"a.b"}}, h, RunnerOptions{}},
		{"no handler", Spec{Name: "x", Subscribe: []string{"a.b"}}, nil, RunnerOptions{Committer: c}},
		{"dead letters without a destination", Spec{Name: "x", Subscribe: []string{"a.b"}, DeadLetter: true}, h, RunnerOptions{Committer: c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRunner(tt.spec, tt.h, tt.opts); err == nil {
				t.Error("NewRunner accepted it")
			}
		})
	}
}

func TestRunnerReportsTheLastEventEachWorkerFinished(t *testing.T) {
	h := handlerFunc(func(_ context.Context, _ int, batch []*event.Event) error {
		if batch[0].Key == "stuck" {
			return errors.New("sink down")
		}
		return nil
	})
	r := newRunner(t, Spec{Workers: 2, Batch: 1, MaxWait: time.Millisecond}, h,
		RunnerOptions{Committer: newCommitter(t)})
	at := func(key string, off int64) *event.Event {
		e := ev("shop", "orders", key, off)
		e.Pos = event.Position{File: "b.000001", Pos: uint32(100 + off)}
		return e
	}
	stuck := r.Worker(at("stuck", 0))
	// A key on the other worker and one on the stuck key's worker.
	var other, same string
	for i := 0; other == "" || same == ""; i++ {
		k := fmt.Sprint("k", i)
		if r.Worker(at(k, 0)) == stuck {
			same = k
		} else {
			other = k
		}
	}
	start(t, r)
	for off, key := range []string{other, other, same, "stuck", other} {
		deliver(t, r, Delivery{Event: at(key, int64(off)), Offset: int64(off)})
	}
	want := make([]event.Mark, 2)
	want[1-stuck] = at(other, 4).Mark()
	want[stuck] = at(same, 2).Mark() // not the stuck event, nor anything after it
	waitUntil(t, fmt.Sprintf("Finished = %+v", want), func() bool { return slices.Equal(r.Finished(), want) })
}

// TestRunnerCallsOnCommitOnceTheBatchIsCommitted: a save made when OnCommit
// is called records the batch's offset and its mark together.
func TestRunnerCallsOnCommitOnceTheBatchIsCommitted(t *testing.T) {
	c := newCommitter(t)
	var r *Runner
	type seen struct {
		finished  uint32 // Pos of the worker's Finished mark
		committed int64
	}
	calls := make(chan seen, 16)
	r = newRunner(t, Spec{Workers: 1, Batch: 1, MaxWait: time.Millisecond}, handlerFunc(func(context.Context, int, []*event.Event) error { return nil }),
		RunnerOptions{Committer: c, CommitInterval: time.Hour, OnCommit: func() {
			calls <- seen{r.Finished()[0].Pos, c.last(0)}
		}})
	start(t, r)
	for off := range int64(5) {
		e := ev("shop", "orders", "k", off)
		e.Pos = event.Position{File: "b.000001", Pos: uint32(100 + off)}
		deliver(t, r, Delivery{Event: e, Offset: off})
		for got := (seen{}); got.finished != uint32(100+off); {
			select {
			case got = <-calls:
				if int64(got.finished)-100 > got.committed {
					t.Fatalf("OnCommit saw event %d finished and offset %d committed", got.finished-100, got.committed)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no OnCommit for offset %d", off)
			}
		}
	}
}
