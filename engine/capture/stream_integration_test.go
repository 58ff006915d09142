package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// TestIntegrationEventsCarryTheSchemaOfTheirTime changes a table between
// inserts, then reads the whole history after the last change: every row
// must carry the columns in force when it was written.
func TestIntegrationEventsCarryTheSchemaOfTheirTime(t *testing.T) {
	dsn := sourceDSN(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, time.Minute)
	schema := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)

	execAll(ctx, t, db,
		"USE `"+schema+"`",
		"CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)",
		"INSERT INTO t VALUES (1, 'one', 10)",
		"ALTER TABLE t ADD COLUMN c DECIMAL(5,2) AFTER a",
		"INSERT INTO t VALUES (2, 'two', 2.50, 20)",
		"ALTER TABLE t DROP COLUMN b",
		"INSERT INTO t VALUES (3, 'three', 3.25)",
		"ALTER TABLE t RENAME COLUMN a TO name",
		"INSERT INTO t VALUES (4, 'four', 4.00)",
		"ALTER TABLE t MODIFY c BIGINT UNSIGNED",
		"INSERT INTO t VALUES (5, 'five', 18446744073709551615)",
		"ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (name, id)",
		"INSERT INTO t VALUES (6, 'six', 6)",
	)
	// Only now, with today's schema far from the first row's, read it all.
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schema + ".t"}}, rec)
	evs := rec.waitFor(ctx, t, "six inserts", func(evs []*event.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Action == event.Insert {
				n++
			}
		}
		return n == 6
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		types string
		row   string
		pk    string
	}{
		{"id int,a varchar(10),b int", "1,one,10", "id"},
		{"id int,a varchar(10),c decimal(5,2),b int", "2,two,2.50,20", "id"},
		{"id int,a varchar(10),c decimal(5,2)", "3,three,3.25", "id"},
		{"id int,name varchar(10),c decimal(5,2)", "4,four,4.00", "id"},
		{"id int,name varchar(10),c bigint unsigned", "5,five,18446744073709551615", "id"},
		{"id int,name varchar(10),c bigint unsigned", "6,six,6", "name,id"},
	}
	var ddls []string
	i := 0
	for _, e := range evs {
		if e.Action == event.DDL {
			ddls = append(ddls, e.Statement)
			if e.Table.Schema != schema || e.Table.Name != "t" {
				t.Errorf("ddl %q names %s.%s, want %s.t", e.Statement, e.Table.Schema, e.Table.Name, schema)
			}
			continue
		}
		var types, row []string
		for k, c := range e.Table.Columns {
			types = append(types, c.Name+" "+c.Type)
			row = append(row, e.After[k].String())
		}
		w := want[i]
		if got := strings.Join(types, ","); got != w.types {
			t.Errorf("insert %d: columns %q, want %q", i+1, got, w.types)
		}
		if got := strings.Join(row, ","); got != w.row {
			t.Errorf("insert %d: values %q, want %q", i+1, got, w.row)
		}
		if got := strings.Join(e.Table.PKNames(), ","); got != w.pk {
			t.Errorf("insert %d: primary key %q, want %q", i+1, got, w.pk)
		}
		i++
	}
	if len(ddls) != 6 || !strings.HasPrefix(ddls[0], "CREATE TABLE t") || !strings.Contains(ddls[3], "RENAME COLUMN") {
		t.Errorf("ddl events: %q", ddls)
	}
}

// checkpointingOutput saves the position at every commit, as an output
// that has delivered everything before it would.
type checkpointingOutput struct {
	*recorder
	store checkpoint.Store
}

func (o checkpointingOutput) Commit(ctx context.Context, p checkpoint.Position) error {
	if err := o.store.Save(ctx, p); err != nil {
		return err
	}
	return o.recorder.Commit(ctx, p)
}

