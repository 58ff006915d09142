// Command e2e measures moontide end to end in embedded mode, wired the way
// `moontide run` wires it (cmd/moontide runEmbedded): binlog → capture.Run →
// embedded transport → dispatch runner → Lua listener → Redis, on the real
// MariaDB and Redis of dev/services.sh.
//
// It writes a backlog of -rows rows as -chunk-row INSERT transactions into
// a fresh database (dropped at the end), then, in each run, reads it:
//
//   - raw: go-mysql's BinlogSyncer decoding the backlog alone (the ceiling,
//     as in bench/capture), for reference in the same run;
//   - one pipeline pass per -variants entry, each from the backlog's start
//     position with a fresh in-memory checkpoint store, timed from the start
//     of capture until the transport's safe position (what it would save)
//     reaches the backlog's end:
//   - demo: scripts/demo_cache.lua itself, with its subscription pointed at
//     the bench table and its key prefix made unique to the pass (the only
//     two edits, checked), writing every row to Redis with redis.set
//     through the real builtins. At the end Redis must hold exactly one key
//     per row, and the last row's value is checked; the keys are then
//     deleted.
//   - lua-json: the same listener spec whose handle only json.encodes each
//     row: the demo without Redis.
//   - lua-noop: the same spec with an empty handle: capture, transport,
//     runner and the Go→Lua conversion of the batch.
//   - go-noop: the same spec with a Go dispatch.Handler that counts distinct
//     rows (checked): capture, transport and runner only.
//
// Every pass checks that the transport received exactly -rows events.
// Rates are rows per second of wall time; the CPU seconds of this process
// are printed beside them (MariaDB and Redis run outside it, on the same
// cores). -cpuprofile writes a CPU profile of the first pass of
// -profile-variant.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/e2e -rows 1000000 -runs 2 -cpuprofile /tmp/e2e.prof
//	go tool pprof -top -nodecount 15 /tmp/e2e.prof
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"
	goredis "github.com/redis/go-redis/v9"

	_ "github.com/moontide/moontide/builtins/all"
	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/transport/embedded"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run parses the flags, writes the backlog and runs the passes; the
// database is dropped however it ends.
func run() error {
	dsnFlag := flag.String("dsn", os.Getenv("MOONTIDE_SOURCE_DSN"), "source mysql:// URL (default $MOONTIDE_SOURCE_DSN)")
	redisAddr := flag.String("redis", os.Getenv("MOONTIDE_REDIS_ADDR"), "Redis host:port (default $MOONTIDE_REDIS_ADDR)")
	rows := flag.Int("rows", 1_000_000, "rows in the backlog")
	chunk := flag.Int("chunk", 1000, "rows per INSERT statement (one transaction each)")
	runs := flag.Int("runs", 1, "runs; each reads the backlog raw and once per variant")
	variants := flag.String("variants", "go-noop,lua-noop,lua-json,demo", "pipeline passes per run, in order: go-noop, lua-noop, lua-json, demo")
	scripts := flag.String("scripts", "scripts", "the scripts directory holding demo_cache.lua and lib/")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the first pass of -profile-variant to this file")
	profileVariant := flag.String("profile-variant", "demo", "the variant -cpuprofile profiles")
	flag.Parse()
	if *dsnFlag == "" || *redisAddr == "" {
		return errors.New("no source or Redis: pass -dsn and -redis or eval \"$(dev/services.sh env)\"")
	}
	vs := strings.Split(*variants, ",")
	for _, v := range vs {
		if _, ok := handles[v]; !ok && v != "go-noop" {
			return fmt.Errorf("unknown variant %q", v)
		}
	}
	demo, err := readDemo(*scripts)
	if err != nil {
		return err
	}
	dsn, err := config.ParseMySQLDSN(*dsnFlag)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := sql.Open("mysql", dsn.DriverDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: *redisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("reaching redis: %w", err)
	}

	bl, err := writeBacklog(ctx, db, *rows, *chunk)
	if bl.schema != "" {
		defer exec(ctx, db, "DROP DATABASE IF EXISTS `"+bl.schema+"`")
	}
	if err != nil {
		return err
	}

	p := pipeline{dsn: dsn, bl: bl, redis: rdb, redisAddr: *redisAddr, demo: demo}
	profiled := *cpuprofile == ""
	for i := 1; i <= *runs; i++ {
		fmt.Printf("run %d: load average %s\n", i, loadavg())
		raw, err := rawRate(ctx, dsn, bl)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: %-9s %9.0f rows/s  (%s)\n", i, "raw", raw.rate(), raw)
		for _, v := range vs {
			var stop func() error
			if !profiled && v == *profileVariant {
				profiled = true
				if stop, err = startProfile(*cpuprofile); err != nil {
					return err
				}
			}
			m, err := p.pass(ctx, v, fmt.Sprintf("%s:r%d:", bl.schema, i))
			if stop != nil {
				err = errors.Join(err, stop())
			}
			if err != nil {
				return fmt.Errorf("variant %s: %w", v, err)
			}
			fmt.Printf("run %d: %-9s %9.0f rows/s  (%s)  ratio to raw %.2f\n", i, v, m.rate(), m, m.rate()/raw.rate())
		}
		fmt.Printf("run %d: load average %s\n", i, loadavg())
	}
	return nil
}

