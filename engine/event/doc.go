// Package event holds the Event: one row change (or DDL statement) captured
// from the binlog, the unit that moves through transport, dispatch and Lua.
//
// Values are exact. Integers are int64 or uint64, never float64; DECIMAL and
// temporal columns are text as the server wrote them; binary data stays
// bytes; SQL NULL is a value of its own, distinct from a column that is
// absent from the row image. The JSON form (docs/events.md; json.go writes
// it, decode.go reads it) keeps all of this through Kafka, and Decode rejects
// anything that does not follow it.
//
// The package imports nothing of moontide's: every other package may use it.
package event
