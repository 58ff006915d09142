// Package mysql is the mysql builtin: writes to a MySQL or MariaDB sink
// recorded during a call and run, when the batch ends, in one transaction
// per connection; and queries that run at once.
//
//	local mysql = require("mysql")          -- the default mysql sink
//	local replica = mysql.conn("replica")     -- a named one
//	replica.upsert("shop.orders", ev.after, {"id"})
//
// What it guarantees:
//
//   - Writes (exec, upsert, delete) do no I/O when called; they are checked
//     and recorded in call order. At flush they run in that order in one
//     transaction, committed only when every statement succeeded; any
//     error rolls the whole batch back and names the write (its position
//     in call order) and its SQL. Consecutive upserts (or deletes) of one
//     table with the same columns run as one multi-row statement, with the
//     same effect as one statement each.
//   - Values travel as placeholders, never inside the SQL text
//     (interpolateParams=false); identifiers built by upsert and delete are
//     backtick-quoted with backticks doubled.
//   - Values are exact both ways: integers beyond 2^53 (strings in Lua) and
//     DECIMALs (strings) are sent as text the server converts exactly;
//     upsert and delete send binary, BIT and temporal values as their
//     destination columns need them (columns.go), so that upserting
//     ev.after reproduces the source row; query returns integer columns as
//     numbers, or as strings beyond 2^53, DECIMAL and temporal columns as
//     text (the session uses UTC and parseTime=false), binary columns as
//     byte strings and NULL as json.null.
//   - One *sql.DB per sink and settings, shared by every listener and
//     reload generation through lua.Env.Client and opened lazily; Open does
//     no I/O.
package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"time"

	driver "github.com/go-sql-driver/mysql"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

type module struct{}

// Name is "mysql".
func (module) Name() string { return "mysql" }

// Open builds the mysql table for one state: the functions of the default
// connection and conn(name) for named ones. It does no I/O and resolves no
// sink: a script that only uses named connections needs no default.
func (module) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	st := &state{}
	t := st.connTable(L, &conn{Conn: &lua.Conn{Env: env, Kind: "mysql"}, st: st})
	t.RawSetString("conn", L.NewFunction(lua.ConnFunc(env, "mysql", func(L *glua.LState, c *lua.Conn) *glua.LTable {
		return st.connTable(L, &conn{Conn: c, st: st})
	})))
	return t, nil
}

// state is the module's per-Lua-state data; it belongs to one goroutine.
type state struct {
	// scratch collects a row's column names before they are known to be
	// new; reused from call to call.
	scratch []string
}

// conn is one connection as a script sees it.
type conn struct {
	*lua.Conn
	st *state
	db *db
}

// db is the shared pool of one sink, and what is known of the columns it
// writes.
type db struct {
	*sql.DB
	cols columnCache
}

// Close closes the pool.
func (d *db) Close() error { return d.DB.Close() }

// clientKey names the shared pool: module, sink and a fingerprint of its
// settings (never the password itself: keys appear in errors).
func clientKey(cfg *lua.SinkConfig) string {
	sum := sha256.Sum256([]byte(cfg.DSN + "\x00" + cfg.Timeout.String()))
	return "mysql:" + cfg.Name + ":" + hex.EncodeToString(sum[:8])
}

// Pool sizes: idle connections kept between batches, so that workers do
// not redial every batch, and how long an idle one may wait (below the
// server's wait_timeout of 8 hours, and below what proxies usually allow).
const (
	maxIdleConns    = 16
	connMaxIdleTime = 5 * time.Minute
)

func openDB(cfg *lua.SinkConfig) (*db, error) {
	dc, err := parseDSN(cfg.DSN, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("mysql sink %q: %w", cfg.Name, err)
	}
	dc.Logger = driverLog{}
	connector, err := driver.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("mysql sink %q: %s", cfg.Name, redactErr(err, dc.Passwd))
	}
	d := sql.OpenDB(connector) // no I/O until the first statement
	d.SetMaxIdleConns(maxIdleConns)
	d.SetConnMaxIdleTime(connMaxIdleTime)
	return &db{DB: d}, nil
}

