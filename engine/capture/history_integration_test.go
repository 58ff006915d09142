package capture

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/schema"
	"github.com/moontide/moontide/internal/testenv"
)

// These tests run against the server that writes binlog_row_metadata=MINIMAL,
// where every column name, ENUM label and primary key comes from capture's
// schema history.

// columnsOf describes an event's table as "name type,...".
func columnsOf(e *event.Event) string {
	var cols []string
	for _, c := range e.Table.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	return strings.Join(cols, ",")
}

func inserts(evs []*event.Event) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Action == event.Insert {
			out = append(out, e)
		}
	}
	return out
}

// TestIntegrationMinimalMetadataEventsCarryTheSchemaOfTheirTime is the
// schema history's main promise: insert, change the table (add, drop and
// rename columns, change types and labels, the key), insert again, then read
// it all from the beginning: every event carries the columns in force when
// it was written, though the binlog names none of them.
func TestIntegrationMinimalMetadataEventsCarryTheSchemaOfTheirTime(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)

	execAll(ctx, t, db,
		"USE `"+schemaName+"`",
		"CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, a VARCHAR(10), b INT, e ENUM('x','y'))",
		"INSERT INTO t VALUES (1, 'one', -10, 'y')",
		"ALTER TABLE t ADD COLUMN c DECIMAL(5,2) AFTER a",
		"INSERT INTO t VALUES (2, 'two', 2.50, -20, 'x')",
		"ALTER TABLE t DROP COLUMN b",
		"INSERT INTO t VALUES (3, 'three', 3.25, 'y')",
		"ALTER TABLE t RENAME COLUMN a TO name",
		"INSERT INTO t VALUES (4, 'four', 4.00, 'x')",
		"ALTER TABLE t MODIFY c BIGINT UNSIGNED, MODIFY e ENUM('z','y','x')",
		"INSERT INTO t VALUES (5, 'five', 18446744073709551615, 'z')",
		"ALTER TABLE t CHANGE name label VARBINARY(8), DROP PRIMARY KEY, ADD PRIMARY KEY (label, id)",
		"INSERT INTO t VALUES (6, 'six', 6, 'x')",
	)
	// Only now, with today's schema far from the first row's, read it all.
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".t"}}, rec)
	evs := rec.waitFor(ctx, t, "six inserts", func(evs []*event.Event) bool { return len(inserts(evs)) == 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	U, I, S, D, B := event.UintValue, event.IntValue, event.StringValue, event.DecimalValue, func(s string) event.Value { return event.BytesValue([]byte(s)) }
	want := []struct {
		cols string
		row  []event.Value
		pk   string
	}{
		{"id int unsigned,a varchar(10),b int,e enum('x','y')", []event.Value{U(1), S("one"), I(-10), S("y")}, "id"},
		{"id int unsigned,a varchar(10),c decimal(5,2),b int,e enum('x','y')", []event.Value{U(2), S("two"), D("2.50"), I(-20), S("x")}, "id"},
		{"id int unsigned,a varchar(10),c decimal(5,2),e enum('x','y')", []event.Value{U(3), S("three"), D("3.25"), S("y")}, "id"},
		{"id int unsigned,name varchar(10),c decimal(5,2),e enum('x','y')", []event.Value{U(4), S("four"), D("4.00"), S("x")}, "id"},
		{"id int unsigned,name varchar(10),c bigint unsigned,e enum('z','y','x')", []event.Value{U(5), S("five"), U(18446744073709551615), S("z")}, "id"},
		{"id int unsigned,label varbinary(8),c bigint unsigned,e enum('z','y','x')", []event.Value{U(6), B("six"), U(6), S("x")}, "label,id"},
	}
	for i, e := range inserts(evs) {
		w := want[i]
		if got := columnsOf(e); got != w.cols {
			t.Errorf("insert %d: columns %q, want %q", i+1, got, w.cols)
		}
		if !reflect.DeepEqual(e.After, w.row) {
			t.Errorf("insert %d: values %v, want %v", i+1, e.After, w.row)
		}
		if got := strings.Join(e.Table.PKNames(), ","); got != w.pk {
			t.Errorf("insert %d: primary key %q, want %q", i+1, got, w.pk)
		}
		if e.Key != event.MakeKey(e.Table, e.After) || e.Key == "" {
			t.Errorf("insert %d: key %q", i+1, e.Key)
		}
	}
	ddls := 0
	for _, e := range evs {
		if e.Action == event.DDL {
			ddls++
		}
	}
	if ddls != 6 {
		t.Errorf("%d ddl events, want 6", ddls)
	}
}

// TestIntegrationClientsStatementsReadAsTheServerMeansThem: a session
// with SET NAMES latin1 or gbk sends its statements in that charset, and
// the binlog keeps those bytes. On both servers the ddl events carry the
// statement as text; with MINIMAL metadata the schema history must also
// read a column name and an ENUM label as the server stored them (é, not a
// latin1 byte or a question mark). The gbk ENUM also has its labels in the
// table map in gbk, which FULL metadata decodes.
func TestIntegrationClientsStatementsReadAsTheServerMeansThem(t *testing.T) {
	clients := []struct {
		charset string
		stmts   []string // in the client's charset
		ddl     []string // as the ddl events must carry them
		columns string
		values  []event.Value
	}{{
		charset: "latin1",
		stmts: []string{"CREATE TABLE t (id INT PRIMARY KEY, e ENUM('caf\xe9', 'th\xe9')) COMMENT 'na\xefve'",
			"ALTER TABLE t ADD COLUMN `d\xe9j\xe0` VARCHAR(10) CHARACTER SET latin1",
			"INSERT INTO t VALUES (1, 'caf\xe9', 'd\xe9j\xe0')"},
		ddl: []string{"CREATE TABLE t (id INT PRIMARY KEY, e ENUM('café', 'thé')) COMMENT 'naïve'",
			"ALTER TABLE t ADD COLUMN `déjà` VARCHAR(10) CHARACTER SET latin1"},
		columns: "id int,e enum('café','thé'),déjà varchar(10) latin1",
		values:  []event.Value{event.IntValue(1), event.StringValue("café"), event.StringValue("déjà")},
	}, {
		charset: "gbk", // 中文 is d6d0 cec4, 名 c3fb
		stmts: []string{"CREATE TABLE t (id INT PRIMARY KEY, e ENUM('\xd6\xd0\xce\xc4', 'x') CHARACTER SET gbk) COMMENT '\xd6\xd0\xce\xc4'",
			"ALTER TABLE t ADD COLUMN `\xc3\xfb` VARCHAR(10) CHARACTER SET gbk",
			"INSERT INTO t VALUES (1, '\xd6\xd0\xce\xc4', '\xd6\xd0\xce\xc4\xc3\xfb')"},
		ddl: []string{"CREATE TABLE t (id INT PRIMARY KEY, e ENUM('中文', 'x') CHARACTER SET gbk) COMMENT '中文'",
			"ALTER TABLE t ADD COLUMN `名` VARCHAR(10) CHARACTER SET gbk"},
		columns: "id int,e enum('中文','x'),名 varchar(10) gbk",
		values:  []event.Value{event.IntValue(1), event.StringValue("中文"), event.StringValue("中文名")},
	}}
	for _, srv := range devServers {
		for _, client := range clients {
			t.Run(srv.name+"/"+client.charset, func(t *testing.T) {
				dsn, db := srv.dsn(t), srv.db(t)
				ctx := testenv.Context(t, time.Minute)
				schemaName := testenv.FreshDatabase(t, db)
				from := currentPos(ctx, t, dsn)
				execAll(ctx, t, db, append([]string{"SET NAMES " + client.charset, "USE `" + schemaName + "`"}, client.stmts...)...)
				rec := newRecorder()
				stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".t"}}, rec)
				evs := rec.waitFor(ctx, t, "the insert", func(evs []*event.Event) bool { return len(inserts(evs)) == 1 })
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				var ddls []string
				for _, e := range evs {
					if e.Action == event.DDL {
						ddls = append(ddls, e.Statement)
					}
				}
				if !slices.Equal(ddls, client.ddl) {
					t.Errorf("ddl statements %q, want %q", ddls, client.ddl)
				}
				ins := inserts(evs)[0]
				if got := columnsOf(ins); got != client.columns {
					t.Errorf("columns %q, want %q", got, client.columns)
				}
				if !reflect.DeepEqual(ins.After, client.values) {
					t.Errorf("values %v, want %v", ins.After, client.values)
				}
			})
		}
	}
}

