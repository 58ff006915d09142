package dispatch

import (
	"context"
	"errors"

	"github.com/moontide/moontide/engine/event"
)

// Delivery is one message of an ordered input stream handed to a Runner:
// a Kafka record of one partition, or one event of the embedded queue.
//
// Exactly one of Event and Err is set. A Delivery with Err is poison: the
// transport received something it could not decode. The runner sends it to
// the DeadLetter with Raw and then counts it as finished, so one bad message
// never stops a listener and is never silently dropped.
type Delivery struct {
	// Event is the decoded event.
	Event *event.Event
	// Stream names the ordered input the delivery came from: a Kafka
	// partition, or 0 in embedded mode.
	Stream int
	// Offset orders deliveries within Stream: strictly increasing, not
	// necessarily contiguous. Commit reports progress in these offsets.
	Offset int64
	// Err says why the message could not be decoded.
	Err error
	// Raw is the undecodable payload, kept for the dead letter.
	Raw []byte
}

// Committer receives a runner's progress. The transport implements it: the
// Kafka consumer commits the partition offset, the embedded transport moves
// the binlog checkpoint.
//
// Commit(ctx, stream, offset) means every delivery of stream with
// Offset ≤ offset is finished: handled successfully, dead-lettered, or not
// subscribed. Offsets committed for one stream only grow. Commit is called
// from one goroutine of the runner at a time, batched (on a short ticker,
// on Drain and on stop), never once per event. An error is logged and
// counted; the runner keeps going and commits again later, so an error
// costs duplicates after a crash, never a loss. The error of the final
// commit on stop is returned by Run.
type Committer interface {
	Commit(ctx context.Context, stream int, offset int64) error
}

// DeadLetter keeps what a listener gave up on, so that an operator can look
// at it and replay it. In Kafka mode it is the topic <prefix>.<listener>.
//
// Both methods must be safe for concurrent use (workers and the intake call
// them). A nil error means the letter is durable; the runner then counts
// its events as finished. On error the runner retries the same call with
// backoff, for ever while it runs: a letter is never dropped. Calls must
// return when ctx is done.
type DeadLetter interface {
	// Put stores a batch that failed Retry.MaxAttempts times, with the error
	// of the last attempt. The slice is only valid during the call.
	Put(ctx context.Context, listener string, batch []*event.Event, cause error) error
	// PutRaw stores an undecodable message (Delivery.Err set) with its raw
	// payload and where it came from.
	PutRaw(ctx context.Context, listener string, stream int, offset int64, raw []byte, cause error) error
}

// ErrStopped is returned by Runner.Deliver and Runner.Drain once the runner
// is stopping: the delivery was not accepted.
var ErrStopped = errors.New("runner stopped")
