package dispatch

import (
	"context"
	"sync"
)

// stream tracks the deliveries of one input stream that are accepted but
// not finished, in offset order, to compute its low-water mark: the highest
// offset at or below which every delivery is finished.
//
// Entries live in a ring indexed by ticket (the count of entries ever
// tracked). Finishing marks an entry; the head is popped while finished.
// Unsubscribed deliveries take no entry: they only move last, so a run of
// events nobody wants costs nothing and never holds the mark back.
type stream struct {
	id         int
	ring       []entry
	head       int    // ring index of the oldest pending entry
	n          int    // entries in the ring, finished or not
	headTicket uint64 // ticket of ring[head]
	seen       bool   // an offset was accepted
	last       int64  // the highest offset accepted
	committed  int64  // the highest offset passed to Committer.Commit
}

type entry struct {
	off  int64
	prev int64 // last before this entry, restored by untrack
	done bool
}

// watermark is the highest offset such that every accepted delivery at or
// below it is finished, and whether there is one. Offsets never delivered
// (gaps) are below the oldest pending one and concern nobody, so the mark
// may name an offset that was never delivered.
func (s *stream) watermark() (int64, bool) {
	if s.n > 0 {
		off := s.ring[s.head].off - 1
		return off, off >= 0
	}
	return s.last, s.seen
}

func (s *stream) track(off int64) uint64 {
	if s.n == len(s.ring) {
		s.grow()
	}
	s.ring[(s.head+s.n)&(len(s.ring)-1)] = entry{off: off, prev: s.last}
	t := s.headTicket + uint64(s.n)
	s.n++
	s.last, s.seen = off, true
	return t
}

func (s *stream) grow() {
	size := 2 * len(s.ring)
	if size == 0 {
		size = 64
	}
	ring := make([]entry, size) // a power of two, so & replaces %
	for i := 0; i < s.n; i++ {
		ring[i] = s.ring[(s.head+i)&(len(s.ring)-1)]
	}
	s.ring, s.head = ring, 0
}

// finish marks ticket t done and pops finished entries off the head. It
// reports whether the mark moved.
func (s *stream) finish(t uint64) bool {
	s.ring[(s.head+int(t-s.headTicket))&(len(s.ring)-1)].done = true
	if t != s.headTicket {
		return false
	}
	for s.n > 0 && s.ring[s.head].done {
		s.head = (s.head + 1) & (len(s.ring) - 1)
		s.headTicket++
		s.n--
	}
	return true
}

// untrack forgets ticket t, which must be the newest entry: the delivery was
// refused, so the caller still owns it and the mark must not count it.
func (s *stream) untrack(t uint64) {
	if s.n == 0 || t != s.headTicket+uint64(s.n-1) {
		return
	}
	s.n--
	s.last = s.ring[(s.head+s.n)&(len(s.ring)-1)].prev
	s.seen = s.last >= 0 || s.n > 0
}

// ref names one tracked delivery.
type ref struct {
	s *stream
	t uint64
}

// tracker holds the streams of one runner under one mutex. The lock is
// taken once per accepted delivery and once per finished batch, never per
// event on the worker side.
type tracker struct {
	mu      sync.Mutex
	streams map[int]*stream
	order   []*stream     // streams in first-seen order, for commits and status
	wake    chan struct{} // closed when a mark moves and someone waits
}

func newStream(id int) *stream { return &stream{id: id, last: -1, committed: -1} }

func (tr *tracker) get(id int) *stream {
	s := tr.streams[id]
	if s == nil {
		if tr.streams == nil {
			tr.streams = make(map[int]*stream)
		}
		s = newStream(id)
		tr.streams[id] = s
		tr.order = append(tr.order, s)
	}
	return s
}

// errOffset is the reason a delivery is refused when its offset does not
// grow; the runner wraps it with context.
type errOffset struct{ stream, last, off int64 }

// add tracks a delivery as pending.
func (tr *tracker) add(id int, off int64) (ref, *errOffset) {
	tr.mu.Lock()
	s := tr.get(id)
	if s.seen && off <= s.last {
		tr.mu.Unlock()
		return ref{}, &errOffset{int64(id), s.last, off}
	}
	t := s.track(off)
	tr.mu.Unlock()
	return ref{s, t}, nil
}

// skip records a delivery that is finished on arrival (not subscribed).
func (tr *tracker) skip(id int, off int64) *errOffset {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s := tr.get(id)
	if s.seen && off <= s.last {
		return &errOffset{int64(id), s.last, off}
	}
	s.last, s.seen = off, true
	tr.signal()
	return nil
}

func (tr *tracker) untrack(r ref) {
	tr.mu.Lock()
	r.s.untrack(r.t)
	tr.mu.Unlock()
}

func (tr *tracker) finish(refs []ref) {
	tr.mu.Lock()
	moved := false
	for _, r := range refs {
		if r.s.finish(r.t) {
			moved = true
		}
	}
	if moved {
		tr.signal()
	}
	tr.mu.Unlock()
}

// signal wakes waiters; it allocates only while someone waits.
func (tr *tracker) signal() {
	if tr.wake != nil {
		close(tr.wake)
		tr.wake = nil
	}
}

// unfinished counts the deliveries of s accepted and not finished. It walks
// the ring: for status and stop, not for the hot path.
func (s *stream) unfinished() int {
	n := 0
	for i := 0; i < s.n; i++ {
		if !s.ring[(s.head+i)&(len(s.ring)-1)].done {
			n++
		}
	}
	return n
}

// pending counts the deliveries accepted and not yet finished.
func (tr *tracker) pending() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, s := range tr.order {
		n += s.unfinished()
	}
	return n
}

// target is a point in every stream to wait for: the ticket count when the
// wait began.
type target struct {
	s      *stream
	ticket uint64
}

// wait blocks until every delivery accepted before the call is finished, or
// until ctx or abort ends, and then returns the cause.
func (tr *tracker) wait(ctx context.Context, abort <-chan struct{}) error {
	tr.mu.Lock()
	targets := make([]target, 0, len(tr.order))
	for _, s := range tr.order {
		if s.n > 0 {
			targets = append(targets, target{s, s.headTicket + uint64(s.n)})
		}
	}
	for {
		for len(targets) > 0 {
			t := targets[len(targets)-1]
			if t.s.n > 0 && t.s.headTicket < t.ticket {
				break
			}
			targets = targets[:len(targets)-1]
		}
		if len(targets) == 0 {
			tr.mu.Unlock()
			return nil
		}
		if tr.wake == nil {
			tr.wake = make(chan struct{})
		}
		w := tr.wake
		tr.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		case <-abort:
			return ErrStopped
		}
		tr.mu.Lock()
	}
}