func (c *conn) pool() (*db, error) {
	if c.db != nil {
		return c.db, nil
	}
	cfg, err := c.Sink()
	if err != nil {
		return nil, err
	}
	cl, err := c.Env.Client(clientKey(cfg), func() (io.Closer, error) { return openDB(cfg) })
	if err != nil {
		return nil, err
	}
	d, ok := cl.(*db)
	if !ok {
		return nil, fmt.Errorf("mysql sink %q: shared client of type %T", cfg.Name, cl)
	}
	c.db = d
	return d, nil
}

// driverLog sends the driver's own messages ("closing bad idle connection"
// after a server restart) to the debug log instead of stderr: the errors
// that matter reach the caller anyway, named by the write or query.
type driverLog struct{}

// Print implements the driver's Logger.
func (driverLog) Print(v ...any) {
	slog.Debug("mysql driver: "+fmt.Sprint(v...), "module", "mysql")
}

// writer returns the transaction writer of this connection in the call in
// progress.
func (c *conn) writer(L *glua.LState, op string) *txWriter {
	cfg, err := c.Sink()
	if err != nil {
		L.RaiseError("mysql.%s: %v", op, err)
	}
	var d *db
	if !c.Env.Recording() {
		p, err := c.pool()
		if err != nil {
			L.RaiseError("mysql.%s: %v", op, err)
		}
		d = p
	}
	w, err := c.Env.Writer("mysql:"+cfg.Name, func() lua.Writer {
		if d == nil {
			return &txWriter{sink: cfg.Name}
		}
		return &txWriter{db: d.DB, cols: &d.cols, sink: cfg.Name}
	})
	if err != nil {
		L.RaiseError("mysql.%s: %v", op, err)
	}
	return w.(*txWriter)
}

func (st *state) connTable(L *glua.LState, c *conn) *glua.LTable {
	t := L.CreateTable(0, 6)
	t.RawSetString("exec", L.NewFunction(c.exec))
	t.RawSetString("query", L.NewFunction(c.query))
	t.RawSetString("upsert", L.NewFunction(c.upsert))
	t.RawSetString("delete", L.NewFunction(c.delete))
	return t
}

// argValue converts one Lua value to a driver argument: numbers (int64 when
// integral, else float64), strings (also bytes and the digits of big
// integers and decimals), booleans, json.null → NULL. Tables are not SQL
// values.
func argValue(L *glua.LState, v glua.LValue) (any, error) {
	switch x := v.(type) {
	case glua.LString:
		return string(x), nil
	case glua.LNumber:
		return lua.Number(float64(x)), nil
	case glua.LBool:
		return bool(x), nil
	case *glua.LNilType:
		return nil, nil
	case *glua.LUserData:
		if lua.IsNull(x) {
			return nil, nil
		}
	case *glua.LTable:
		return nil, errors.New("a table is not an SQL value (json.encode it for a JSON column)")
	}
	return nil, fmt.Errorf("a %s is not an SQL value", v.Type().String())
}

func checkSQL(L *glua.LState) string {
	s, ok := L.Get(1).(glua.LString)
	if !ok || s == "" {
		L.ArgError(1, "SQL must be a non-empty string")
	}
	return string(s)
}

func checkArgs(L *glua.LState, from int) []any {
	top := L.GetTop()
	if top < from {
		return nil
	}
	args := make([]any, 0, top-from+1)
	for i := from; i <= top; i++ {
		a, err := argValue(L, L.Get(i))
		if err != nil {
			L.ArgError(i, err.Error())
		}
		args = append(args, a)
	}
	return args
}

// exec(sql, args...) records a statement for the batch transaction.
func (c *conn) exec(L *glua.LState) int {
	q := checkSQL(L)
	args := checkArgs(L, 2)
	w := c.writer(L, "exec")
	w.ops = append(w.ops, op{kind: opExec, sql: q, args: args})
	return 0
}