// laggingCheckpoints saves the position only at commits of transactions
// with rows, as an output that has not yet saved the commit of a DDL
// statement when it stops.
type laggingCheckpoints struct {
	*recorder
	store checkpoint.Store
	mu    sync.Mutex
	rows  bool
}

func (o *laggingCheckpoints) Event(ctx context.Context, e *event.Event) error {
	if err := o.recorder.Event(ctx, e); err != nil {
		return err
	}
	o.mu.Lock()
	o.rows = o.rows || e.Action != event.DDL
	o.mu.Unlock()
	return nil
}

func (o *laggingCheckpoints) Commit(ctx context.Context, p checkpoint.Position) error {
	o.mu.Lock()
	rows := o.rows
	o.rows = false
	o.mu.Unlock()
	if rows {
		if err := o.store.Save(ctx, p); err != nil {
			return err
		}
	}
	return o.recorder.Commit(ctx, p)
}

// TestIntegrationMinimalMetadataResumesWithTheSchemaOfItsCheckpoint stops
// capture with a checkpoint between two ALTERs while the saved history has
// both: the resume must use the first, read the second again and decode
// the rows after it with its columns.
func TestIntegrationMinimalMetadataResumesWithTheSchemaOfItsCheckpoint(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "CREATE TABLE `"+schemaName+"`.t (id INT PRIMARY KEY, a INT)")
	from := currentPos(ctx, t, dsn)

	store := checkpoint.NewFileStore(filepath.Join(t.TempDir(), "checkpoint.json"))
	opts := Options{DSN: dsn, Start: from, Include: []string{schemaName + ".t"}, CheckpointStore: store, SchemaHistory: store}
	first := newRecorder()
	failed := first.failWhen(func(e *event.Event) bool { return e.Action == event.Insert && e.After[0].Int() == 3 })
	stop := startCapture(t, opts, &laggingCheckpoints{recorder: first, store: store})
	// The snapshot at the start is saved before capture reads anything; the
	// statements must come after it, or the snapshot would hold them.
	for {
		if _, err := store.LoadSchemaHistory(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no schema history was saved at the start")
		case <-time.After(20 * time.Millisecond):
		}
	}
	execAll(ctx, t, db,
		"USE `"+schemaName+"`",
		"INSERT INTO t VALUES (1, 10)",
		"ALTER TABLE t ADD COLUMN b VARCHAR(5)",
		"INSERT INTO t VALUES (2, 20, 'two')",
		"ALTER TABLE t RENAME COLUMN a TO aa, MODIFY b ENUM('two','three')",
		"INSERT INTO t VALUES (3, 30, 'three')",
	)
	endedByFailure(ctx, t, failed, stop)
	cp, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.LoadSchemaHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cpPos := schema.Pos{File: cp.File, Pos: cp.Pos}
	saved, _, err := schema.Unmarshal(data, schema.Options{}, cpPos)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Saved().Compare(cpPos) <= 0 {
		t.Fatalf("the saved history ends at %s, not after the checkpoint %s: the test does not test the rewind", saved.Saved(), cpPos)
	}
	ins := inserts(first.events)
	if len(ins) != 2 || columnsOf(ins[1]) != "id int,a int,b varchar(5)" {
		t.Fatalf("first run: %d inserts, the second with %q", len(ins), columnsOf(ins[len(ins)-1]))
	}

	second := newRecorder()
	opts.Start = "" // the stored checkpoint
	stop = startCapture(t, opts, &laggingCheckpoints{recorder: second, store: store})
	evs := second.waitFor(ctx, t, "the third insert", func(evs []*event.Event) bool { return len(inserts(evs)) > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if evs[0].Action != event.DDL || !strings.Contains(evs[0].Statement, "RENAME COLUMN a TO aa") {
		t.Errorf("the second run starts with %s %q, want the second ALTER read again", evs[0].Action, evs[0].Statement)
	}
	ins = inserts(evs)
	want := []event.Value{event.IntValue(3), event.IntValue(30), event.StringValue("three")}
	if len(ins) != 1 || columnsOf(ins[0]) != "id int,aa int,b enum('two','three')" || !reflect.DeepEqual(ins[0].After, want) {
		t.Errorf("second run: %d inserts, first %q %v", len(ins), columnsOf(ins[0]), ins[0].After)
	}
}

// TestIntegrationMinimalMetadataChangeSinceTheStartIsAnError starts before
// a change of the table with no history, so the snapshot at start (today's
// schema) is wrong for the rows before the change. From a FILE:POS start,
// capture finds the change in the binlog before it emits anything. From a
// GTID start it has no position to read from and must stop at the first
// such row, naming table, position and column, not decode it; a rename
// keeps the column's type, so only the former can catch it.
func TestIntegrationMinimalMetadataChangeSinceTheStartIsAnError(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	tests := []struct {
		name, change, tableMap string // tableMap: what the table map check says, "" when it cannot tell
	}{
		{"a column added since", "ALTER TABLE t ADD COLUMN b VARCHAR(3)",
			"the binlog's table map has 2 columns, the schema history's definition 3 (id, a, b)"},
		{"a column retyped since", "ALTER TABLE t MODIFY a VARCHAR(3)",
			"column 2 (a in the schema history): the binlog has type int, the schema history varchar"},
		{"a column made unsigned since", "ALTER TABLE t MODIFY a INT UNSIGNED",
			"column 2 (a in the schema history): the binlog says unsigned=false, the schema history unsigned=true"},
		{"a column renamed since", "ALTER TABLE t RENAME COLUMN a TO b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			schemaName := testenv.FreshDatabase(t, db)
			execAll(ctx, t, db, "USE `"+schemaName+"`", "CREATE TABLE t (id INT PRIMARY KEY, a INT)")
			from := currentPos(ctx, t, dsn)
			var gtid string
			if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", strings.Split(from, ":")[0], strings.Split(from, ":")[1]).Scan(&gtid); err != nil {
				t.Fatal(err)
			}
			execAll(ctx, t, db, "USE `"+schemaName+"`", "INSERT INTO t VALUES (1, 2)", tt.change)
			prefix := "capture " + schemaName + ".t at mariadb-bin."
			run := func(start string, want ...string) {
				t.Helper()
				rec := newRecorder()
				err := Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: start, Include: []string{schemaName + ".t"}, Logger: quietLogger()}, rec)
				if err == nil {
					t.Fatalf("capture from %s ended without an error", start)
				}
				for _, part := range append(want, prefix) {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("capture from %s: the error does not say %q:\n%v", start, part, err)
					}
				}
				if len(inserts(rec.events)) != 0 {
					t.Errorf("capture from %s decoded a row: %v", start, rec.events)
				}
			}
			run(from, tt.change, "start at mariadb-bin.")
			if tt.tableMap != "" {
				run(gtid, tt.tableMap, "binlog_row_metadata=FULL")
			}
		})
	}
}

