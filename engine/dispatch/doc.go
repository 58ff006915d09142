// Package dispatch routes events to listeners and runs them: it matches
// subscriptions, cuts batches by size and time, spreads keys over workers so
// that the events of one row never reorder or overlap, retries failed batches
// with backoff, dead-letters them when a listener asks for it, and reports
// which events are finished so that positions are committed only past work
// that is done.
package dispatch