// TestIntegrationRestartResumesFromTheCheckpoint stops capture in the middle
// of a stream of multi-row transactions and starts it again from its
// checkpoint: no row may be missing, and only rows of the transaction that
// was open at the stop may come twice.
func TestIntegrationRestartResumesFromTheCheckpoint(t *testing.T) {
	dsn := sourceDSN(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, 2*time.Minute)
	schema := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "CREATE TABLE `"+schema+"`.r (id INT PRIMARY KEY, tx INT)")
	from := currentPos(ctx, t, dsn)

	const txs, perTx = 200, 10
	var stmts []string
	for tx := 0; tx < txs; tx++ {
		var vals []string
		for j := 0; j < perTx; j++ {
			vals = append(vals, fmt.Sprintf("(%d, %d)", tx*perTx+j, tx))
		}
		// Several statements per transaction, so a stop can fall between
		// rows events of one transaction.
		stmts = append(stmts, "BEGIN",
			"INSERT INTO `"+schema+"`.r VALUES "+strings.Join(vals[:perTx/2], ","),
			"INSERT INTO `"+schema+"`.r VALUES "+strings.Join(vals[perTx/2:], ","),
			"COMMIT")
	}
	execAll(ctx, t, db, stmts...)

	store := checkpoint.NewFileStore(filepath.Join(t.TempDir(), "checkpoint.json"))
	opts := Options{DSN: dsn, Start: from, Include: []string{schema + ".r"}, CheckpointStore: store}

	// First run: stop in the middle of a transaction.
	first := newRecorder()
	stopAt := txs*perTx/2 + 3
	var seen atomic.Int64
	failed := first.failWhen(func(*event.Event) bool { return seen.Add(1) > int64(stopAt) })
	stop := startCapture(t, opts, checkpointingOutput{first, store})
	endedByFailure(ctx, t, failed, stop)
	cp, err := store.Load(ctx)
	if err != nil {
		t.Fatalf("no checkpoint after the first run: %v", err)
	}
	t.Logf("stopped after %d events; checkpoint %s", len(first.events), cp)

	// Second run: "" means the stored checkpoint.
	second := newRecorder()
	opts.Start = ""
	stop = startCapture(t, opts, checkpointingOutput{second, store})
	second.waitFor(ctx, t, "the last row", func(evs []*event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].After[0].Int() == txs*perTx-1
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	count := map[int64]int{}
	for _, e := range append(append([]*event.Event(nil), first.events...), second.events...) {
		count[e.After[0].Int()]++
	}
	openTx := first.events[len(first.events)-1].After[1].Int()
	for id := int64(0); id < txs*perTx; id++ {
		switch n := count[id]; {
		case n == 0:
			t.Errorf("row %d is missing", id)
		case n > 1 && id/perTx != openTx:
			t.Errorf("row %d came %d times but its transaction %d was not open at the stop (%d was)", id, n, id/perTx, openTx)
		}
	}
	if second.events[0].After[1].Int() != openTx || second.events[0].Tx.Seq != 0 {
		t.Errorf("the second run starts at %v (tx seq %d), want the start of transaction %d", second.events[0].After, second.events[0].Tx.Seq, openTx)
	}
}

