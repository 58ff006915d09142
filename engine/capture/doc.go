// Package capture reads a MySQL or MariaDB binlog as a replica and turns
// every row change into an exact event.Event.
//
// It guarantees, for what it hands to an Output:
//   - every row of every included table, in binlog order, one Event per row;
//     a row it cannot decode stops capture with an error naming the table,
//     the position and the column — it never skips;
//   - column names, types, signedness and ENUM/SET labels as they were when
//     the row was written, never today's schema: from the TABLE_MAP metadata
//     the server writes with binlog_row_metadata=FULL, or else from a schema
//     history (package schema) that starts from information_schema and
//     follows the DDL in the binlog, saved next to the checkpoint; a
//     TABLE_MAP that does not fit the history's definition (column count,
//     types, signedness, charsets) stops capture rather than mislabel a row;
//   - values decoded from the row image bytes by this package (see
//     docs/types.md), not through float64 or time.Time;
//   - Output.Commit only at transaction boundaries (XID, COMMIT, a DDL
//     statement that is a transaction of its own, the start position, and
//     a reconnect that lands on another server), so a saved checkpoint is
//     always safe to resume from;
//   - streaming: nothing buffers a transaction, so a transaction of millions
//     of rows needs no more memory than one of a few.
//
// Capture never saves checkpoints itself; it reads the Store once at start
// to resume and leaves saving to the Output, which knows when the events
// before a Commit are delivered.
package capture
