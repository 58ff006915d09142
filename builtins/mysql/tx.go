package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moontide/moontide/engine/lua"
)

// txWriter is the Writer of one mysql connection in one call: the writes
// recorded in call order, run at flush in one transaction.
type txWriter struct {
	db   *sql.DB
	cols *columnCache // of the sink; nil in recording mode
	sink string
	ops  []op
}

// Ops lists the recorded writes: mysql[sink].upsert("shop.orders",
// {id = 7, ...}, {"id"}).
func (w *txWriter) Ops() []lua.Op {
	out := make([]lua.Op, len(w.ops))
	for i, o := range w.ops {
		var args []any
		switch o.kind {
		case opExec:
			args = append([]any{o.sql}, o.args...)
		case opUpsert:
			row := make(map[string]any, len(o.cols))
			for j, c := range o.cols {
				row[c] = opArg(o.vals[j])
			}
			keys := make([]any, len(o.keys))
			for j, k := range o.keys {
				keys[j] = k
			}
			args = []any{o.table, row, keys}
		case opDelete:
			key := make(map[string]any, len(o.cols))
			for j, c := range o.cols {
				key[c] = opArg(o.vals[j])
			}
			args = []any{o.table, key}
		}
		if o.kind == opExec {
			for j := 1; j < len(args); j++ {
				args[j] = opArg(args[j])
			}
		}
		out[i] = lua.Op{Module: "mysql", Sink: w.sink, Name: o.kind.String(), Args: args}
	}
	return out
}

// opArg shows a driver argument as ToGo would: NULL as lua.Null{} (JSON
// null), bytes as a string.
func opArg(v any) any {
	switch x := v.(type) {
	case nil:
		return lua.Null{}
	case []byte:
		return string(x)
	}
	return v
}

// StatementError is a flush that failed on one statement; the whole batch
// was rolled back. First and Last are the 1-based positions, in call order,
// of the writes the statement carried (equal unless consecutive upserts or
// deletes were merged into one statement).
type StatementError struct {
	// First and Last locate the writes; Total is the batch's write count.
	First, Last, Total int
	// Kind is the first write's function: exec, upsert or delete.
	Kind string
	// Table is the quoted table of an upsert or delete.
	Table string
	// SQL is the statement, shortened; for a merged statement its
	// one-row form.
	SQL string
	// Err is the driver's error.
	Err error
}

var atRow = regexp.MustCompile(`at row (\d+)`)

// Error names the writes, the SQL (shortened) and the server's error.
func (e *StatementError) Error() string {
	var b strings.Builder
	if e.First == e.Last {
		fmt.Fprintf(&b, "mysql: write %d of %d (%s) failed, batch rolled back: %s: %v", e.First, e.Total, e.Kind, e.SQL, e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "mysql: writes %d-%d of %d (%s into %s, one statement) failed, batch rolled back: %s: %v",
		e.First, e.Last, e.Total, e.Kind, e.Table, e.SQL, e.Err)
	// The server counts rows of a multi-row statement from 1: say which
	// write that was.
	if m := atRow.FindStringSubmatch(e.Err.Error()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && e.First+n-1 <= e.Last {
			fmt.Fprintf(&b, " (row %d is write %d)", n, e.First+n-1)
		}
	}
	return b.String()
}

// Unwrap returns the driver's error, e.g. a *mysql.MySQLError with the
// server's error number.
func (e *StatementError) Unwrap() error { return e.Err }

// Flush runs the recorded writes in one transaction and commits it. Any
// error rolls the whole batch back and names the write and its SQL. When
// the commit itself fails (the connection broke), the outcome is unknown
// and the error says so; the engine retries the batch, which is why
// upsert and delete are idempotent, and exec statements should be.
func (w *txWriter) Flush(ctx context.Context) (err error) {
	if len(w.ops) == 0 {
		return nil
	}
	if w.db == nil {
		return errors.New("mysql: no connection (recording mode writers cannot be flushed)")
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql: beginning the batch transaction: %w", err)
	}
	prepared := map[string]*sql.Stmt{}
	defer func() {
		for _, p := range prepared {
			_ = p.Close()
		}
		if err != nil {
			// After a broken connection the rollback fails too; the
			// server rolls back on its own when the session ends.
			_ = tx.Rollback()
		}
	}()
	if err = w.classify(ctx, tx); err != nil {
		return err
	}
	for _, s := range statements(w.ops) {
		var xerr error
		if len(s.args) == 0 {
			// No placeholders: the text protocol runs any statement,
			// including those the server cannot prepare.
			_, xerr = tx.ExecContext(ctx, s.sql)
		} else {
			p, ok := prepared[s.sql]
			if !ok {
				if p, xerr = tx.PrepareContext(ctx, s.sql); xerr == nil {
					prepared[s.sql] = p
				}
			}
			if xerr == nil {
				_, xerr = p.ExecContext(ctx, s.args...)
			}
		}
		if xerr != nil {
			o := &w.ops[s.first]
			if o.kind != opExec {
				w.cols.forget(o.table) // in case the table changed
			}
			return &StatementError{
				First: s.first + 1, Last: s.last + 1, Total: len(w.ops),
				Kind: o.kind.String(), Table: o.qtable, SQL: shorten(s.shown), Err: xerr,
			}
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("mysql: committing %d writes (the outcome is unknown; the batch will be retried): %w", len(w.ops), err)
	}
	return nil
}

// classify sets the column classes of the upserts and deletes; writes of
// one shape in a row share them.
func (w *txWriter) classify(ctx context.Context, tx *sql.Tx) error {
	for i := range w.ops {
		o := &w.ops[i]
		if o.kind == opExec {
			continue
		}
		if i > 0 && w.ops[i-1].shape == o.shape && w.ops[i-1].classes != nil {
			o.classes = w.ops[i-1].classes
			continue
		}
		cs, err := w.cols.classes(ctx, tx, o.table, o.cols)
		if err != nil {
			return err
		}
		o.classes = cs
	}
	return nil
}

// shorten bounds SQL quoted in errors.
func shorten(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