// TestIntegrationMillionRowTransactionStreams captures one transaction of
// 1,000,000 rows and checks that memory stays bounded while it streams.
func TestIntegrationMillionRowTransactionStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the million-row transaction takes a while")
	}
	dsn := sourceDSN(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, 5*time.Minute)
	schema := testenv.FreshDatabase(t, db)
	const rows = 1_000_000
	execAll(ctx, t, db,
		"USE `"+schema+"`",
		"CREATE TABLE big (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), at DATETIME(6))",
	)
	from := currentPos(ctx, t, dsn)
	began := time.Now()
	execAll(ctx, t, db,
		"USE `"+schema+"`",
		"SET SESSION max_recursive_iterations = 2000000", // MariaDB's name for the recursion limit
		"BEGIN",
		fmt.Sprintf(`INSERT INTO big WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM seq WHERE n < %d)
			SELECT n, CONCAT('row-', n), n / 100, '2024-01-01 00:00:00.000001' FROM seq`, rows),
		"COMMIT",
	)
	t.Logf("wrote %d rows in one transaction in %s", rows, time.Since(began).Round(time.Millisecond))

	hwmBefore := vmHWM(t)
	// A collection now, so that the live heap the first samples read is
	// this test's, not the last one of an earlier test.
	runtime.GC()
	var n, commits atomic.Int64
	var peakHeap atomic.Uint64
	var lastSeq atomic.Uint64
	done := make(chan struct{})
	var buf []byte
	out := &funcOutput{
		event: func(e *event.Event) error {
			var err error
			if buf, err = event.AppendJSON(buf[:0], e); err != nil {
				return err
			}
			lastSeq.Store(e.Tx.Seq)
			if c := n.Add(1); c%100_000 == 0 {
				if h := liveHeap(); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
			}
			return nil
		},
		commit: func(p checkpoint.Position) error {
			if n.Load() == rows && commits.Add(1) == 1 {
				close(done)
			}
			return nil
		},
	}
	began = time.Now()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schema + ".big"}}, out)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("captured %d of %d rows before the deadline", n.Load(), rows)
	}
	elapsed := time.Since(began)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if lastSeq.Load() != rows-1 {
		t.Errorf("last tx seq %d, want %d", lastSeq.Load(), rows-1)
	}
	hwmAfter := vmHWM(t)
	t.Logf("captured %d rows (one transaction) in %s: %.0f rows/s; peak live heap %d MiB; VmHWM %d MiB before, %d MiB after",
		rows, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(), peakHeap.Load()>>20, hwmBefore>>10, hwmAfter>>10)
	// Streaming keeps a few MiB live; a buffered transaction of this size
	// would take well over a gigabyte as Events, a tenth of it 100 MiB.
	if peakHeap.Load() > 100<<20 {
		t.Errorf("the live heap reached %d MiB while streaming: the transaction is being buffered", peakHeap.Load()>>20)
	}
}

type funcOutput struct {
	event  func(*event.Event) error
	commit func(checkpoint.Position) error
}

func (o *funcOutput) Event(ctx context.Context, e *event.Event) error { return o.event(e) }
func (o *funcOutput) Commit(ctx context.Context, p checkpoint.Position) error {
	return o.commit(p)
}
func (o *funcOutput) Heartbeat(ctx context.Context, ts int64) error { return nil }

// liveHeap is the heap the last garbage collection found live: what the
// process holds, without the garbage of earlier tests or of the last
// moments, which come and go with the collector's timing.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// vmHWM is the process's peak resident set in KiB (Linux), or 0.
func vmHWM(t *testing.T) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n
			}
		}
	}
	runtime.KeepAlive(t)
	return 0
}

// TestIntegrationPurgedStartSaysWhatToDo asks for a binlog the server no
// longer has.
func TestIntegrationPurgedStartSaysWhatToDo(t *testing.T) {
	dsn := sourceDSN(t)
	ctx := testenv.Context(t, 30*time.Second)
	err := Run(ctx, Options{DSN: dsn, ServerID: testServerID(), Start: "mariadb-bin.000000:4", Logger: quietLogger()}, newRecorder())
	if !errors.Is(err, ErrPurged) || !strings.Contains(err.Error(), "start from earliest, and copy the captured tables to the sinks again") || !strings.Contains(err.Error(), "oldest is ") {
		t.Fatalf("got %v, want ErrPurged with advice", err)
	}
}

// TestIntegrationIdleSourceSendsHeartbeats checks that an idle capture
// still hears from the server, so lag is known.
func TestIntegrationIdleSourceSendsHeartbeats(t *testing.T) {
	dsn := sourceDSN(t)
	ctx := testenv.Context(t, 30*time.Second)
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: "latest", Heartbeat: 100 * time.Millisecond, Include: []string{"no_such_schema_x.*"}}, rec)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec.mu.Lock()
		beats := rec.beats
		rec.mu.Unlock()
		if beats >= 2 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%d heartbeats in 10s with a 100ms period", beats)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationLostConnectionResumesWithoutGapsOrRepeats kills the
// replication connection mid-stream: capture reconnects from its last
// transaction boundary and hands over every row exactly once.
func TestIntegrationLostConnectionResumesWithoutGapsOrRepeats(t *testing.T) {
	cutConnection(t, false)
}

