package mysql

import (
	"errors"
	"fmt"
	"strings"
)

// opKind is the kind of a recorded write.
type opKind uint8

const (
	opExec opKind = iota
	opUpsert
	opDelete
)

func (k opKind) String() string { return [...]string{"exec", "upsert", "delete"}[k] }

// op is one recorded write.
type op struct {
	kind opKind
	// sql and args of an exec.
	sql  string
	args []any
	// table as the script wrote it, and quoted.
	table, qtable string
	// cols are the columns of an upsert (sorted) or the key columns of a
	// delete (sorted); vals their values in that order.
	cols []string
	vals []any
	// keys are an upsert's key columns, in the script's order.
	keys []string
	// classes says how each of cols is sent (columns.go); set at flush,
	// nil for plain placeholders.
	classes []colClass
	// shape identifies writes that can share one statement: same kind,
	// table, columns and keys.
	shape string
	size  int // rough byte size of vals
}

// quoteIdent quotes one identifier with backticks, doubling backticks
// inside, which is MySQL's only escape in quoted identifiers.
func quoteIdent(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty identifier")
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("identifier %q contains a NUL byte", name)
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`", nil
}

// quoteTable quotes "table" or "db.table": the first dot separates the
// database from the table, so "db.order.items" is table order.items of db;
// a database whose name has a dot, or such a table of the connection's
// database, needs exec.
func quoteTable(name string) (string, error) {
	db, tbl, qualified := strings.Cut(name, ".")
	if !qualified {
		return quoteIdent(name)
	}
	qdb, err := quoteIdent(db)
	if err != nil {
		return "", fmt.Errorf("database part of %q: %w", name, err)
	}
	qt, err := quoteIdent(tbl)
	if err != nil {
		return "", fmt.Errorf("table part of %q: %w", name, err)
	}
	return qdb + "." + qt, nil
}

func quoteAll(names []string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		q, err := quoteIdent(n)
		if err != nil {
			return nil, err
		}
		out[i] = q
	}
	return out, nil
}

// Limits of one statement that merges consecutive upserts or deletes. The
// protocol allows 65535 placeholders; the row and byte bounds keep a
// statement well under max_allowed_packet (16 MB by default on MariaDB) and
// keep lock time per statement short.
const (
	maxPlaceholders = 65535
	maxRowsPerStmt  = 1000
	maxStmtBytes    = 4 << 20
)

// stmt is one statement of a flush: the writes first..last (indexes into
// the recorded ops, inclusive) it carries, its SQL and arguments.
type stmt struct {
	first, last int
	sql         string
	args        []any
	// shown is the SQL as an error shows it: for a merged statement, the
	// one-row form, since the real text repeats a tuple per row.
	shown string
}

// statements turns the recorded writes into the statements of one
// transaction, in call order. Consecutive upserts of the same shape become
// one multi-row INSERT … ON DUPLICATE KEY UPDATE, consecutive deletes of the
// same shape one DELETE: MySQL applies the rows of a multi-row statement in
// order, so the effect equals one statement per write, without a round trip
// per row.
func statements(ops []op) []stmt {
	var out []stmt
	for i := 0; i < len(ops); {
		o := &ops[i]
		if o.kind == opExec {
			out = append(out, stmt{first: i, last: i, sql: o.sql, args: o.args, shown: o.sql})
			i++
			continue
		}
		limit := maxRowsPerStmt
		if n := maxPlaceholders / max(1, len(o.cols)); n < limit {
			limit = n
		}
		j, size := i+1, o.size
		for j < len(ops) && j-i < limit && ops[j].shape == o.shape && size+ops[j].size <= maxStmtBytes {
			size += ops[j].size
			j++
		}
		group := ops[i:j]
		var s stmt
		if o.kind == opUpsert {
			s = upsertStmt(group)
		} else {
			s = deleteStmt(group)
		}
		s.first, s.last = i, j-1
		out = append(out, s)
		i = j
	}
	return out
}

// upsertStmt builds INSERT INTO t (cols) VALUES (…),(…) ON DUPLICATE KEY
// UPDATE c = VALUES(c) for every non-key column. VALUES() rather than the
// MySQL 8.0.19 row alias, because MariaDB has no row alias; MySQL 8 still
// accepts VALUES() (with a deprecation note).
func upsertStmt(group []op) stmt {
	o := &group[0]
	qcols, _ := quoteAll(o.cols) // checked when recorded
	isKey := make(map[string]bool, len(o.keys))
	for _, k := range o.keys {
		isKey[k] = true
	}
	tuple := "(" + strings.Join(o.placeholders(), ",") + ")"
	var head, tail strings.Builder
	head.WriteString("INSERT INTO ")
	head.WriteString(o.qtable)
	head.WriteString(" (")
	head.WriteString(strings.Join(qcols, ","))
	head.WriteString(") VALUES ")
	tail.WriteString(" ON DUPLICATE KEY UPDATE ")
	n := 0
	for i, c := range o.cols {
		if isKey[c] {
			continue
		}
		if n > 0 {
			tail.WriteByte(',')
		}
		fmt.Fprintf(&tail, "%s=VALUES(%s)", qcols[i], qcols[i])
		n++
	}
	if n == 0 {
		// Only key columns: nothing to update, but the statement must
		// not fail on the duplicate.
		k, _ := quoteIdent(o.keys[0])
		tail.WriteString(k + "=" + k)
	}
	var b strings.Builder
	b.Grow(head.Len() + len(group)*(len(tuple)+1) + tail.Len())
	b.WriteString(head.String())
	args := make([]any, 0, len(group)*len(o.cols))
	for i := range group {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
		args = group[i].appendArgs(args)
	}
	b.WriteString(tail.String())
	return stmt{sql: b.String(), args: args, shown: head.String() + tuple + tail.String()}
}

// deleteStmt builds DELETE FROM t WHERE k1=? AND k2=? for one write, k IN
// (…) for several with a one-column key, and (k1=? AND k2=?) OR (…) for
// several with a longer key.
func deleteStmt(group []op) stmt {
	o := &group[0]
	qcols, _ := quoteAll(o.cols)
	ph := o.placeholders()
	conds := make([]string, len(qcols))
	for i, q := range qcols {
		conds[i] = q + "=" + ph[i]
	}
	one := strings.Join(conds, " AND ")
	head := "DELETE FROM " + o.qtable + " WHERE "
	args := make([]any, 0, len(group)*len(o.cols))
	for i := range group {
		args = group[i].appendArgs(args)
	}
	var where string
	switch {
	case len(group) == 1:
		where = one
	case len(qcols) == 1:
		where = qcols[0] + " IN (" + strings.TrimSuffix(strings.Repeat(ph[0]+",", len(group)), ",") + ")"
	default:
		where = strings.TrimSuffix(strings.Repeat("("+one+") OR ", len(group)), " OR ")
	}
	return stmt{sql: head + where, args: args, shown: head + one}
}

// placeholders returns the placeholder of each of o's columns.
func (o *op) placeholders() []string {
	ph := make([]string, len(o.cols))
	for i := range ph {
		ph[i] = o.class(i).placeholder()
	}
	return ph
}

// appendArgs appends o's values as the driver arguments of its columns.
func (o *op) appendArgs(args []any) []any {
	for i, v := range o.vals {
		args = append(args, o.class(i).arg(v))
	}
	return args
}

func (o *op) class(i int) colClass {
	if i < len(o.classes) {
		return o.classes[i]
	}
	return plainCol
}
