package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// The end-to-end tests run the real binary against the real servers: a
// workload changes a source table while moontide processes are killed with
// SIGKILL and restarted; a listener replicates the table into the
// destination database and records every event id it handled in the same
// transaction. At the end the destination must equal the source row for row
// and every event the binlog holds must have been handled.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moontideBinary builds the binary once per test run.
func moontideBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "moontide-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "moontide")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building moontide: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// e2e is one end-to-end setup: a fresh source and destination database, a
// conf.d and a scripts directory for them.
type e2e struct {
	t        *testing.T
	src, dst *sql.DB
	srcDB    string
	dstDB    string
	conf     string
	scripts  string
	start    string // FILE:POS before the workload
	kafka    bool
	topics   string // the Kafka topic prefix
	logs     *testenv.Buffer
}

// e2eOptions vary the setup of newE2EWith.
type e2eOptions struct {
	kafka bool
	// minimal captures from the dev server without
	// binlog_row_metadata=FULL, whose columns capture takes from its
	// schema history.
	minimal bool
	// tables are made in the source and the destination before the start
	// position, by name and definition, next to items.
	tables map[string]string
}

func newE2E(t *testing.T, kafka bool) *e2e { return newE2EWith(t, e2eOptions{kafka: kafka}) }

func newE2EWith(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	src, srcDSN := testenv.Source(t), testenv.SourceDSN(t)
	if o.minimal {
		src, srcDSN = testenv.Minimal(t), testenv.MinimalDSN(t)
	}
	e := &e2e{t: t, src: src, dst: testenv.Dest(t), kafka: o.kafka, logs: &testenv.Buffer{}}
	e.srcDB = testenv.FreshDatabase(t, e.src)
	e.dstDB = testenv.FreshDatabase(t, e.dst)
	tables := map[string]string{"items": "(id INT PRIMARY KEY, n BIGINT UNSIGNED, price DECIMAL(30,10), note VARCHAR(100), at DATETIME(6))"}
	maps.Copy(tables, o.tables)
	for name, def := range tables {
		mustExec(ctx, t, e.src, "CREATE TABLE `"+e.srcDB+"`.`"+name+"` "+def)
		mustExec(ctx, t, e.dst, "CREATE TABLE `"+e.dstDB+"`.`"+name+"` "+def)
	}
	mustExec(ctx, t, e.dst, "CREATE TABLE `"+e.dstDB+"`.seen (id VARCHAR(100) PRIMARY KEY, n INT NOT NULL, batch VARCHAR(100) NOT NULL)")
	file, pos := testenv.BinlogPosition(ctx, t, e.src)
	e.start = fmt.Sprintf("%s:%d", file, pos)

	dir := t.TempDir()
	e.conf = filepath.Join(dir, "conf.d")
	e.scripts = filepath.Join(dir, "scripts")
	for _, d := range []string{e.conf, e.scripts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := filepath.Glob("../../conf.d/*.yaml")
	if err != nil || len(shipped) == 0 {
		t.Fatalf("reading the shipped conf.d: %v", err)
	}
	for _, f := range shipped {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(e.conf, filepath.Base(f)), string(data))
	}
	brokers := "[]"
	e.topics = testenv.UniqueName(t, "t")
	if o.kafka {
		brokers = "[" + strings.Join(testenv.KafkaBrokers(t), ",") + "]"
	}
	writeFile(t, filepath.Join(e.conf, "90-e2e.yaml"), fmt.Sprintf(`
source:
  dsn: %q
  start: %q
  server_id: %d
  include: [%q]
kafka:
  brokers: %s
  topic_prefix: %s
  group_prefix: %s
  partitions: 3
checkpoint:
  path: %s
sinks:
  dest:
    type: mysql
    dsn: %q
scripts:
  dir: %s
admin:
  listen: 127.0.0.1:0
`, srcDSN, e.start, 100000+rand.IntN(1<<20), e.srcDB+".*", brokers,
		e.topics, testenv.UniqueName(t, "g"), filepath.Join(dir, "var", "checkpoint.json"),
		testenv.DestDSN(t), e.scripts))
	e.writeScript(64, "")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moontide logs:\n%s", e.logs.String())
		}
	})
	return e
}