// TestIntegrationAReconnectToAnotherServerSkipsNothing cuts the connection
// as the previous test does, but makes capture believe it was reading
// another server: after the reconnect it must resume by GTID set, skip
// nothing, and say so to the output with the new server's id. Rows of the
// transaction open at the cut may come twice.
func TestIntegrationAReconnectToAnotherServerSkipsNothing(t *testing.T) {
	cutConnection(t, true)
}

// cutConnection kills capture's replication connection between the two
// rows events of a transaction, after making the stream believe it was
// reading server 999 when otherServer is set.
func cutConnection(t *testing.T, otherServer bool) {
	dsn := sourceDSN(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, time.Minute)
	schema := testenv.FreshDatabase(t, db)
	// Rows of 1 KB, so the backlog is far larger than what the socket
	// buffers hold when the connection is cut.
	execAll(ctx, t, db, "CREATE TABLE `"+schema+"`.r (id INT PRIMARY KEY, filler VARCHAR(1024) DEFAULT (REPEAT('x', 1000)))")
	from := currentPos(ctx, t, dsn)
	const total = 20000
	var stmts []string
	for i := 0; i < total; i += 10 {
		var vals []string
		for j := i; j < i+10; j++ {
			vals = append(vals, fmt.Sprintf("(%d)", j))
		}
		stmts = append(stmts, "BEGIN", "INSERT INTO `"+schema+"`.r (id) VALUES "+strings.Join(vals[:5], ","),
			"INSERT INTO `"+schema+"`.r (id) VALUES "+strings.Join(vals[5:], ","), "COMMIT")
	}
	execAll(ctx, t, db, stmts...)

	var logs testenv.Buffer
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logs), nil))
	c, err := New(Options{DSN: dsn, ServerID: testServerID(), Start: from, Include: []string{schema + ".r"}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := newRecorder()
	var killed atomic.Bool
	rec.onEvent = func(e *event.Event) error {
		// Cut the connection once, between the two statements of a
		// transaction, from inside the stream so the cut lands mid-stream.
		if e.After[0].Int() == 2004 && killed.CompareAndSwap(false, true) {
			s := c.cur.Load()
			if otherServer {
				s.lastCommit.ServerID = 999 // on the stream's goroutine: no race
			}
			id := s.connID.Load()
			if _, err := db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
				return err
			}
		}
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx, rec) }()
	rec.waitFor(ctx, t, "every row", func(evs []*event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].After[0].Int() == total-1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !killed.Load() {
		t.Fatal("the connection was never cut")
	}
	seen := map[int64]int{}
	for _, e := range rec.events {
		seen[e.After[0].Int()]++
	}
	repeatedTx := int64(-1)
	for id := int64(0); id < total; id++ {
		switch {
		case seen[id] == 1:
		case otherServer && seen[id] == 2 && (repeatedTx < 0 || repeatedTx == id/10):
			repeatedTx = id / 10 // only the transaction open at the cut
		default:
			t.Errorf("row %d handed over %d times, want once", id, seen[id])
		}
	}
	// Only a move to another server resumes by GTID set, and the output
	// hears of it at once: the last commit of server 999 comes again under
	// the real id, before any row read from the new connection.
	if moved := strings.Contains(logs.String(), "resuming by GTID set"); moved != otherServer {
		t.Errorf("capture resumed by GTID set: %v, want %v", moved, otherServer)
	}
	if otherServer {
		i := len(rec.commits) - 1
		for i >= 0 && rec.commits[i].ServerID != 999 {
			i--
		}
		switch {
		case i < 0 || i+1 == len(rec.commits):
			t.Errorf("no commit of server 999 followed by another: %v", rec.commits)
		case rec.commits[i+1].ServerID == 999 || rec.commits[i+1].File != rec.commits[i].File || rec.commits[i+1].Pos != rec.commits[i].Pos:
			t.Errorf("after %s of server 999 came %s of server %d, want the same position under the real server id",
				rec.commits[i], rec.commits[i+1], rec.commits[i+1].ServerID)
		}
	}
	for i, e := range rec.events {
		if otherServer {
			break // the repeated rows break the sequence
		}
		if want := uint64(e.After[0].Int() % 10); e.Tx.Seq != want {
			t.Fatalf("event %d (row %d): tx seq %d, want %d", i, e.After[0].Int(), e.Tx.Seq, want)
		}
	}
}