func startProfile(path string) (func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// The demo listener's files, and the two strings the bench rewrites.
const (
	demoFile      = "demo_cache.lua"
	demoKeysFile  = "lib/demo/keys.lua"
	demoSubscribe = `"moontide_demo.items"`
	demoKeyPrefix = `"item:"`
)

// demoScripts is the demo listener as shipped.
type demoScripts struct {
	listener, keys string
}

func readDemo(dir string) (demoScripts, error) {
	l, err := os.ReadFile(filepath.Join(dir, demoFile))
	if err != nil {
		return demoScripts{}, err
	}
	k, err := os.ReadFile(filepath.Join(dir, demoKeysFile))
	if err != nil {
		return demoScripts{}, err
	}
	d := demoScripts{string(l), string(k)}
	if strings.Count(d.listener, demoSubscribe) != 1 || strings.Count(d.keys, demoKeyPrefix) != 1 {
		return d, fmt.Errorf("the demo listener changed: want one %s in %s and one %s in %s; update bench/e2e",
			demoSubscribe, demoFile, demoKeyPrefix, demoKeysFile)
	}
	return d, nil
}

// handles are the Lua variants' handle functions; demo uses the shipped
// script. Every variant has the demo's batch and workers.
var handles = map[string]string{
	"lua-noop": `function(events) end`,
	"lua-json": `function(events)
    for _, ev in ipairs(events) do
      if ev.action ~= "ddl" and ev.action ~= "delete" then json.encode(ev.after) end
    end
  end`,
	"demo": "",
}

// pipeline holds what every pass shares.
type pipeline struct {
	dsn       config.MySQLDSN
	bl        backlog
	redis     *goredis.Client
	redisAddr string
	demo      demoScripts
}

// pass runs the embedded pipeline over the backlog once with the given
// listener variant and checks that nothing was dropped.
func (p pipeline) pass(ctx context.Context, variant, keyPrefix string) (measure, error) {
	table := p.bl.schema + "." + p.bl.table
	var ls []dispatch.Listener
	var counter *counter
	if variant == "go-noop" {
		counter = newCounter(p.bl.rows)
		ls = []dispatch.Listener{{Spec: dispatch.Spec{Name: "go-noop", Subscribe: []string{table}, Batch: 500, Workers: 2}, Handler: counter}}
	} else {
		dir, err := os.MkdirTemp("", "moontide-bench-e2e")
		if err != nil {
			return measure{}, err
		}
		defer os.RemoveAll(dir)
		if err := p.writeScripts(dir, variant, table, keyPrefix); err != nil {
			return measure{}, err
		}
		gen, err := lua.Load(dir, lua.Options{Logger: discard, Sinks: sinks{p.redisAddr}})
		if err != nil {
			return measure{}, err
		}
		defer gen.Close()
		gen.Adopt(nil)
		for _, l := range gen.Listeners() {
			ls = append(ls, dispatch.Listener{Spec: l.Spec(), Handler: l})
		}
	}

	tr := embedded.New(&memStore{}, embedded.Options{Runner: dispatch.RunnerOptions{Logger: discard}, Logger: discard})
	trCtx, trCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer trCancel()
	trDone := make(chan error, 1)
	go func() { trDone <- tr.Run(trCtx) }()
	if err := tr.Apply(ctx, ls); err != nil {
		trCancel()
		return measure{}, errors.Join(err, <-trDone)
	}

	capCtx, capCancel := context.WithCancel(ctx)
	defer capCancel()
	sw := start()
	errc := make(chan error, 1)
	go func() {
		errc <- capture.Run(capCtx, capture.Options{
			DSN: p.dsn, Flavor: "mariadb", ServerID: 300000 + rand.Uint32N(1<<30),
			Start:   fmt.Sprintf("%s:%d", p.bl.file, p.bl.pos),
			Include: []string{p.bl.schema + ".*"},
			Logger:  discard,
		}, tr)
	}()
	end, err := waitFor(errc, func() bool { return p.bl.reached(tr.Status().Safe) })
	st := tr.Status()
	m := sw.measure(int(st.Seq), end)
	capCancel()
	if err == nil {
		err = <-errc
	}
	trCancel()
	if err = errors.Join(err, <-trDone); err != nil {
		return m, err
	}
	if m.rows != p.bl.rows {
		return m, fmt.Errorf("the transport received %d events, want %d", m.rows, p.bl.rows)
	}
	switch variant {
	case "go-noop":
		if n := counter.distinct.Load(); n != int64(p.bl.rows) {
			return m, fmt.Errorf("the handler saw %d distinct rows, want %d", n, p.bl.rows)
		}
	case "demo":
		return m, p.checkRedis(ctx, keyPrefix)
	}
	return m, nil
}

// writeScripts writes the variant's listener into dir: the demo rewritten
// for the bench table and key prefix, or the demo's spec with another
// handle.
func (p pipeline) writeScripts(dir, variant, table, keyPrefix string) error {
	listener := strings.Replace(p.demo.listener, demoSubscribe, fmt.Sprintf("%q", table), 1)
	if h := handles[variant]; h != "" {
		listener = fmt.Sprintf(`local json = require("json")
return {
  name      = %q,
  subscribe = { %q },
  batch     = 500,
  workers   = 2,
  handle = %s,
}
`, variant, table, h)
	}
	keys := strings.Replace(p.demo.keys, demoKeyPrefix, fmt.Sprintf("%q", keyPrefix+"item:"), 1)
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(demoKeysFile)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, demoKeysFile), []byte(keys), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoFile), []byte(listener), 0o644)
}

