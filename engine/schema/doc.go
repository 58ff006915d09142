// Package schema knows the table definitions in force at a binlog position,
// for servers whose binlog does not carry them (binlog_row_metadata other
// than FULL: no column names, ENUM/SET labels or primary key in the
// TABLE_MAP events).
//
// A History starts from a snapshot of information_schema taken at a start
// position and follows the binlog's DDL statements from there: CREATE,
// ALTER, RENAME and DROP of tables and databases, parsed with the TiDB SQL
// parser. Every change is recorded with the binlog position at which it took
// effect (the end of its QUERY event), so a History saved next to a
// checkpoint and loaded again for a resume at position C gives, for each
// table, the newest definition at or before C; later changes are forgotten
// and read again from the binlog.
//
// It guarantees:
//   - a table definition is never guessed: a statement that cannot be
//     parsed or applied is reported with the tables it names, and a table
//     the History lost track of has no definition (Lookup says why) rather
//     than a wrong one;
//   - column collations are the ids the server itself uses (63, binary, for
//     BINARY, VARBINARY and BLOB), read from the server's own collation
//     list, so they agree with what binlog_row_metadata=FULL would say;
//   - Marshal and Unmarshal round-trip the whole History as JSON.
//
// A History is used by one goroutine at a time.
package schema