// TestIntegrationMinimalMetadataUndecodedStatementIsReported: a gbk
// client's statement with a character the server cannot convert to
// Unicode (a2e3) reaches the schema history as bytes, and the column it
// names in Chinese may come out wrong; capture says so.
func TestIntegrationMinimalMetadataUndecodedStatementIsReported(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	schemaName := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)
	execAll(ctx, t, db, "SET NAMES gbk", "USE `"+schemaName+"`",
		"CREATE TABLE t (id INT PRIMARY KEY, `\xc3\xfb` INT) COMMENT '\xa2\xe3'", "INSERT INTO t VALUES (1, 2)")
	var logs testenv.Buffer
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".t"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, rec)
	rec.waitFor(ctx, t, "the insert", func(evs []*event.Event) bool { return len(inserts(evs)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "may be misread") || !strings.Contains(l, "charset=gbk") {
		t.Errorf("no warning about the gbk statement in the log:\n%s", l)
	}
}

// TestIntegrationMinimalMetadataFollowsASystemVersionedTableUntilItChanges:
// the rows of a table WITH SYSTEM VERSIONING carry row_start and row_end
// columns that information_schema does not list; the snapshot adds them,
// so its rows decode, history rows (the old version an UPDATE keeps) and
// all. Its first ALTER stops capture, saying why.
func TestIntegrationMinimalMetadataFollowsASystemVersionedTableUntilItChanges(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	schemaName := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "CREATE TABLE v (id INT PRIMARY KEY, a INT) WITH SYSTEM VERSIONING")
	from := currentPos(ctx, t, dsn)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "INSERT INTO v VALUES (1, 1)", "UPDATE v SET a = 2")
	rec := newRecorder()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: from, Include: []string{schemaName + ".v"}, Logger: quietLogger()}, rec)
	}()
	// The ALTER must come after the snapshot capture takes at start.
	rec.waitFor(ctx, t, "the rows before the ALTER", func(evs []*event.Event) bool { return len(evs) == 3 })
	execAll(ctx, t, db, "USE `"+schemaName+"`", "SET SESSION system_versioning_alter_history = KEEP",
		"ALTER TABLE v ADD COLUMN c INT", "INSERT INTO v (id, a) VALUES (2, 2)")
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("capture did not stop")
	}
	for _, part := range []string{"capture " + schemaName + ".v at mariadb-bin.", "system-versioned", "set binlog_row_metadata=FULL", "ADD COLUMN c INT"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("the error does not say %q: %v", part, err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var rows []string
	for _, e := range rec.events {
		if e.Action != event.DDL {
			rows = append(rows, fmt.Sprintf("%s %s pk %v: %v", e.Action, columnsOf(e), e.Table.PK, e.After[:2]))
		}
	}
	want := []string{
		"insert id int,a int,row_start timestamp(6),row_end timestamp(6) pk [0 3]: [1 1]",
		"update id int,a int,row_start timestamp(6),row_end timestamp(6) pk [0 3]: [1 2]",
		"insert id int,a int,row_start timestamp(6),row_end timestamp(6) pk [0 3]: [1 1]", // the old version
	}
	if !slices.Equal(rows, want) {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// TestIntegrationMinimalMetadataFollowsASequence: a MariaDB sequence is a
// table whose row the binlog carries; created after the start, it neither
// stops the start (the snapshot check) nor its rows (the history).
func TestIntegrationMinimalMetadataFollowsASequence(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	schemaName := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "CREATE SEQUENCE s START WITH 10 NOCACHE", "SELECT NEXTVAL(s)", "SELECT NEXTVAL(s)")
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".*"}}, rec)
	evs := rec.waitFor(ctx, t, "the row after two NEXTVALs", func(evs []*event.Event) bool {
		return len(evs) > 0 && len(evs[len(evs)-1].After) > 0 && evs[len(evs)-1].After[0].Equal(event.IntValue(12))
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := columnsOf(evs[len(evs)-1]), "next_not_cached_value bigint,minimum_value bigint,maximum_value bigint,start_value bigint,increment bigint,cache_size bigint unsigned,cycle_option tinyint unsigned,cycle_count bigint"; got != want {
		t.Errorf("columns %q, want %q", got, want)
	}
}

// TestIntegrationMinimalMetadataChangeByALatin1ClientIsFound: the check of
// the stretch before a snapshot reads table names in a latin1 client's
// statements as the server does, or a change to `café` would pass unseen.
func TestIntegrationMinimalMetadataChangeByALatin1ClientIsFound(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	schemaName := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "CREATE TABLE `café` (id INT PRIMARY KEY, a INT)")
	from := currentPos(ctx, t, dsn)
	execAll(ctx, t, db, "SET NAMES latin1", "USE `"+schemaName+"`",
		"INSERT INTO `caf\xe9` VALUES (1, 2)", "ALTER TABLE `caf\xe9` RENAME COLUMN a TO b")
	rec := newRecorder()
	err := Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: from, Include: []string{schemaName + ".café"}, Logger: quietLogger()}, rec)
	if err == nil || !strings.Contains(err.Error(), "ALTER TABLE `café` RENAME COLUMN a TO b") {
		t.Fatalf("capture from before the change: %v, want an error naming the change", err)
	}
	if len(inserts(rec.events)) != 0 {
		t.Errorf("capture decoded a row: %v", rec.events)
	}
}