// upsert(table, row, keys) records INSERT … ON DUPLICATE KEY UPDATE of
// every non-key column.
func (c *conn) upsert(L *glua.LState) int {
	w := c.writer(L, "upsert")
	// A handler usually upserts rows of one shape, one after another: the
	// previous write's table, columns, keys and shape are reused when they
	// match, so a batch allocates them once, not once per row.
	var last *op
	if n := len(w.ops); n > 0 && w.ops[n-1].kind == opUpsert {
		last = &w.ops[n-1]
	}
	table, qtable := checkTable(L, 1, last)
	row := L.CheckTable(2)
	cols, vals, size := c.st.checkRow(L, 2, row, "row", last)
	if len(cols) == 0 {
		L.ArgError(2, "row has no columns")
	}
	keys := checkKeys(L, 3, last)
	for _, k := range keys {
		i := sort.SearchStrings(cols, k)
		if i == len(cols) || cols[i] != k {
			L.ArgError(3, fmt.Sprintf("key column %q is not in the row", k))
		}
		if vals[i] == nil {
			L.ArgError(3, fmt.Sprintf("key column %q is null: a NULL never matches a key, so the row would be inserted again", k))
		}
	}
	o := op{kind: opUpsert, table: table, qtable: qtable, cols: cols, vals: vals, keys: keys, size: size}
	if last != nil && last.qtable == qtable && sameSlice(last.cols, cols) && sameSlice(last.keys, keys) {
		o.shape = last.shape
	} else {
		o.shape = shape("u", qtable, cols, keys)
	}
	w.ops = append(w.ops, o)
	return 0
}

// sameSlice reports whether a and b are the same backing array (the reuse
// above hands out the previous write's slices, so identity means equality).
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// delete(table, keys) records DELETE FROM table WHERE k1=? AND k2=?.
func (c *conn) delete(L *glua.LState) int {
	w := c.writer(L, "delete")
	var last *op
	if n := len(w.ops); n > 0 && w.ops[n-1].kind == opDelete {
		last = &w.ops[n-1]
	}
	table, qtable := checkTable(L, 1, last)
	kt := L.CheckTable(2)
	cols, vals, size := c.st.checkRow(L, 2, kt, "keys", last)
	if len(cols) == 0 {
		L.ArgError(2, "keys must name at least one column: a delete without a condition is refused (use exec)")
	}
	for i, v := range vals {
		if v == nil {
			L.ArgError(2, fmt.Sprintf("key column %q is null: `= NULL` matches nothing (use exec with IS NULL)", cols[i]))
		}
	}
	o := op{kind: opDelete, table: table, qtable: qtable, cols: cols, vals: vals, size: size}
	if last != nil && last.qtable == qtable && sameSlice(last.cols, cols) {
		o.shape = last.shape
	} else {
		o.shape = shape("d", qtable, cols, nil)
	}
	w.ops = append(w.ops, o)
	return 0
}

func shape(kind, qtable string, cols, keys []string) string {
	n := len(kind) + len(qtable) + 2
	for _, c := range cols {
		n += len(c) + 1
	}
	for _, k := range keys {
		n += len(k) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, qtable...)
	for _, c := range cols {
		b = append(b, 0)
		b = append(b, c...)
	}
	b = append(b, 1)
	for _, k := range keys {
		b = append(b, 0)
		b = append(b, k...)
	}
	return string(b)
}

func checkTable(L *glua.LState, n int, last *op) (table, quoted string) {
	s, ok := L.Get(n).(glua.LString)
	if !ok {
		L.ArgError(n, "table must be a string (\"table\" or \"db.table\")")
	}
	if last != nil && last.table == string(s) {
		return last.table, last.qtable
	}
	q, err := quoteTable(string(s))
	if err != nil {
		L.ArgError(n, "table: "+err.Error())
	}
	return string(s), q
}

