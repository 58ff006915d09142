package dispatch

import (
	"context"
	"time"

	"github.com/moontide/moontide/engine/event"
)

// Handler runs a listener's code on a batch. engine/lua implements it for
// Lua scripts; tests use recording fakes.
//
// Handle is called by worker goroutine number worker (0 ≤ worker < the
// listener's Workers) and only by that goroutine, so an implementation may
// keep per-worker state (a Lua state) without locks. The batch holds events
// of keys owned by that worker, in source order; the slice is only valid
// during the call.
//
// A nil error means every effect of the batch is durable (sink writes
// flushed and acknowledged): the runner may then commit past the batch. An
// error means the batch failed as a whole; the runner retries the same batch,
// in order, after a backoff, and commits nothing past it until it succeeds or
// is dead-lettered. Handle must return when ctx is done.
type Handler interface {
	Handle(ctx context.Context, worker int, batch []*event.Event) error
}

// Listener is a listener as transports run it: its spec and its code.
type Listener struct {
	Spec    Spec
	Handler Handler
}

// Spec is what the runner needs to know about a listener: its name, which
// events it wants, and how they are batched, spread and retried. engine/lua
// fills it from the table a script returns.
type Spec struct {
	// Name identifies the listener in logs, metrics, consumer groups and
	// dead letters.
	Name string
	// Subscribe lists "schema.table" patterns; '*' matches any run of
	// characters within one part.
	Subscribe []string
	// Batch is the most events per Handle call. The default is 256.
	Batch int
	// MaxWait is how long a partial batch waits for more events before it is
	// handed over. The default is 100ms.
	MaxWait time.Duration
	// Workers is the number of parallel workers. Events with the same
	// schema, table and key always go to the same worker. The default is 1.
	Workers int
	// Retry bounds the attempts at a failing batch.
	Retry Retry
	// DeadLetter sends a batch that used up Retry.MaxAttempts to the dead
	// letter destination and moves on. Without it the batch is retried
	// forever.
	DeadLetter bool
	// Start is where a new listener begins: "latest" (the default) or
	// "earliest".
	Start string
}

// Retry is the backoff policy for failing batches.
type Retry struct {
	// MaxAttempts is how many times a batch is tried before it is dead
	// lettered; 0 means no limit. It only matters with Spec.DeadLetter.
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles after each
	// further failure up to MaxBackoff. The default is 100ms.
	Backoff time.Duration
	// MaxBackoff caps the wait. The default is 30s.
	MaxBackoff time.Duration
}