// TestIntegrationMinimalMetadataStatementItCannotFollow sends DDL the
// parser does not know: about an uncaptured table it is a warning, about a
// captured one an error naming the position and the statement.
func TestIntegrationMinimalMetadataStatementItCannotFollow(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "CREATE TABLE inc (id INT PRIMARY KEY)", "CREATE TABLE exc (id INT PRIMARY KEY)")
	from := currentPos(ctx, t, dsn)
	rec := newRecorder()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: from, Include: []string{schemaName + ".inc"}, Logger: quietLogger()}, rec)
	}()
	// The statements must come after the snapshot capture takes at start.
	execAll(ctx, t, db, "INSERT INTO `"+schemaName+"`.inc VALUES (1)")
	rec.waitFor(ctx, t, "the first insert", func(evs []*event.Event) bool { return len(inserts(evs)) == 1 })
	execAll(ctx, t, db, "USE `"+schemaName+"`",
		"ALTER TABLE exc ADD COLUMN g POINT",
		"INSERT INTO inc VALUES (2)",
		"ALTER TABLE inc ADD COLUMN g POINT",
		"INSERT INTO inc VALUES (3, POINT(1, 1))",
	)
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("capture did not stop")
	}
	for _, part := range []string{"capture " + schemaName + ".inc at mariadb-bin.", "cannot follow the statement", "ADD COLUMN g POINT", "set binlog_row_metadata=FULL", "start from a position after this statement"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("the error does not say %q: %v", part, err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if ins := inserts(rec.events); len(ins) != 2 || ins[1].After[0].Int() != 2 {
		t.Errorf("want the inserts before the statement about the captured table, got %v", ins)
	}
}

// TestIntegrationStatementFormatIsRefused sets binlog_format=STATEMENT on
// the minimal server for a moment. No other test of this package runs
// meanwhile (none is parallel); capture tests in other packages use the
// main server.
func TestIntegrationStatementFormatIsRefused(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	var was string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.binlog_format").Scan(&was); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL binlog_format = 'STATEMENT'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "SET GLOBAL binlog_format = ?", was); err != nil {
			t.Errorf("restoring binlog_format=%s: %v", was, err)
		}
	})
	err := Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: "latest", Logger: quietLogger()}, newRecorder())
	if err == nil || !strings.Contains(err.Error(), "has binlog_format=STATEMENT: capture needs ROW (SET GLOBAL binlog_format='ROW'") {
		t.Fatalf("got %v, want an error saying binlog_format must be ROW", err)
	}
}