// TestIntegrationMissingPrivilegesSayWhatToGrant connects as a user with
// no replication rights.
func TestIntegrationMissingPrivilegesSayWhatToGrant(t *testing.T) {
	dsn := sourceDSN(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, 30*time.Second)
	user := testenv.UniqueName(t, "u")[:30]
	if _, err := db.ExecContext(ctx, "CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'") })
	weak := dsn
	weak.User, weak.Password = user, "pw"
	err := Run(ctx, Options{DSN: weak, ServerID: testServerID(), Start: "latest", Logger: quietLogger()}, newRecorder())
	if err == nil || !strings.Contains(err.Error(), "REPLICATION SLAVE") {
		t.Fatalf("got %v, want an error saying which privileges to grant", err)
	}
	t.Log(err)
}

// TestIntegrationTheStartIsCommittedBeforeAnyEvent checks that the output
// gets the start position first, so it can save it before anything flows:
// a process killed before its first transaction must resume there, not at
// a "latest" that has moved on.
func TestIntegrationTheStartIsCommittedBeforeAnyEvent(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	db := testenv.Source(t)
	schema := testenv.FreshDatabase(t, db)
	execAll(ctx, t, db, "CREATE TABLE `"+schema+"`.t (id INT PRIMARY KEY)")
	from := currentPos(ctx, t, sourceDSN(t))
	rec := newRecorder()
	var sawEventFirst bool
	rec.onEvent = func(*event.Event) error {
		rec.mu.Lock()
		sawEventFirst = sawEventFirst || len(rec.commits) == 0
		rec.mu.Unlock()
		return nil
	}
	startCapture(t, Options{DSN: sourceDSN(t), Start: from, Include: []string{schema + ".t"}}, rec)
	execAll(ctx, t, db, "INSERT INTO `"+schema+"`.t VALUES (1)")
	rec.waitFor(ctx, t, "the insert", func(evs []*event.Event) bool { return len(evs) == 1 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if sawEventFirst {
		t.Error("an event reached the output before any commit")
	}
	if got := rec.commits[0]; got.File+":"+itoa(got.Pos) != from {
		t.Errorf("first commit %s, want the start %s", got, from)
	}
	// Every position names the server it belongs to.
	var serverID uint32
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&serverID); err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.commits {
		if p.ServerID != serverID {
			t.Errorf("commit %s has server_id %d, want the source's %d", p, p.ServerID, serverID)
		}
	}
}

// TestIntegrationEventOrderDoesNotDependOnTheFilter reads one transaction
// over two tables twice, once capturing both and once only the second: the
// second table's events must have the same marks both times, since a
// restart with another filter compares marks saved before it.
func TestIntegrationEventOrderDoesNotDependOnTheFilter(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	db := testenv.Source(t)
	schema, from := idTables(ctx, t, db, "a", "b")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"INSERT INTO a VALUES (1), (2), (3)", "INSERT INTO b VALUES (1), (2)", "INSERT INTO a VALUES (4)", "INSERT INTO b VALUES (3)"} {
		if _, err := tx.ExecContext(ctx, strings.Replace(q, "INTO ", "INTO `"+schema+"`.", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	marks := func(include ...string) []event.Mark {
		rec := newRecorder()
		stop := startCapture(t, Options{DSN: sourceDSN(t), Start: from, Include: include}, rec)
		defer stop()
		var ms []event.Mark
		for _, e := range rec.waitFor(ctx, t, "the rows of b", func(evs []*event.Event) bool {
			n := 0
			for _, e := range evs {
				if e.Table.Name == "b" {
					n++
				}
			}
			return n == 3
		}) {
			if e.Table.Name == "b" {
				ms = append(ms, e.Mark())
			}
		}
		return ms
	}
	both, onlyB := marks(schema+".a", schema+".b"), marks(schema+".b")
	if !slices.Equal(both, onlyB) {
		t.Fatalf("the marks of b's rows depend on the filter:\ncapturing a and b: %+v\ncapturing b:       %+v", both, onlyB)
	}
	for i := 1; i < len(both); i++ {
		if !both[i-1].AtOrBefore(both[i]) || both[i-1] == both[i] {
			t.Fatalf("marks do not grow: %+v", both)
		}
	}
}

// TestIntegrationEachTransactionIsCommittedWhereItEnds checks where the
// output gets a commit: after a DDL statement, which commits on its own;
// only after the rows of CREATE TABLE ... SELECT, which is one
// transaction; and after a statement such as ANALYZE TABLE, which is a
// transaction of its own with no rows.
func TestIntegrationEachTransactionIsCommittedWhereItEnds(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	db := testenv.Source(t)
	schema, from := idTables(ctx, t, db, "src")
	q := "`" + schema + "`."
	rec := newRecorder()
	var mu sync.Mutex
	var seen []string // what the output got, in order
	note := func(s string) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}
	rec.onEvent = func(e *event.Event) error { note(e.Action.String() + " " + e.Table.Name); return nil }
	// Other tests write to the server meanwhile, and capture commits their
	// transactions too. The commits that count are the start and those of
	// this test's transactions, which run in a GTID domain of their own.
	domain := strconv.Itoa(1000 + rand.IntN(1_000_000))
	started, last := false, ""
	rec.onCommit = func(p checkpoint.Position) error {
		var mine string // this domain's last GTID in the set
		for _, g := range strings.Split(p.GTIDSet, ",") {
			if strings.HasPrefix(g, domain+"-") {
				mine = g
			}
		}
		if !started || mine != last {
			started, last = true, mine
			note("commit")
		}
		return nil
	}
	startCapture(t, Options{DSN: sourceDSN(t), Start: from, Include: []string{schema + ".*"}}, rec)
	had := 0
	step := func(stmt string, want ...string) {
		t.Helper()
		execAll(ctx, t, db, "SET SESSION gtid_domain_id = "+domain, stmt)
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := slices.Clone(seen[min(had, len(seen)):])
			mu.Unlock()
			if len(got) >= len(want) || time.Now().After(deadline) {
				if !slices.Equal(got, want) {
					t.Fatalf("after %s the output got %q, want %q", stmt, got, want)
				}
				had += len(got)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	step("INSERT INTO "+q+"src VALUES (1), (2)", "commit" /* the start position */, "insert src", "insert src", "commit")
	step("CREATE TABLE "+q+"t (id INT PRIMARY KEY)", "ddl t", "commit")
	step("CREATE TABLE "+q+"dst SELECT * FROM "+q+"src", "ddl dst", "insert dst", "insert dst", "commit")
	step("ANALYZE TABLE "+q+"src", "commit")
	step("INSERT INTO "+q+"t VALUES (1)", "insert t", "commit")
}

// TestIntegrationARowChangeWrittenAsAStatementStopsCapture writes rows
// with binlog_format=STATEMENT in one session: for a table capture does
// not take that is nothing to it, for a captured one it is an error that
// names the table, since the binlog does not say which rows changed.
func TestIntegrationARowChangeWrittenAsAStatementStopsCapture(t *testing.T) {
	statementWriteStopsCapture(t, "as an SQL statement", func(string) {}, func(schema, table string) string {
		return "INSERT INTO `" + schema + "`." + table + " VALUES (2)"
	})
}

// TestIntegrationLoadDataWrittenAsAStatementStopsCapture: LOAD DATA in a
// session with binlog_format=STATEMENT reaches the binlog as the file and
// the statement, not as rows. Into a table capture does not take it is
// nothing to it; into a captured one it is an error naming the table.
func TestIntegrationLoadDataWrittenAsAStatementStopsCapture(t *testing.T) {
	statementWriteStopsCapture(t, "LOAD DATA", func(schema string) {
		gomysql.RegisterReaderHandler(schema, func() io.Reader { return strings.NewReader("7\n8\n") })
		t.Cleanup(func() { gomysql.DeregisterReaderHandler(schema) })
	}, func(schema, table string) string {
		return "LOAD DATA LOCAL INFILE 'Reader::" + schema + "' INTO TABLE `" + schema + "`." + table
	})
}

// statementWriteStopsCapture captures table a of a fresh database, then
// runs write(schema, "b") and write(schema, "a") in a session with binlog_format=STATEMENT,
// with a row insert into a between them: the first must pass, the second
// stop capture with an error naming a and saying want. prepare gets the
// database's name first.
func statementWriteStopsCapture(t *testing.T, want string, prepare func(schema string), write func(schema, table string) string) {
	ctx := testenv.Context(t, time.Minute)
	db := testenv.Source(t)
	schema, from := idTables(ctx, t, db, "a", "b")
	prepare(schema)
	q := "`" + schema + "`."
	rec := newRecorder()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	opts := Options{DSN: sourceDSN(t), ServerID: testServerID(), Start: from, Include: []string{schema + ".a"}, Logger: quietLogger()}
	go func() { errc <- Run(runCtx, opts, rec) }()

	execAll(ctx, t, db, "SET SESSION binlog_format = 'STATEMENT'", write(schema, "b"),
		"SET SESSION binlog_format = 'ROW'", "INSERT INTO "+q+"a VALUES (1)")
	rec.waitFor(ctx, t, "the row insert after the statement on b", func(evs []*event.Event) bool { return len(evs) == 1 })
	execAll(ctx, t, db, "SET SESSION binlog_format = 'STATEMENT'", write(schema, "a"))
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), schema+".a at ") || !strings.Contains(err.Error(), want) {
			t.Fatalf("capture ended with %v, want an error naming %s.a and saying %q", err, schema, want)
		}
		t.Log(err)
	case <-ctx.Done():
		t.Fatal("capture went on past rows it cannot see")
	}
}

// TestIntegrationBackquotedPatternsChooseNamesWithDots captures a table
// named with a dot, next to one whose name differs only there, on both dev
// servers: with FULL metadata, and with MINIMAL, where the schema history
// follows its CREATE and ALTER.
func TestIntegrationBackquotedPatternsChooseNamesWithDots(t *testing.T) {
	for _, srv := range devServers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := testenv.Context(t, time.Minute)
			dsn, db := srv.dsn(t), srv.db(t)
			schema := testenv.FreshDatabase(t, db)
			dotted, plain := "`"+schema+"`.`order.items`", "`"+schema+"`.`order_items`"
			from := currentPos(ctx, t, dsn)
			execAll(ctx, t, db,
				"CREATE TABLE "+dotted+" (id INT PRIMARY KEY, note VARCHAR(10))",
				"CREATE TABLE "+plain+" (id INT PRIMARY KEY)",
				"INSERT INTO "+plain+" VALUES (1)",
				"INSERT INTO "+dotted+" VALUES (2, 'x')",
				"ALTER TABLE "+dotted+" ADD COLUMN n INT",
				"INSERT INTO "+dotted+" VALUES (3, 'y', 4)",
				"INSERT INTO "+plain+" VALUES (5)")
			rec := newRecorder()
			stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{dotted}}, rec)
			defer stop()
			all := func([]*event.Event) bool { return true }
			rec.waitFor(ctx, t, "two statements and two inserts", func(evs []*event.Event) bool { return len(evs) >= 4 })
			time.Sleep(200 * time.Millisecond) // room for an event of the other table to show
			var got []string
			for _, e := range rec.waitFor(ctx, t, "", all) {
				got = append(got, fmt.Sprintf("%s %s.%s %v", e.Action, e.Table.Schema, e.Table.Name, e.After))
			}
			want := []string{
				fmt.Sprintf("ddl %s.order.items []", schema),
				fmt.Sprintf("insert %s.order.items [2 x]", schema),
				fmt.Sprintf("ddl %s.order.items []", schema),
				fmt.Sprintf("insert %s.order.items [3 y 4]", schema),
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
