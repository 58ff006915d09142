package capture

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/schema"
	"github.com/moontide/moontide/internal/testenv"
)

// recorder is an Output that keeps what it is given and lets a test wait
// for it.
type recorder struct {
	mu      sync.Mutex
	events  []*event.Event
	commits []checkpoint.Position
	beats   int
	changed chan struct{}
	// onEvent, when set, runs for every event (under no lock) and may fail.
	onEvent  func(*event.Event) error
	onCommit func(checkpoint.Position) error
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Event(ctx context.Context, e *event.Event) error {
	if r.onEvent != nil {
		if err := r.onEvent(e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.notify()
	return nil
}

func (r *recorder) Commit(ctx context.Context, p checkpoint.Position) error {
	if r.onCommit != nil {
		if err := r.onCommit(p); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.commits = append(r.commits, p)
	r.mu.Unlock()
	r.notify()
	return nil
}

func (r *recorder) Heartbeat(ctx context.Context, ts int64) error {
	r.mu.Lock()
	r.beats++
	r.mu.Unlock()
	r.notify()
	return nil
}

// errInjected is the error failWhen makes an output return.
var errInjected = errors.New("injected failure")

// failWhen makes r fail from the first event cond accepts on, as a crash
// of the output there would; the returned channel is closed then.
func (r *recorder) failWhen(cond func(*event.Event) bool) <-chan struct{} {
	failed := make(chan struct{})
	var once sync.Once
	r.onEvent = func(e *event.Event) error {
		if cond(e) {
			once.Do(func() { close(failed) })
			return errInjected
		}
		return nil
	}
	return failed
}

// endedByFailure waits until the failure failWhen injected happened and
// capture ended with it.
func endedByFailure(ctx context.Context, t *testing.T, failed <-chan struct{}, stop func() error) {
	t.Helper()
	select {
	case <-failed:
	case <-ctx.Done():
		t.Fatal("capture never reached the failure point")
	}
	if err := stop(); !errors.Is(err, errInjected) {
		t.Fatalf("capture ended with %v, want the output's failure", err)
	}
}

// waitFor waits until cond holds over the recorded events.
func (r *recorder) waitFor(ctx context.Context, t *testing.T, what string, cond func(events []*event.Event) bool) []*event.Event {
	t.Helper()
	for {
		r.mu.Lock()
		evs := append([]*event.Event(nil), r.events...)
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-r.changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (have %d events)", what, ctx.Err(), len(evs))
		}
	}
}

// ofTable filters events by table name.
func ofTable(evs []*event.Event, schema, table string) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Table.Schema == schema && e.Table.Name == table {
			out = append(out, e)
		}
	}
	return out
}

// testServerID gives each capture a replica id of its own, since tests in
// parallel packages share the server.
func testServerID() uint32 { return 200000 + rand.Uint32N(1<<30) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// currentPos is the source's end of binlog, as capture resolves "latest".
func currentPos(ctx context.Context, t *testing.T, dsn config.MySQLDSN) string {
	t.Helper()
	c, err := New(Options{DSN: dsn, ServerID: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p.file + ":" + itoa(p.pos)
}

func itoa(n uint32) string { return string(appendPadded(nil, int(n), 1)) }

// startCapture runs capture in the background until the test ends or the
// returned stop is called; stop returns Run's error.
func startCapture(t *testing.T, opts Options, out Output) (stop func() error) {
	t.Helper()
	if opts.ServerID == 0 {
		opts.ServerID = testServerID()
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, opts, out)
		if err != nil {
			// Said at once: a test waiting for events would otherwise
			// only time out.
			t.Logf("capture ended: %v", err)
		}
		done <- err
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("capture did not stop within 30s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// idTables creates tables of one id column in a fresh database and returns
// the database and the end of the binlog after them, where a test starts
// capture.
func idTables(ctx context.Context, t *testing.T, db *sql.DB, tables ...string) (schema, from string) {
	t.Helper()
	schema = testenv.FreshDatabase(t, db)
	for _, tbl := range tables {
		execAll(ctx, t, db, "CREATE TABLE `"+schema+"`."+tbl+" (id INT PRIMARY KEY)")
	}
	return schema, currentPos(ctx, t, sourceDSN(t))
}

// execAll runs statements on one connection, so session settings hold.
func execAll(ctx context.Context, t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// serverCharsets is what capture knows of the collations of the server
// behind db.
func serverCharsets(ctx context.Context, t *testing.T, db *sql.DB) charsets {
	t.Helper()
	colls, err := schema.LoadCollations(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return newCharsets(colls, db, quietLogger())
}

func sourceDSN(t *testing.T) config.MySQLDSN { return testenv.SourceMySQL(t) }

// testLogger sends capture's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// devServers are the two dev MariaDBs, for tests that run on both: one
// with binlog_row_metadata=FULL, one whose columns capture takes from its
// schema history.
var devServers = []struct {
	name string
	dsn  func(testing.TB) config.MySQLDSN
	db   func(testing.TB) *sql.DB
}{
	{"full metadata", testenv.SourceMySQL, testenv.Source},
	{"minimal metadata", testenv.MinimalMySQL, testenv.Minimal},
}
