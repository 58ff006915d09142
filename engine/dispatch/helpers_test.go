package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/event"
)

// waitFor is the generous timeout of every condition wait: conditions are
// expected within milliseconds, the margin is for loaded CI machines.
const waitFor = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	tablesMu sync.Mutex
	tables   = map[string]*event.Table{}
)

func table(schema, name string) *event.Table {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	k := schema + "." + name
	t := tables[k]
	if t == nil {
		t = event.NewTable(schema, name, []event.Column{{Name: "id", Type: "bigint"}}, []int{0})
		tables[k] = t
	}
	return t
}

// ev builds an event whose ID is its offset, so handlers can report what
// they saw in input terms.
func ev(schema, tbl, key string, off int64) *event.Event {
	return &event.Event{ID: strconv.FormatInt(off, 10), Action: event.Update, Table: table(schema, tbl), Key: key}
}

func offOf(e *event.Event) int64 {
	n, err := strconv.ParseInt(e.ID, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// committer records commits and lets tests wait for a mark.
type committer struct {
	mu      sync.Mutex
	cond    chan struct{}
	commits map[int][]int64
	fail    error
	t       *testing.T
}

func newCommitter(t *testing.T) *committer {
	return &committer{cond: make(chan struct{}), commits: map[int][]int64{}, t: t}
}

func (c *committer) Commit(_ context.Context, stream int, off int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	h := c.commits[stream]
	if len(h) > 0 && off <= h[len(h)-1] {
		c.t.Errorf("stream %d: commit %d after %d: commits must grow", stream, off, h[len(h)-1])
	}
	c.commits[stream] = append(h, off)
	close(c.cond)
	c.cond = make(chan struct{})
	return nil
}

func (c *committer) last(stream int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.commits[stream]
	if len(h) == 0 {
		return -1
	}
	return h[len(h)-1]
}

func (c *committer) max(stream int) int64 { return c.last(stream) }

// waitCommitted waits until stream's commit reaches off.
func (c *committer) waitCommitted(t *testing.T, stream int, off int64) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		c.mu.Lock()
		h, ch := c.commits[stream], c.cond
		c.mu.Unlock()
		if len(h) > 0 && h[len(h)-1] >= off {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("stream %d: commit did not reach %d; commits %v", stream, off, h)
		}
	}
}

// deadLetter records letters; failPuts makes the first n calls fail.
type deadLetter struct {
	mu       sync.Mutex
	failPuts int
	calls    int
	batches  [][]int64
	causes   []error
	raws     []rawLetter
	put      chan struct{}
}

type rawLetter struct {
	stream int
	off    int64
	raw    string
	cause  error
}

func newDeadLetter(failPuts int) *deadLetter {
	return &deadLetter{failPuts: failPuts, put: make(chan struct{}, 100)}
}

func (d *deadLetter) Put(_ context.Context, listener string, batch []*event.Event, cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.calls <= d.failPuts {
		return errors.New("dead letter unavailable")
	}
	var offs []int64
	for _, e := range batch {
		offs = append(offs, offOf(e))
	}
	d.batches = append(d.batches, offs)
	d.causes = append(d.causes, cause)
	d.put <- struct{}{}
	return nil
}

func (d *deadLetter) PutRaw(_ context.Context, listener string, stream int, off int64, raw []byte, cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.calls <= d.failPuts {
		return errors.New("dead letter unavailable")
	}
	d.raws = append(d.raws, rawLetter{stream, off, string(raw), cause})
	d.put <- struct{}{}
	return nil
}

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, worker int, batch []*event.Event) error

func (f handlerFunc) Handle(ctx context.Context, worker int, batch []*event.Event) error {
	return f(ctx, worker, batch)
}

// recorder checks the ordering guarantees: per key, the offsets handled in
// order, and no two calls holding the same key at once.
type recorder struct {
	mu     sync.Mutex
	seen   map[string][]int64
	active map[string]int
	errs   []string
	total  int
}

func newRecorder() *recorder {
	return &recorder{seen: map[string][]int64{}, active: map[string]int{}}
}

func (r *recorder) begin(batch []*event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := map[string]bool{}
	for _, e := range batch {
		k := e.Table.Name + "/" + e.Key
		if !keys[k] {
			keys[k] = true
			if r.active[k] > 0 {
				r.errs = append(r.errs, fmt.Sprintf("key %s handled by two calls at once", k))
			}
			r.active[k]++
		}
	}
}

func (r *recorder) end(batch []*event.Event, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := map[string]bool{}
	for _, e := range batch {
		k := e.Table.Name + "/" + e.Key
		if !keys[k] {
			keys[k] = true
			r.active[k]--
		}
		if ok {
			r.seen[k] = append(r.seen[k], offOf(e))
			r.total++
		}
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// check compares what was handled with what was sent, per key.
func (r *recorder) check(t *testing.T, want map[string][]int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Error(e)
	}
	for k, w := range want {
		got := r.seen[k]
		if len(got) != len(w) {
			t.Errorf("key %s: handled %d events, want %d", k, len(got), len(w))
			continue
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("key %s: event %d is offset %d, want %d (handled out of order)", k, i, got[i], w[i])
				break
			}
		}
	}
	for k := range r.seen {
		if _, ok := want[k]; !ok {
			t.Errorf("key %s handled but never sent", k)
		}
	}
}

// start runs r in a goroutine owned by the test and stops it at cleanup.
func start(t *testing.T, r *Runner) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		r.Stop()
		select {
		case <-r.Done():
		case <-time.After(waitFor):
			t.Error("runner did not stop")
		}
	})
	return errc
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

func deliver(t *testing.T, r *Runner, d Delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := r.Deliver(ctx, d); err != nil {
		t.Fatalf("deliver offset %d: %v", d.Offset, err)
	}
}
