package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Why upsert and delete look at the destination's column types
//
// A Lua string is both text and bytes, and the driver sends every string
// parameter as text in the connection's charset. Most columns take that
// as meant, but not all of them: MariaDB's INET4, INET6 and UUID and the
// spatial types parse a text parameter instead of taking its bytes (the
// four bytes of 0.0.0.0 are "an incorrect inet4 value"), and a BIT column
// takes a string as its bytes rather than as the number it spells
// ("18446744073709551615", how a BIT(64) value beyond 2^53 reaches Lua). A
// TIMESTAMP value of an event is a UTC instant written with a "Z", which
// the server refuses. So the columns of the tables a batch writes are read
// from information_schema once, and their placeholders say what each value
// is: CAST(? AS BINARY), CAST(? AS UNSIGNED), or a temporal value without
// its "Z" (sessions use UTC, see parseDSN).

// colClass is how a value is sent to a column.
type colClass uint8

const (
	plainCol    colClass = iota
	binaryCol            // the value's bytes, as a binary string
	bitCol               // the value as an unsigned number
	temporalCol          // an event's UTC instant loses its "Z"
)

// classOf maps information_schema.COLUMNS.DATA_TYPE to its class.
func classOf(dataType string) colClass {
	switch strings.ToLower(dataType) {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"inet4", "inet6", "uuid",
		"geometry", "point", "linestring", "polygon", "multipoint",
		"multilinestring", "multipolygon", "geometrycollection":
		return binaryCol
	case "bit":
		return bitCol
	case "datetime", "timestamp":
		return temporalCol
	}
	return plainCol
}

// placeholder is the SQL of one value of the class.
func (c colClass) placeholder() string {
	switch c {
	case binaryCol:
		return "CAST(? AS BINARY)"
	case bitCol:
		return "CAST(? AS UNSIGNED)"
	}
	return "?"
}

// utcInstant is how an event writes a TIMESTAMP (docs/types.md).
var utcInstant = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$`)

// arg is the driver argument of v for a column of the class.
func (c colClass) arg(v any) any {
	if s, ok := v.(string); ok && c == temporalCol && utcInstant.MatchString(s) {
		return s[:len(s)-1]
	}
	return v
}

// columnCache holds the column classes of the tables a sink was written
// to, shared by every writer of the sink.
type columnCache struct {
	mu     sync.Mutex
	tables map[string]map[string]colClass // by table as scripts name it, then lower-cased column
}

// classes returns the class of each of cols of table. A table is read on
// its first write and again when a column is not known, as after an ALTER;
// a column still unknown (or a table that does not exist) is plain, and the
// statement then fails with the server's own error.
func (cc *columnCache) classes(ctx context.Context, q *sql.Tx, table string, cols []string) ([]colClass, error) {
	cc.mu.Lock()
	known := cc.tables[table]
	cc.mu.Unlock()
	if known == nil || !hasAll(known, cols) {
		var err error
		if known, err = readColumns(ctx, q, table); err != nil {
			return nil, err
		}
		cc.mu.Lock()
		if cc.tables == nil {
			cc.tables = make(map[string]map[string]colClass)
		}
		cc.tables[table] = known
		cc.mu.Unlock()
	}
	out := make([]colClass, len(cols))
	for i, c := range cols {
		out[i] = known[strings.ToLower(c)]
	}
	return out, nil
}

// forget drops what is known of table, so that the next write reads it
// again: after a failed statement, whose cause may be a changed table.
func (cc *columnCache) forget(table string) {
	cc.mu.Lock()
	delete(cc.tables, table)
	cc.mu.Unlock()
}

func hasAll(known map[string]colClass, cols []string) bool {
	for _, c := range cols {
		if _, ok := known[strings.ToLower(c)]; !ok {
			return false
		}
	}
	return true
}

// readColumns reads the classes of table's columns ("table" in the
// connection's database, or "db.table", as quoteTable splits it).
func readColumns(ctx context.Context, q *sql.Tx, table string) (map[string]colClass, error) {
	var schema any // NULL: the connection's database
	name := table
	if db, tbl, ok := strings.Cut(table, "."); ok {
		schema, name = db, tbl
	}
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?", schema, name)
	if err != nil {
		return nil, fmt.Errorf("mysql: reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	known := make(map[string]colClass)
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			return nil, fmt.Errorf("mysql: reading the columns of %s: %w", table, err)
		}
		known[strings.ToLower(col)] = classOf(typ)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: reading the columns of %s: %w", table, err)
	}
	return known, nil
}
