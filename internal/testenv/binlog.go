package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// BinlogPosition returns the source's current binlog file and position, the
// place a test starts reading from so that it sees just its own workload.
func BinlogPosition(ctx context.Context, t testing.TB, db *sql.DB) (string, uint32) {
	t.Helper()
	var rows *sql.Rows
	var err error
	// MariaDB 10.5.2+ and MySQL 8.2+ know the new spelling; older ones only the old.
	for _, q := range []string{"SHOW BINLOG STATUS", "SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"} {
		if rows, err = db.QueryContext(ctx, q); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("reading the binlog position: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("reading the binlog position: %v", err)
	}
	if !rows.Next() {
		t.Fatalf("the source reports no binlog position: is log_bin on? (%v)", rows.Err())
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("reading the binlog position: %v", err)
	}
	var pos uint32
	if _, err := fmt.Sscan(string(vals[1]), &pos); err != nil {
		t.Fatalf("binlog position %q: %v", vals[1], err)
	}
	return string(vals[0]), pos
}