// TestIntegrationSchemaHistoryAgreesWithFullMetadata reads table maps with
// FULL metadata from the main server and builds each table twice: from the
// map alone and from the schema history (its snapshot, and the DDL it
// followed). Both must decode alike: same names, types, signedness,
// charsets, labels and key.
func TestIntegrationSchemaHistoryAgreesWithFullMetadata(t *testing.T) {
	dsn, db := sourceDSN(t), testenv.Source(t)
	ctx := testenv.Context(t, time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	opts, err := schema.ServerOptions(ctx, db, mysql.MariaDBFlavor)
	if err != nil {
		t.Fatal(err)
	}
	followed := schema.New(opts, schema.Pos{})
	stmts := []string{
		`CREATE TABLE kinds (id BIGINT UNSIGNED, s SMALLINT, m MEDIUMINT UNSIGNED, d DECIMAL(10,3) UNSIGNED, f FLOAT, y YEAR,
			v VARCHAR(20), l CHAR(4) CHARACTER SET latin1, lb VARCHAR(3) CHARACTER SET latin1 COLLATE latin1_bin, u3 TEXT CHARACTER SET utf8mb3,
			vb VARBINARY(6), bl MEDIUMBLOB, bi BINARY(3), tb TINYTEXT COLLATE utf8mb4_bin,
			e ENUM('a','it''s','é'), st SET('x','y') CHARACTER SET latin1, j JSON, dt DATETIME(3), bt BIT(9),
			PRIMARY KEY (s, id)) DEFAULT CHARSET utf8mb4`,
		"CREATE TABLE later (a INT PRIMARY KEY, b VARCHAR(3)) DEFAULT CHARSET latin1",
		"ALTER TABLE later ADD c ENUM('p','q') FIRST, CHANGE b bb TEXT, CONVERT TO CHARACTER SET utf8mb4, DROP PRIMARY KEY, ADD PRIMARY KEY (c, a)",
		// Without a primary key the server reports the first UNIQUE key
		// over whole NOT NULL columns as the key.
		"CREATE TABLE uq (a INT, b INT NOT NULL, c VARCHAR(5) NOT NULL, d INT NOT NULL, UNIQUE KEY (a), UNIQUE KEY (c(2)), UNIQUE KEY (d, b), UNIQUE KEY (b))",
		"CREATE TABLE demoted (id INT PRIMARY KEY, code INT NOT NULL, UNIQUE KEY (code))",
		"ALTER TABLE demoted DROP PRIMARY KEY",
		"CREATE TABLE nokey (a INT, b INT, UNIQUE KEY (a))",
		// MariaDB's own syntax, comments as tools write them, generated and
		// invisible columns (all in the row image), swaps by RENAME.
		"/* migration 42 */ CREATE TABLE maria (id INT PRIMARY KEY, a INT, g INT AS (a + 1) VIRTUAL, s INT AS (a * 2) PERSISTENT, h INT INVISIBLE) /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */",
		"ALTER TABLE maria ADD COLUMN IF NOT EXISTS b VARCHAR(4) AFTER a, ADD COLUMN IF NOT EXISTS a INT",
		"ALTER ONLINE TABLE maria MODIFY COLUMN IF EXISTS b VARCHAR(8), DROP COLUMN IF EXISTS nope -- done",
		// MariaDB's binary types, and names of their spelling.
		"CREATE TABLE typed (id INT PRIMARY KEY, uuid UUID DEFAULT UUID(), inet6 INET6, KEY uuid (uuid))",
		"ALTER TABLE typed ADD COLUMN IF NOT EXISTS v4 INET4 AFTER id, CHANGE inet6 `a6` INET6 NOT NULL",
		"CREATE OR REPLACE TABLE swapped (x INT PRIMARY KEY)",
		"CREATE OR REPLACE TABLE swapped (y BIGINT PRIMARY KEY, z TEXT)",
		"CREATE TABLE r1 (id INT PRIMARY KEY)",
		"CREATE TABLE r2 (id INT PRIMARY KEY, v INT)",
		"RENAME TABLE r1 TO tmp_r, r2 TO r1, tmp_r TO r2",
		// A sequence is a table of fixed columns; without a cache every
		// NEXTVAL writes its row.
		"CREATE SEQUENCE seq NOCACHE",
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE `"+schemaName+"`"); err != nil {
		t.Fatal(err)
	}
	for i, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if _, err := followed.Apply(schema.DDL{Pos: schema.Pos{File: "x.000001", Pos: uint32(10 + i)}, Schema: schemaName, Query: q}); err != nil {
			t.Fatal(err)
		}
	}
	file, pos := testenv.BinlogPosition(ctx, t, db)
	if _, err := conn.ExecContext(ctx, "INSERT INTO kinds (id, s) VALUES (1, 1)"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"INSERT INTO later (a, c) VALUES (1, 'p')", "INSERT INTO uq VALUES (1, 1, 'x', 1)",
		"INSERT INTO demoted VALUES (1, 1)", "INSERT INTO nokey VALUES (1, 1)", "INSERT INTO maria (id, a, b) VALUES (1, 1, 'x')",
		"INSERT INTO swapped VALUES (1, 'z')", "INSERT INTO r1 VALUES (1, 1)", "INSERT INTO r2 VALUES (1)", "SELECT NEXTVAL(seq)",
		"INSERT INTO typed (id, v4, a6) VALUES (1, '1.2.3.4', '::1')"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	snap, err := schema.Snapshot(ctx, db, opts, schema.Pos{File: file, Pos: pos})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{DSN: dsn, ServerID: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs := serverCharsets(ctx, t, c.db)

	maps := tableMaps(ctx, t, dsn.Host, dsn.Port, dsn.User, dsn.Password, file, pos, schemaName, "kinds", "later", "uq", "demoted", "nokey", "maria", "swapped", "r1", "r2", "seq", "typed")
	for name, tm := range maps {
		full, err := buildTable(tm, cs, mysql.MariaDBFlavor, nil)
		if err != nil {
			t.Fatalf("%s from FULL metadata: %v", name, err)
		}
		for from, h := range map[string]*schema.History{"the snapshot": snap, "the followed DDL": followed} {
			def, err := h.Lookup(schemaName, name)
			if err != nil {
				t.Fatal(err)
			}
			tv, err := buildTable(tm, cs, mysql.MariaDBFlavor, def)
			if err != nil {
				t.Errorf("%s from %s: %v", name, from, err)
				continue
			}
			if !reflect.DeepEqual(tv.table.Columns, full.table.Columns) || !slices.Equal(tv.table.PK, full.table.PK) {
				t.Errorf("%s from %s:\n%v pk %v\nFULL metadata:\n%v pk %v", name, from, tv.table.Columns, tv.table.PK, full.table.Columns, full.table.PK)
			}
			if len(full.table.PK) == 0 && name != "nokey" && name != "seq" {
				t.Errorf("%s: FULL metadata reports no key; the test expects one", name)
			}
			if !reflect.DeepEqual(tv.cols, full.cols) {
				t.Errorf("%s from %s decodes differently:\n%+v\nFULL metadata:\n%+v", name, from, tv.cols, full.cols)
			}
		}
	}
}

// TestIntegrationSnapshotOfSystemVersionedTablesAgreesWithFullMetadata:
// information_schema lists neither the row_start and row_end columns
// MariaDB adds to a table WITH SYSTEM VERSIONING nor the row_end it adds to
// its keys; the snapshot must add them as the FULL table map has them.
// Tables that name their period columns list them.
func TestIntegrationSnapshotOfSystemVersionedTablesAgreesWithFullMetadata(t *testing.T) {
	dsn, db := sourceDSN(t), testenv.Source(t)
	ctx := testenv.Context(t, time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	opts, err := schema.ServerOptions(ctx, db, mysql.MariaDBFlavor)
	if err != nil {
		t.Fatal(err)
	}
	execAll(ctx, t, db, "USE `"+schemaName+"`",
		"CREATE TABLE pk (id INT PRIMARY KEY, a VARCHAR(3), u INT NOT NULL, UNIQUE KEY (u)) WITH SYSTEM VERSIONING",
		"CREATE TABLE uq (u INT NOT NULL, b INT, UNIQUE KEY (u)) WITH SYSTEM VERSIONING",
		"CREATE TABLE named (id INT PRIMARY KEY, a INT, s TIMESTAMP(6) GENERATED ALWAYS AS ROW START, e TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (s, e), c INT) WITH SYSTEM VERSIONING",
		"CREATE TABLE partly (id INT PRIMARY KEY, a INT, b INT WITHOUT SYSTEM VERSIONING) WITH SYSTEM VERSIONING")
	file, pos := testenv.BinlogPosition(ctx, t, db)
	execAll(ctx, t, db, "USE `"+schemaName+"`", "INSERT INTO pk VALUES (1, 'x', 1)", "INSERT INTO uq VALUES (1, 1)",
		"INSERT INTO named (id, a, c) VALUES (1, 1, 1)", "INSERT INTO partly VALUES (1, 1, 1)")
	snap, err := schema.Snapshot(ctx, db, opts, schema.Pos{File: file, Pos: pos})
	if err != nil {
		t.Fatal(err)
	}
	cs := serverCharsets(ctx, t, db)
	for name, tm := range tableMaps(ctx, t, dsn.Host, dsn.Port, dsn.User, dsn.Password, file, pos, schemaName, "pk", "uq", "named", "partly") {
		full, err := buildTable(tm, cs, mysql.MariaDBFlavor, nil)
		if err != nil {
			t.Fatalf("%s from FULL metadata: %v", name, err)
		}
		def, err := snap.Lookup(schemaName, name)
		if err != nil {
			t.Fatal(err)
		}
		tv, err := buildTable(tm, cs, mysql.MariaDBFlavor, def)
		if err != nil {
			t.Errorf("%s from the snapshot: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(tv.table.Columns, full.table.Columns) || !slices.Equal(tv.table.PK, full.table.PK) || !reflect.DeepEqual(tv.cols, full.cols) {
			t.Errorf("%s from the snapshot:\n%v pk %v\nFULL metadata:\n%v pk %v", name, tv.table.Columns, tv.table.PK, full.table.Columns, full.table.PK)
		}
		if len(full.table.PK) == 0 {
			t.Errorf("%s: FULL metadata reports no key; the test expects one", name)
		}
	}
}

// tableMaps reads the binlog from file:pos until it has a TABLE_MAP of each
// named table.
func tableMaps(ctx context.Context, t *testing.T, host string, port int, user, password, file string, pos uint32, schemaName string, tables ...string) map[string]*replication.TableMapEvent {
	t.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: testServerID(), Flavor: mysql.MariaDBFlavor, Host: host, Port: uint16(port), User: user, Password: password,
		Logger: quietLogger(),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*replication.TableMapEvent{}
	for len(out) < len(tables) {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading table maps (have %d of %d): %v", len(out), len(tables), err)
		}
		if tm, ok := ev.Event.(*replication.TableMapEvent); ok && string(tm.Schema) == schemaName {
			out[string(tm.Table)] = tm
		}
	}
	return out
}