// checkRedis counts the pass's keys, checks the last row's value and
// deletes them.
func (p pipeline) checkRedis(ctx context.Context, prefix string) error {
	var v struct {
		ID     uint64 `json:"id"`
		Note   string `json:"note"`
		Status string `json:"status"`
	}
	last := fmt.Sprintf("%sitem:%d", prefix, p.bl.rows)
	s, err := p.redis.Get(ctx, last).Result()
	if err != nil {
		return fmt.Errorf("reading %s: %w", last, err)
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.ID != uint64(p.bl.rows) || v.Note != fmt.Sprintf("note %d", p.bl.rows) {
		return fmt.Errorf("%s holds %s, not the last row (%v)", last, s, err)
	}
	n := 0
	var cursor uint64
	for {
		keys, next, err := p.redis.Scan(ctx, cursor, prefix+"item:*", 10000).Result()
		if err != nil {
			return fmt.Errorf("counting keys: %w", err)
		}
		n += len(keys)
		if len(keys) > 0 {
			if err := p.redis.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("deleting keys: %w", err)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if n != p.bl.rows {
		return fmt.Errorf("redis holds %d keys %sitem:*, want %d", n, prefix, p.bl.rows)
	}
	return nil
}

// sinks gives the listeners one Redis sink, "cache", the default.
type sinks struct{ addr string }

// Sink returns the Redis sink named cache.
func (s sinks) Sink(name string) (any, bool) {
	if name != "cache" {
		return nil, false
	}
	return lua.SinkConfig{Name: name, Type: "redis", Endpoints: []string{s.addr}, Timeout: 10 * time.Second}, true
}

// Default names cache for redis.
func (s sinks) Default(kind string) (string, bool) { return "cache", kind == "redis" }

// counter is a dispatch.Handler that records which rows it saw, by id.
type counter struct {
	seen     []atomic.Bool
	distinct atomic.Int64
}

func newCounter(rows int) *counter { return &counter{seen: make([]atomic.Bool, rows+1)} }

// Handle counts each distinct row id of the batch once.
func (c *counter) Handle(_ context.Context, _ int, batch []*event.Event) error {
	for _, e := range batch {
		if e.Action == event.DDL || len(e.After) == 0 {
			continue
		}
		if id := e.After[0].Uint(); id < uint64(len(c.seen)) && c.seen[id].CompareAndSwap(false, true) {
			c.distinct.Add(1)
		}
	}
	return nil
}

// backlog is the bench table's binlog range.
type backlog struct {
	schema, table string
	rows          int
	file, endFile string
	pos, endPos   uint32
}

// writeBacklog creates a fresh database with one table and fills it with
// rows rows in chunk-row INSERT transactions, one connection, as
// bench/capture does.
func writeBacklog(ctx context.Context, db *sql.DB, rows, chunk int) (backlog, error) {
	bl := backlog{schema: fmt.Sprintf("moontide_bench_%08x", rand.Uint32()), table: "items", rows: rows}
	if err := exec(ctx, db, "CREATE DATABASE `"+bl.schema+"`"); err != nil {
		return backlog{}, err
	}
	err := exec(ctx, db, "CREATE TABLE `"+bl.schema+"`.items (id BIGINT UNSIGNED PRIMARY KEY, customer INT NOT NULL, "+
		"status ENUM('new','paid','shipped') NOT NULL, amount DECIMAL(12,2) NOT NULL, note VARCHAR(64), created DATETIME(6) NOT NULL, flag TINYINT NOT NULL)")
	if err != nil {
		return bl, err
	}
	if bl.file, bl.pos, err = position(ctx, db); err != nil {
		return bl, err
	}
	began := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return bl, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION max_recursive_iterations = 100000000"); err != nil {
		return bl, err
	}
	for lo := 1; lo <= rows; lo += chunk {
		hi := min(lo+chunk-1, rows)
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.items WITH RECURSIVE s(n) AS (SELECT %d UNION ALL SELECT n+1 FROM s WHERE n < %d) "+
			"SELECT n, n %% 5000, ELT(1 + n %% 3, 'new', 'paid', 'shipped'), n / 7, CONCAT('note ', n), '2024-05-01 12:00:00.123456', n %% 2 FROM s", bl.schema, lo, hi)); err != nil {
			return bl, err
		}
	}
	if bl.endFile, bl.endPos, err = position(ctx, db); err != nil {
		return bl, err
	}
	took := time.Since(began)
	fmt.Printf("backlog: %d rows in %d-row transactions into %s.items written in %s (%.0f rows/s), %s:%d .. %s:%d\n",
		rows, chunk, bl.schema, took.Round(time.Millisecond), float64(rows)/took.Seconds(),
		bl.file, bl.pos, bl.endFile, bl.endPos)
	return bl, nil
}

