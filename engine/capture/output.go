package capture

import (
	"context"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

// Output receives what capture reads, in binlog order, from the capture's
// single reading goroutine. Each call may block: a blocked call stops the
// binlog reading, which is how backpressure reaches the source.
type Output interface {
	// Event is called once per row change and per DDL statement. The event
	// and its Table may be kept; its row slices are not reused.
	Event(ctx context.Context, e *event.Event) error
	// Commit is called when a transaction ends, with the position to resume
	// from once every event passed before it is finished. The output decides
	// when that is and saves the position then. It is also called once at
	// the start, before any event, with the start position; an output that
	// has saved nothing yet should save that one before it returns, so a
	// process killed before its first transaction resumes there and not at
	// a start such as "latest" that has moved on meanwhile.
	Commit(ctx context.Context, p checkpoint.Position) error
	// Heartbeat is called when the source is idle, with the source's current
	// time in ms since the epoch, so lag can be reported as zero.
	Heartbeat(ctx context.Context, ts int64) error
}