// checkRow reads a table of column = value into sorted columns and their
// values; sorted so that rows with the same columns build the same SQL.
// When the columns equal those of last, last's slice is returned.
func (st *state) checkRow(L *glua.LState, n int, t *glua.LTable, what string, last *op) (cols []string, vals []any, size int) {
	names := st.scratch[:0]
	t.ForEach(func(k, v glua.LValue) {
		ks, ok := k.(glua.LString)
		if !ok || ks == "" {
			L.ArgError(n, fmt.Sprintf("%s must be a table of column = value; key %s is not a column name", what, k.String()))
		}
		names = append(names, string(ks))
	})
	st.scratch = names
	sort.Strings(names)
	if last != nil && slices.Equal(last.cols, names) {
		cols = last.cols
	} else {
		for _, c := range names {
			if _, err := quoteIdent(c); err != nil {
				L.ArgError(n, fmt.Sprintf("%s: column: %v", what, err))
			}
		}
		cols = slices.Clone(names)
	}
	vals = make([]any, len(cols))
	for i, c := range cols {
		a, err := argValue(L, t.RawGetString(c))
		if err != nil {
			L.ArgError(n, fmt.Sprintf("%s: column %q: %v", what, c, err))
		}
		vals[i] = a
		if s, ok := a.(string); ok {
			size += len(s)
		} else {
			size += 8
		}
	}
	return cols, vals, size
}

// checkKeys reads the key columns of an upsert: one name or an array.
func checkKeys(L *glua.LState, n int, last *op) []string {
	switch v := L.Get(n).(type) {
	case glua.LString:
		if v == "" {
			L.ArgError(n, "key column name must not be empty")
		}
		if last != nil && len(last.keys) == 1 && last.keys[0] == string(v) {
			return last.keys
		}
		return []string{string(v)}
	case *glua.LTable:
		l, err := lua.ArrayLen(L, v)
		if err != nil || l <= 0 {
			L.ArgError(n, "keys must be an array of column names, e.g. {\"id\"}")
		}
		if last != nil && len(last.keys) == l {
			same := true
			for i, k := range last.keys {
				if s, ok := v.RawGetInt(i + 1).(glua.LString); !ok || string(s) != k {
					same = false
					break
				}
			}
			if same {
				return last.keys
			}
		}
		keys := make([]string, l)
		seen := map[string]bool{}
		for i := 1; i <= l; i++ {
			s, ok := v.RawGetInt(i).(glua.LString)
			if !ok || s == "" {
				L.ArgError(n, fmt.Sprintf("keys[%d] must be a column name", i))
			}
			if seen[string(s)] {
				L.ArgError(n, fmt.Sprintf("key column %q given twice", s))
			}
			seen[string(s)] = true
			keys[i-1] = string(s)
		}
		return keys
	}
	L.ArgError(n, "keys must be an array of column names, e.g. {\"id\"}")
	return nil
}

// errRecording is what reads return in recording mode, where no sink may
// be reached.
var errRecording = errors.New("not available in recording mode (moontide test): reads reach the server")

// query(sql, args...) runs a read at once under the call's deadline (and
// the sink's timeout) and returns an array of rows, column name → value;
// nil, err on failure. It runs outside the batch transaction, so it does
// not see writes recorded earlier in the same call.
func (c *conn) query(L *glua.LState) int {
	q := checkSQL(L)
	args := checkArgs(L, 2)
	fail := func(err error) int {
		L.Push(glua.LNil)
		L.Push(glua.LString("mysql.query: " + err.Error()))
		return 2
	}
	if c.Env.Recording() {
		return fail(errRecording)
	}
	d, err := c.pool()
	if err != nil {
		return fail(err)
	}
	ctx := c.Env.Context()
	if c.Config.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Config.Timeout)
		defer cancel()
	}
	rows, err := d.QueryContext(ctx, q, args...)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", shorten(q), err))
	}
	defer rows.Close()
	res, err := readRows(L, rows)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", shorten(q), err))
	}
	L.Push(res)
	return 1
}
