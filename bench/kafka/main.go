// Command kafka measures moontide's Kafka mode stage by stage against the
// bare binlog library, in one run, on the real MariaDB and Kafka of
// dev/services.sh:
//
//   - raw: go-mysql's BinlogSyncer decoding the rows of a backlog into its
//     own []any rows (the ceiling, as in bench/capture);
//   - capture→Kafka: capture.Run into a kafka.Producer (acks=all, the
//     options cmd/moontide uses by default), timed from the start of capture
//     until the Producer's acknowledged position reaches the backlog's end;
//   - Kafka→dispatch: a kafka.Dispatcher running one listener whose
//     dispatch.Handler only counts, reading the topic written by the step
//     before from the earliest offset, timed from Run until every row was
//     handled (group join included; the rate after the first event is
//     printed too).
//
// The backlog is -rows rows written as -chunk-row INSERT transactions into
// a fresh database (dropped at the end). Each run uses a fresh topic prefix
// and consumer group, deleted at the end of the run; the topic is created
// before the capture is timed. Rates are rows per second of wall time; the
// CPU seconds the bench process used in each stage are printed beside them
// (the broker and the database run outside it). The load average is
// printed with every run, since the machine may be shared.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/kafka -rows 1000000 -runs 2 -cpuprofile /tmp/kafka.prof
//	go tool pprof -top -nodecount 15 /tmp/kafka.prof
//
// -cpuprofile profiles the first run's -profile-stage (dispatch or
// produce).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/transport/kafka"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run parses the flags, writes the backlog and runs the stages; the
// database is dropped however it ends.
func run() error {
	dsnFlag := flag.String("dsn", os.Getenv("MOONTIDE_SOURCE_DSN"), "source mysql:// URL (default $MOONTIDE_SOURCE_DSN)")
	brokersFlag := flag.String("brokers", os.Getenv("MOONTIDE_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $MOONTIDE_KAFKA_BROKERS)")
	rows := flag.Int("rows", 1_000_000, "rows in the backlog")
	chunk := flag.Int("chunk", 1000, "rows per INSERT statement (one transaction each)")
	runs := flag.Int("runs", 1, "runs of the three stages; each run uses fresh topics")
	partitions := flag.Int("partitions", 6, "partitions of the bench topic (conf.d default 6)")
	batchSize := flag.Int("producer-batch", 1000, "producer ChunkSize (conf.d kafka.batch_size, default 1000)")
	linger := flag.Duration("linger", 10*time.Millisecond, "producer Linger (conf.d kafka.batch_timeout, default 10ms)")
	batch := flag.Int("batch", 500, "listener batch size (the demo listener's 500)")
	workers := flag.Int("workers", 2, "listener workers (the demo listener's 2)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the first run's -profile-stage to this file")
	profileStage := flag.String("profile-stage", "dispatch", "the stage -cpuprofile profiles: produce or dispatch")
	flag.Parse()
	if *profileStage != "produce" && *profileStage != "dispatch" {
		return fmt.Errorf("-profile-stage is produce or dispatch, not %q", *profileStage)
	}
	if *dsnFlag == "" || *brokersFlag == "" {
		return errors.New("no source or brokers: pass -dsn and -brokers or eval \"$(dev/services.sh env)\"")
	}
	dsn, err := config.ParseMySQLDSN(*dsnFlag)
	if err != nil {
		return err
	}
	brokers := strings.Split(*brokersFlag, ",")
	ctx := context.Background()
	db, err := sql.Open("mysql", dsn.DriverDSN())
	if err != nil {
		return err
	}
	defer db.Close()

	bl, err := writeBacklog(ctx, db, *rows, *chunk)
	if bl.schema != "" {
		defer exec(ctx, db, "DROP DATABASE IF EXISTS `"+bl.schema+"`")
	}
	if err != nil {
		return err
	}

	b := bench{dsn: dsn, brokers: brokers, bl: bl, partitions: *partitions,
		producerBatch: *batchSize, linger: *linger, batch: *batch, workers: *workers,
		profile: *cpuprofile, profileStage: *profileStage}
	for i := 1; i <= *runs; i++ {
		fmt.Printf("run %d: load average %s\n", i, loadavg())
		raw, err := rawRate(ctx, dsn, bl)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: raw go-mysql decode        %9.0f rows/s  (%s)\n", i, raw.rate(), raw)
		prod, cons, err := b.run(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: capture→Kafka (acked)      %9.0f rows/s  (%s)  ratio to raw %.2f\n", i, prod.rate(), prod, prod.rate()/raw.rate())
		fmt.Printf("run %d: Kafka→dispatch (no-op)     %9.0f rows/s  (%s)  ratio to raw %.2f; %.0f rows/s after the first event (%s before it)\n",
			i, cons.rate(), cons, cons.rate()/raw.rate(), float64(cons.rows)/(cons.wall-cons.startup).Seconds(), cons.startup.Round(time.Millisecond))
		fmt.Printf("run %d: load average %s\n", i, loadavg())
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

// measure is one stage's result.
type measure struct {
	rows    int
	wall    time.Duration
	cpu     time.Duration // user+system of this process
	startup time.Duration // time before the first event, where it applies
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

// bench holds what the Kafka stages share.
type bench struct {
	dsn           config.MySQLDSN
	brokers       []string
	bl            backlog
	partitions    int
	producerBatch int
	linger        time.Duration
	batch         int
	workers       int
	// profile, when set, is the file of a CPU profile of the stage named
	// profileStage in the next run; run clears it.
	profile      string
	profileStage string
}

// run publishes the backlog to fresh topics, consumes it back, and deletes
// the topics and the consumer group.
func (b *bench) run(ctx context.Context) (prod, cons measure, err error) {
	prefix := fmt.Sprintf("moontide-bench-%08x", rand.Uint32())
	topics := kafka.NewTopics(b.brokers, prefix, "", b.partitions, 1)
	topic := topics.Name(b.bl.schema, b.bl.table)
	group := prefix + "-g"
	client := &kafkago.Client{Addr: kafkago.TCP(b.brokers...), Timeout: 30 * time.Second}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := client.DeleteGroups(dctx, &kafkago.DeleteGroupsRequest{GroupIDs: []string{group + ".count"}}); derr != nil {
			log.Printf("deleting consumer group: %v", derr)
		}
		if _, derr := client.DeleteTopics(dctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}}); derr != nil {
			log.Printf("deleting topic %s: %v", topic, derr)
		}
	}()
	if err := topics.Ensure(ctx, topic); err != nil {
		return prod, cons, err
	}
	stop, err := b.startProfile("produce")
	if err != nil {
		return prod, cons, err
	}
	prod, err = b.produce(ctx, topics)
	if err = errors.Join(err, stop()); err != nil {
		return prod, cons, err
	}
	if stop, err = b.startProfile("dispatch"); err != nil {
		return prod, cons, err
	}
	cons, err = b.consume(ctx, topics, group)
	return prod, cons, errors.Join(err, stop())
}

// startProfile starts the CPU profile if stage is the one to profile and
// it was not taken yet; the returned function stops it.
func (b *bench) startProfile(stage string) (func() error, error) {
	if b.profile == "" || stage != b.profileStage {
		return func() error { return nil }, nil
	}
	f, err := os.Create(b.profile)
	if err != nil {
		return nil, err
	}
	b.profile = ""
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// produce runs capture into a Producer until Kafka acknowledged the
// backlog's end position.
func (b bench) produce(ctx context.Context, topics *kafka.Topics) (measure, error) {
	p, err := kafka.NewProducer(kafka.ProducerOptions{
		Brokers: b.brokers, Topics: topics, Store: &memStore{},
		ChunkSize: b.producerBatch, Linger: b.linger, Logger: discard,
	})
	if err != nil {
		return measure{}, err
	}
	out := &countingOutput{Output: p}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw := start()
	errc := make(chan error, 1)
	go func() {
		errc <- capture.Run(ctx, capture.Options{
			DSN: b.dsn, Flavor: "mariadb", ServerID: 300000 + rand.Uint32N(1<<30),
			Start:   fmt.Sprintf("%s:%d", b.bl.file, b.bl.pos),
			Include: []string{b.bl.schema + ".*"},
			Logger:  discard,
		}, out)
	}()
	end, err := waitFor(errc, func() bool { return b.bl.reached(p.Position()) })
	m := sw.measure(int(out.rows.Load()), end)
	cancel()
	if err == nil {
		err = <-errc
	}
	closeCtx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer ccancel()
	err = errors.Join(err, p.Close(closeCtx))
	if err == nil && m.rows != b.bl.rows {
		err = fmt.Errorf("capture produced %d rows, want %d", m.rows, b.bl.rows)
	}
	return m, err
}

// waitFor polls done every millisecond until it holds, and returns when it
// did; an error (or nil: the stage ended) from errc first is a failure.
func waitFor(errc <-chan error, done func() bool) (time.Time, error) {
	t := time.NewTicker(time.Millisecond)
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

// countingOutput counts the row events passing to the Producer, so the
// bench knows capture delivered every row.
type countingOutput struct {
	capture.Output
	rows atomic.Int64
}

// Event counts a row event and passes it on.
func (o *countingOutput) Event(ctx context.Context, e *event.Event) error {
	if e.Action != event.DDL {
		o.rows.Add(1)
	}
	return o.Output.Event(ctx, e)
}

// consume runs a Dispatcher with one counting listener from the earliest
// offset until every row of the backlog was handled once.
func (b bench) consume(ctx context.Context, topics *kafka.Topics, group string) (measure, error) {
	h := newCounter(b.bl.rows)
	d := kafka.NewDispatcher(kafka.DispatcherOptions{
		Brokers: b.brokers, Topics: topics, GroupPrefix: group,
		Runner: dispatch.RunnerOptions{Logger: discard}, Logger: discard,
	})
	spec := dispatch.Spec{Name: "count", Subscribe: []string{b.bl.schema + "." + b.bl.table},
		Batch: b.batch, Workers: b.workers, Start: "earliest"}
	if err := d.Apply(ctx, []dispatch.Listener{{Spec: spec, Handler: h}}); err != nil {
		return measure{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw := start()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	end, err := waitFor(errc, func() bool { return h.distinct.Load() >= int64(b.bl.rows) })
	m := sw.measure(int(h.distinct.Load()), end)
	m.startup = h.firstAt().Sub(sw.wall)
	cancel()
	if err == nil {
		err = <-errc
	}
	if dup := h.handled.Load() - h.distinct.Load(); err == nil && dup > 0 {
		fmt.Printf("note: %d rows handled twice (redelivered)\n", dup)
	}
	return m, err
}

// counter is a dispatch.Handler that records which rows it saw, by id.
type counter struct {
	seen     []atomic.Bool
	handled  atomic.Int64
	distinct atomic.Int64
	once     sync.Once
	first    atomic.Pointer[time.Time]
}

func newCounter(rows int) *counter { return &counter{seen: make([]atomic.Bool, rows+1)} }

// Handle counts each row of the batch, and each distinct id once.
func (c *counter) Handle(_ context.Context, _ int, batch []*event.Event) error {
	c.once.Do(func() { now := time.Now(); c.first.Store(&now) })
	for _, e := range batch {
		if e.Action == event.DDL || len(e.After) == 0 {
			continue
		}
		c.handled.Add(1)
		id := e.After[0].Uint()
		if id < uint64(len(c.seen)) && c.seen[id].CompareAndSwap(false, true) {
			c.distinct.Add(1)
		}
	}
	return nil
}

func (c *counter) firstAt() time.Time {
	if t := c.first.Load(); t != nil {
		return *t
	}
	return time.Time{}
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
