// Package dispatch routes events to listeners and runs them: it matches
// subscriptions, cuts batches by size and time, spreads keys over workers so
// that the events of one row never reorder or overlap, retries failed batches
// with backoff, dead-letters them when a listener asks for it, and reports
// which events are finished so that positions are committed only past work
// that is done.
//
// The pieces, from the outside in:
//
//   - Spec (handler.go, spec.go) describes a listener; engine/lua fills it
//     from a script. Handler (handler.go) runs a listener's code on a batch.
//   - Matcher and Router (match.go) answer "who wants this table", cached per
//     (schema, table): the embedded transport fans events out with a Router,
//     each Runner filters with its own Matcher.
//   - Runner (runner.go) runs one listener. Transports hand it Delivery
//     values (delivery.go) of ordered streams and implement Committer to
//     receive its low-water mark per stream; DeadLetter keeps what it gives
//     up on.
//
// Guarantees, for every transport:
//
//   - Events of one (schema, table, key) are handled in delivery order, by
//     one worker, one batch at a time — across retries, Swap and Drain.
//   - Committer.Commit(stream, off) is called only when every delivery of
//     stream at or below off is finished: handled, dead-lettered, or not
//     subscribed. A failing batch holds its stream's mark until it succeeds.
//   - Nothing is dropped silently: a batch is retried forever unless the spec
//     asks for a dead letter after N attempts; a dead-letter write is
//     retried forever; an undecodable delivery goes to the dead letter, or
//     is refused with an error when there is none.
//   - Memory is bounded: each worker has a bounded queue and Deliver blocks
//     when it is full. No goroutine, map or slice is allocated per event.
//
// Metrics are registered on the default Prometheus registry under
// moontide_dispatch_*, labelled by listener (and table, bounded per
// listener); logs use slog with the listener, table and pos attributes and
// are never written per event.
package dispatch
