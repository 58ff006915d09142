// Package transport carries events from capture to the listeners' runners
// and carries progress back, so that a position is saved (or a Kafka offset
// committed) only past events every interested listener has finished.
//
// Two transports exist, with the same guarantees (DESIGN §2, §3):
//
//   - embedded (subpackage embedded): capture and dispatch in one process,
//     joined by bounded in-memory queues. It implements capture.Output,
//     numbers events with a global sequence, fans each one out to the
//     runners of the listeners that subscribe to it, and saves the binlog
//     checkpoint at the newest transaction boundary that every listener has
//     passed.
//   - kafka (subpackage kafka, built separately): capture publishes to topics and saves the
//     position once the broker acknowledged; each listener consumes as its
//     own consumer group and commits partition offsets from its runner's
//     Committer.
//
// Both hand events to dispatch.Runner as dispatch.Delivery values and
// implement dispatch.Committer for it; dispatch knows nothing of brokers or
// binlog positions.
package transport