// writeScript (re)writes the replica listener: it upserts or deletes each
// row in the destination and counts the event id in the same transaction,
// with the batch that first handled it (named by its first event). batch and
// extra vary it between reload generations.
func (e *e2e) writeScript(batch int, extra string) {
	e.t.Helper()
	writeFile(e.t, filepath.Join(e.scripts, "replica.lua"), fmt.Sprintf(`
local mysql = require("mysql")
%s
return {
  name = "replica",
  subscribe = { %q },
  fields = { "id", "action", "before", "after" },
  batch = %d,
  workers = 4,
  start = "earliest",
  handle = function(events)
    local batch = events[1].id
    for _, ev in ipairs(events) do
      if ev.action == "delete" then
        mysql.delete(%q, { id = ev.before.id })
      elseif ev.action ~= "ddl" then
        mysql.upsert(%q, ev.after, { "id" })
      end
      mysql.exec("INSERT INTO %s.seen (id, n, batch) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE n = n + 1", ev.id, batch)
    end
  end,
}
`, extra, e.srcDB+".items", batch, e.dstDB+".items", e.dstDB+".items", "`"+e.dstDB+"`"))
}

// proc is one moontide process.
type proc struct {
	e   *e2e
	cmd *exec.Cmd
}

func (e *e2e) startProc(sub string) *proc {
	e.t.Helper()
	cmd := exec.Command(moontideBinary(e.t), sub, "-c", e.conf)
	cmd.Stdout = e.logs
	cmd.Stderr = e.logs
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return &proc{e: e, cmd: cmd}
}

// kill ends the process with SIGKILL: no cleanup, no final commit.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// stop ends the process with SIGTERM and expects a clean exit.
func (p *proc) stop() {
	p.e.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.e.t.Errorf("%s after SIGTERM: %v", p.cmd.Args[1], err)
		}
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		p.e.t.Errorf("%s did not stop within 60s of SIGTERM", p.cmd.Args[1])
	}
}

