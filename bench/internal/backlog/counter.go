package backlog

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moontide/moontide/engine/event"
)

// Counter is a dispatch.Handler that only counts the backlog's rows: every
// row handled, and every distinct id once, so a bench can tell when each
// row arrived and whether some came twice. It is safe for concurrent
// workers.
type Counter struct {
	seen     []atomic.Bool
	handled  atomic.Int64
	distinct atomic.Int64
	once     sync.Once
	first    atomic.Pointer[time.Time]
}

// NewCounter returns a Counter for ids 1..rows; larger ids are counted as
// handled but never as distinct.
func NewCounter(rows int) *Counter { return &Counter{seen: make([]atomic.Bool, rows+1)} }

// Handle counts the row events of the batch (DDL is skipped) by the first
// column of their after image, the id. It never fails.
func (c *Counter) Handle(_ context.Context, _ int, batch []*event.Event) error {
	c.once.Do(func() { now := time.Now(); c.first.Store(&now) })
	var handled, distinct int64
	for _, e := range batch {
		if e.Action == event.DDL || len(e.After) == 0 {
			continue
		}
		handled++
		if id := e.After[0].Uint(); id < uint64(len(c.seen)) && c.seen[id].CompareAndSwap(false, true) {
			distinct++
		}
	}
	c.handled.Add(handled)
	c.distinct.Add(distinct)
	return nil
}

// Handled is the number of rows handled so far, redeliveries included.
func (c *Counter) Handled() int64 { return c.handled.Load() }

// Distinct is the number of distinct ids handled so far.
func (c *Counter) Distinct() int64 { return c.distinct.Load() }

// FirstAt is when the first batch arrived, or the zero time before it.
func (c *Counter) FirstAt() time.Time {
	if t := c.first.Load(); t != nil {
		return *t
	}
	return time.Time{}
}