// reached reports whether p is at or past the backlog's end.
func (bl backlog) reached(p checkpoint.Position) bool {
	return p.File > bl.endFile || p.File == bl.endFile && p.Pos >= bl.endPos
}

// measure is one pass's result.
type measure struct {
	rows int
	wall time.Duration
	cpu  time.Duration // user+system of this process
}

func (m measure) rate() float64 { return float64(m.rows) / m.wall.Seconds() }

func (m measure) String() string {
	return fmt.Sprintf("%d rows in %s, %.2f CPU s of this process", m.rows, m.wall.Round(time.Millisecond), m.cpu.Seconds())
}

// stopwatch takes wall and process CPU time together.
type stopwatch struct {
	wall time.Time
	cpu  time.Duration
}

func start() stopwatch { return stopwatch{time.Now(), cpuTime()} }

func (s stopwatch) measure(rows int, end time.Time) measure {
	return measure{rows: rows, wall: end.Sub(s.wall), cpu: cpuTime() - s.cpu}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawRate reads the backlog with a bare BinlogSyncer, letting go-mysql
// decode every row, and counts the rows of the bench table.
func rawRate(ctx context.Context, dsn config.MySQLDSN, bl backlog) (measure, error) {
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 300000 + rand.Uint32N(1<<30), Flavor: mysql.MariaDBFlavor,
		Host: dsn.Host, Port: uint16(dsn.Port), User: dsn.User, Password: dsn.Password,
		Logger: discard,
	})
	defer syncer.Close()
	sw := start()
	file := bl.file
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: bl.pos})
	if err != nil {
		return measure{}, err
	}
	n := 0
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return measure{}, err
		}
		switch e := ev.Event.(type) {
		case *replication.RowsEvent:
			if string(e.Table.Schema) == bl.schema {
				n += len(e.Rows)
			}
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.XIDEvent:
			if bl.reached(checkpoint.Position{File: file, Pos: ev.Header.LogPos}) {
				m := sw.measure(n, time.Now())
				if n != bl.rows {
					return m, fmt.Errorf("raw read %d rows, want %d", n, bl.rows)
				}
				return m, nil
			}
		}
	}
}

// waitFor polls done every 5ms until it holds, and returns when it did; an
// error (or nil: the stage ended) from errc first is a failure.
func waitFor(errc <-chan error, done func() bool) (time.Time, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("stopped before the end of the backlog")
			}
			return time.Time{}, err
		case <-t.C:
			if done() {
				return time.Now(), nil
			}
		}
	}
}

// memStore is a checkpoint.Store in memory.
type memStore struct {
	mu  sync.Mutex
	pos checkpoint.Position
}

// Load returns the saved position, or checkpoint.ErrNotFound.
func (s *memStore) Load(context.Context) (checkpoint.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos.IsZero() {
		return s.pos, checkpoint.ErrNotFound
	}
	return s.pos, nil
}

// Save keeps p.
func (s *memStore) Save(_ context.Context, p checkpoint.Position) error {
	s.mu.Lock()
	s.pos = p
	s.mu.Unlock()
	return nil
}

// Close does nothing.
func (s *memStore) Close() error { return nil }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func position(ctx context.Context, db *sql.DB) (string, uint32, error) {
	var file string
	var pos uint32
	var a, b sql.NullString
	err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &a, &b)
	return file, pos, err
}

func exec(ctx context.Context, db *sql.DB, q string) error {
	_, err := db.ExecContext(ctx, q)
	return err
}