// workload runs n random single- and multi-statement transactions on the
// source table over 200 ids: inserts, updates and deletes that touch the
// same rows many times.
func (e *e2e) workload(ctx context.Context, n int) error {
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	tbl := "`" + e.srcDB + "`.items"
	for i := 0; i < n; i++ {
		tx, err := e.src.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for s := 0; s < 1+r.IntN(4); s++ {
			id := 1 + r.IntN(200)
			switch r.IntN(3) {
			case 0:
				_, err = tx.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE n = VALUES(n)",
					id, uint64(1<<63)+r.Uint64N(1<<62), fmt.Sprintf("%d.%010d", r.IntN(1e9), r.IntN(1e9)),
					fmt.Sprintf("note %d ✓", i), time.Unix(r.Int64N(2e9), r.Int64N(1e9)/1000*1000).UTC().Format("2006-01-02 15:04:05.000000"))
			case 1:
				_, err = tx.ExecContext(ctx, "UPDATE "+tbl+" SET n = n + 1, note = ? WHERE id = ?", nil, id)
			default:
				_, err = tx.ExecContext(ctx, "DELETE FROM "+tbl+" WHERE id = ?", id)
			}
			if err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// expectedIDs reads the binlog from the test's start to the current end in
// process, uninterrupted, and returns the id of every event of the table.
func (e *e2e) expectedIDs(ctx context.Context) map[string]bool {
	e.t.Helper()
	file, pos := testenv.BinlogPosition(ctx, e.t, e.src)
	rec := &idRecorder{ids: map[string]bool{}, endFile: file, endPos: pos, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-rec.done
		cancel()
	}()
	err := capture.Run(ctx, capture.Options{
		DSN: testenv.SourceMySQL(e.t), ServerID: 200000 + rand.Uint32N(1<<20), Start: e.start,
		Include: []string{e.srcDB + ".items"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, rec)
	select {
	case <-rec.done:
	default:
		e.t.Fatalf("reading the expected events: %v", err)
	}
	return rec.ids
}

type idRecorder struct {
	ids     map[string]bool
	endFile string
	endPos  uint32
	once    sync.Once
	done    chan struct{}
}

func (r *idRecorder) Event(_ context.Context, ev *event.Event) error {
	if ev.Action != event.DDL {
		r.ids[ev.ID] = true
	}
	return nil
}

func (r *idRecorder) Commit(_ context.Context, p checkpoint.Position) error {
	if p.File > r.endFile || p.File == r.endFile && p.Pos >= r.endPos {
		r.once.Do(func() { close(r.done) })
	}
	return nil
}

func (r *idRecorder) Heartbeat(context.Context, int64) error { return nil }

// converge waits until the destination holds the source's rows and every
// expected event id was handled, and fails the test with the difference if
// that does not happen in time.
func (e *e2e) converge(ctx context.Context, want map[string]bool) {
	e.t.Helper()
	var diff string
	for {
		diff = e.difference(ctx, want)
		if diff == "" {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("the destination did not converge: %s", diff)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (e *e2e) difference(ctx context.Context, want map[string]bool) string {
	seen := map[string]bool{}
	ids, _ := rawRows(ctx, e.t, e.dst, "SELECT id FROM `"+e.dstDB+"`.seen")
	for _, r := range ids {
		seen[r[0]] = true
	}
	missing := 0
	example := ""
	for id := range want {
		if !seen[fmt.Sprintf("%q", id)] {
			missing++
			example = id
		}
	}
	if missing > 0 {
		return fmt.Sprintf("%d of %d events not handled (e.g. %s)", missing, len(want), example)
	}
	return rowsDiff(ctx, e.t, e.src, e.dst, "`"+e.srcDB+"`.items", "`"+e.dstDB+"`.items")
}

// handledTwice is how many times the listener handled an event it had
// handled already, and how many batches had first handled those events.
func (e *e2e) handledTwice(ctx context.Context) (events, batches int) {
	e.t.Helper()
	q := "SELECT COALESCE(SUM(n - 1), 0), COUNT(DISTINCT CASE WHEN n > 1 THEN batch END) FROM `" + e.dstDB + "`.seen"
	if err := e.dst.QueryRowContext(ctx, q).Scan(&events, &batches); err != nil {
		e.t.Fatal(err)
	}
	return events, batches
}

// republished reads the table's topic, fails the test if an expected event
// is not in it, and returns how many messages repeat an event already in
// it, and how many transactions those belong to.
func (e *e2e) republished(ctx context.Context, want map[string]bool) (extra, txs int) {
	e.t.Helper()
	seen := map[string]bool{}
	dupTx := map[string]bool{}
	for _, m := range testenv.TopicMessages(ctx, e.t, e.topics+"."+e.srcDB+".items") {
		ev, err := event.Decode(m)
		if err != nil {
			e.t.Fatal(err)
		}
		if seen[ev.ID] {
			extra++
			dupTx[ev.Tx.ID] = true
		}
		seen[ev.ID] = true
	}
	for id := range want {
		if !seen[id] {
			e.t.Errorf("event %s is not in Kafka", id)
		}
	}
	return extra, len(dupTx)
}

// chaos runs the workload while killing procs with SIGKILL and starting
// them again, kills times, then leaves them running.
func (e *e2e) chaos(ctx context.Context, procs map[string]*proc, victims []string, ops, kills int) {
	e.t.Helper()
	done := make(chan error, 1)
	go func() { done <- e.workload(ctx, ops) }()
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(800+rand.IntN(1200)) * time.Millisecond)
		name := victims[k%len(victims)]
		procs[name].kill()
		e.t.Logf("killed %s with SIGKILL", name)
		procs[name] = e.startProc(name)
	}
	if err := <-done; err != nil {
		e.t.Fatalf("workload: %v", err)
	}
}

func TestIntegrationRunLosesNothingOnKill9(t *testing.T) {
	e := newE2E(t, false)
	ctx := testenv.Context(t, 5*time.Minute)
	procs := map[string]*proc{"run": e.startProc("run")}
	const kills = 3
	e.chaos(ctx, procs, []string{"run"}, 1500, kills)
	want := e.expectedIDs(ctx)
	e.converge(ctx, want)
	procs["run"].stop()
	// A restart skips what each worker had finished past the checkpoint.
	// Of the finished batches, only one that finished in the moment before
	// a kill, before the save that records it, runs again: at most one per
	// kill, bar two workers finishing within the same millisecond. Without
	// the skip, each kill replayed several workers' batches (3 to 7 batches
	// over 3 kills in our runs; TestTransportDoesNotRedoAfterARestart...
	// checks the skip exactly).
	twice, batches := e.handledTwice(ctx)
	t.Logf("%d kills: %d of %d events handled twice, first handled by %d batches", kills, twice, len(want), batches)
	if batches > kills {
		t.Errorf("%d events of %d batches were handled again after %d kills; want at most one batch per kill", twice, batches, kills)
	}
}

func TestIntegrationCaptureAndDispatchLoseNothingOnKill9(t *testing.T) {
	e := newE2E(t, true)
	ctx := testenv.Context(t, 5*time.Minute)
	procs := map[string]*proc{"capture": e.startProc("capture"), "dispatch": e.startProc("dispatch")}
	const captureKills = 2
	e.chaos(ctx, procs, []string{"capture", "dispatch"}, 1500, 2*captureKills)
	want := e.expectedIDs(ctx)
	e.converge(ctx, want)
	procs["capture"].stop()
	procs["dispatch"].stop()
	// Capture publishes again only what Kafka had not acknowledged when it
	// was killed: at most the transaction in flight each time.
	extra, txs := e.republished(ctx, want)
	if txs > captureKills {
		t.Errorf("%d events of %d transactions are in Kafka twice after %d kills of capture", extra, txs, captureKills)
	}
	twice, _ := e.handledTwice(ctx)
	t.Logf("%d kills of capture: %d events in Kafka twice; %d kills of dispatch: %d of %d events handled twice",
		captureKills, extra, captureKills, twice, len(want))
}

func mustExec(ctx context.Context, t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// writeFile replaces path atomically, as editors save, so a reload running
// meanwhile reads the old or the new script, never half of one.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationReloadUnderLoadLosesNothing(t *testing.T) {
	e := newE2E(t, false)
	ctx := testenv.Context(t, 5*time.Minute)
	p := e.startProc("run")
	// The workload runs until every version was swapped in twice.
	wctx, stopWorkload := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.workload(wctx, 1<<30) }()
	versions := []func(){
		func() { e.writeScript(32, "-- version B: smaller batches, so the runner is rebuilt") },
		func() {
			writeFile(t, filepath.Join(e.scripts, "replica.lua"), "return {\n  name = \"replica\",\n  handle = function(events)\n    local = 1\n  end,\n}\n")
		},
		func() {
			e.writeScript(32, "local unused = 1 -- version C: new code, same spec, so only the handler is swapped")
		},
		func() { e.writeScript(64, "-- version A") },
	}
	for reloads := 0; reloads < 2*len(versions); reloads++ {
		time.Sleep(time.Second)
		versions[reloads%len(versions)]()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatalf("the process is gone after %d reloads: %v", reloads, err)
		}
	}
	stopWorkload()
	// Stopping may cut a transaction short: it is rolled back, and the
	// workload's error then says so in one way or another.
	if err := <-done; err != nil && wctx.Err() == nil {
		t.Fatalf("workload: %v", err)
	}
	e.writeScript(64, "-- final")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	e.converge(ctx, e.expectedIDs(ctx))
	logs := e.logs.String()
	if !strings.Contains(logs, "reload refused") || !strings.Contains(logs, "replica.lua:4") {
		t.Errorf("the broken version was not refused with its file and line")
	}
	if n := strings.Count(logs, "capture starting"); n != 1 {
		t.Errorf("capture started %d times: the process restarted", n)
	}
	p.stop()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "reload") {
			t.Log(line)
		}
	}
}

func TestIntegrationTwoDispatchProcessesHandOverWithoutLoss(t *testing.T) {
	e := newE2E(t, true)
	ctx := testenv.Context(t, 5*time.Minute)
	capture := e.startProc("capture")
	a, b := e.startProc("dispatch"), e.startProc("dispatch")
	done := make(chan error, 1)
	go func() { done <- e.workload(ctx, 1500) }()
	time.Sleep(2 * time.Second)
	a.stop() // its partitions go to b, from the offsets a committed
	if err := <-done; err != nil {
		t.Fatalf("workload: %v", err)
	}
	e.converge(ctx, e.expectedIDs(ctx))
	b.stop()
	capture.stop()
}

func TestIntegrationRunOverKafkaReplicates(t *testing.T) {
	e := newE2E(t, true)
	ctx := testenv.Context(t, 5*time.Minute)
	p := e.startProc("run") // capture and dispatch in one process, through Kafka
	if err := e.workload(ctx, 500); err != nil {
		t.Fatalf("workload: %v", err)
	}
	e.converge(ctx, e.expectedIDs(ctx))
	p.stop()
}

// rowsDiff compares two tables of the same columns, row by row and column
// by column, as the server writes their values; "" when they are equal.
func rowsDiff(ctx context.Context, t *testing.T, srcDB, dstDB *sql.DB, src, dst string) string {
	t.Helper()
	a, cols := rawRows(ctx, t, srcDB, "SELECT * FROM "+src+" ORDER BY id")
	b, _ := rawRows(ctx, t, dstDB, "SELECT * FROM "+dst+" ORDER BY id")
	var out []string
	if len(a) != len(b) {
		out = append(out, fmt.Sprintf("%d rows in the source, %d in the destination", len(a), len(b)))
	}
	for r := range min(len(a), len(b)) {
		for c := range cols {
			if a[r][c] != b[r][c] {
				out = append(out, fmt.Sprintf("row id=%s, column %s: source %s, destination %s", a[r][0], cols[c], a[r][c], b[r][c]))
			}
		}
	}
	return strings.Join(out, "\n")
}

// rawRows reads every row of q with each value quoted (%q of its bytes)
// or NULL.
func rawRows(ctx context.Context, t *testing.T, db *sql.DB, q string) ([][]string, []string) {
	t.Helper()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out [][]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = fmt.Sprintf("%q", v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, cols
}
