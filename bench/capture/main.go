// Command capture measures moontide's binlog capture against the bare
// library it is built on, in one run on one server:
//
//   - raw: go-mysql's BinlogSyncer decoding the rows of a backlog into its
//     own []any rows (the ceiling: what the library does alone);
//   - moontide: capture.Run decoding the same backlog into Events and
//     encoding each to its JSON form (the Kafka message).
//
// It writes a backlog of -rows rows into a fresh database (dropped at the
// end), reads it -runs times each way, alternating, and prints the best
// rate of each and their ratio.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/capture -rows 1000000
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
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/event"
)

func main() {
	dsnFlag := flag.String("dsn", os.Getenv("MOONTIDE_SOURCE_DSN"), "source mysql:// URL (default $MOONTIDE_SOURCE_DSN)")
	rows := flag.Int("rows", 1_000_000, "rows in the backlog")
	chunk := flag.Int("chunk", 1000, "rows per INSERT statement (one transaction each)")
	runs := flag.Int("runs", 3, "reads of the backlog each way; the best counts")
	flag.Parse()
	if *dsnFlag == "" {
		log.Fatal("no source: pass -dsn or eval \"$(dev/services.sh env)\"")
	}
	dsn, err := config.ParseMySQLDSN(*dsnFlag)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db, err := sql.Open("mysql", dsn.DriverDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	schema := fmt.Sprintf("moontide_bench_%08x", rand.Uint32())
	must(exec(ctx, db, "CREATE DATABASE `"+schema+"`"))
	defer exec(ctx, db, "DROP DATABASE `"+schema+"`")
	must(exec(ctx, db, "CREATE TABLE `"+schema+"`.orders (id BIGINT UNSIGNED PRIMARY KEY, customer INT NOT NULL, "+
		"status ENUM('new','paid','shipped') NOT NULL, amount DECIMAL(12,2) NOT NULL, note VARCHAR(64), created DATETIME(6) NOT NULL, flag TINYINT NOT NULL)"))

	startFile, startPos := position(ctx, db)
	began := time.Now()
	conn, err := db.Conn(ctx)
	must(err)
	must2(conn.ExecContext(ctx, "SET SESSION max_recursive_iterations = 100000000"))
	for lo := 1; lo <= *rows; lo += *chunk {
		hi := min(lo+*chunk-1, *rows)
		must2(conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.orders WITH RECURSIVE s(n) AS (SELECT %d UNION ALL SELECT n+1 FROM s WHERE n < %d) "+
			"SELECT n, n %% 5000, ELT(1 + n %% 3, 'new', 'paid', 'shipped'), n / 7, CONCAT('note ', n), '2024-05-01 12:00:00.123456', n %% 2 FROM s", schema, lo, hi)))
	}
	conn.Close()
	endFile, endPos := position(ctx, db)
	fmt.Printf("backlog: %d rows in %d-row transactions written in %s (%s:%d .. %s:%d)\n",
		*rows, *chunk, time.Since(began).Round(time.Millisecond), startFile, startPos, endFile, endPos)

	var bestRaw, bestCap float64
	for i := 0; i < *runs; i++ {
		raw, err := rawRate(ctx, dsn, schema, startFile, startPos, endFile, endPos, *rows)
		must(err)
		cpt, err := captureRate(ctx, dsn, schema, startFile, startPos, endFile, endPos, *rows)
		must(err)
		fmt.Printf("run %d: raw go-mysql %.0f rows/s, moontide capture+JSON %.0f rows/s\n", i+1, raw, cpt)
		bestRaw, bestCap = max(bestRaw, raw), max(bestCap, cpt)
	}
	fmt.Printf("best: raw %.0f rows/s, moontide %.0f rows/s, ratio %.2f\n", bestRaw, bestCap, bestCap/bestRaw)
}

// rawRate reads the backlog with a bare BinlogSyncer, letting go-mysql
// decode every row, and counts the rows of the bench table.
func rawRate(ctx context.Context, dsn config.MySQLDSN, schema, file string, pos uint32, endFile string, endPos uint32, want int) (float64, error) {
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 300000 + rand.Uint32N(1<<30), Flavor: mysql.MariaDBFlavor,
		Host: dsn.Host, Port: uint16(dsn.Port), User: dsn.User, Password: dsn.Password,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	began := time.Now()
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return 0, err
		}
		if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == schema {
			n += len(re.Rows)
		}
		if _, ok := ev.Event.(*replication.XIDEvent); ok && reached(endFile, endPos, file, ev) {
			break
		}
		if r, ok := ev.Event.(*replication.RotateEvent); ok {
			file = string(r.NextLogName)
		}
	}
	if n != want {
		return 0, fmt.Errorf("raw read %d rows, want %d", n, want)
	}
	return float64(n) / time.Since(began).Seconds(), nil
}

func reached(endFile string, endPos uint32, file string, ev *replication.BinlogEvent) bool {
	return file > endFile || file == endFile && ev.Header.LogPos >= endPos
}

// captureRate reads the backlog with moontide's capture and encodes every
// event to JSON.
func captureRate(ctx context.Context, dsn config.MySQLDSN, schema, file string, pos uint32, endFile string, endPos uint32, want int) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &jsonOutput{endFile: endFile, endPos: endPos, done: cancel}
	began := time.Now()
	err := capture.Run(ctx, capture.Options{
		DSN: dsn, Flavor: "mariadb", ServerID: 300000 + rand.Uint32N(1<<30),
		Start:   fmt.Sprintf("%s:%d", file, pos),
		Include: []string{schema + ".*"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, out)
	if err != nil {
		return 0, err
	}
	if !out.finished {
		return 0, errors.New("capture stopped before the end of the backlog")
	}
	if out.n != want {
		return 0, fmt.Errorf("capture read %d rows, want %d", out.n, want)
	}
	return float64(out.n) / out.end.Sub(began).Seconds(), nil
}

type jsonOutput struct {
	buf      []byte
	n        int
	bytes    int
	endFile  string
	endPos   uint32
	done     func()
	finished bool
	end      time.Time
}

func (o *jsonOutput) Event(ctx context.Context, e *event.Event) error {
	var err error
	o.buf, err = event.AppendJSON(o.buf[:0], e)
	o.bytes += len(o.buf)
	if e.Action != event.DDL {
		o.n++
	}
	return err
}

func (o *jsonOutput) Commit(ctx context.Context, p checkpoint.Position) error {
	if !o.finished && (p.File > o.endFile || p.File == o.endFile && p.Pos >= o.endPos) {
		o.finished, o.end = true, time.Now()
		o.done()
	}
	return nil
}

func (o *jsonOutput) Heartbeat(ctx context.Context, ts int64) error { return nil }

func position(ctx context.Context, db *sql.DB) (string, uint32) {
	var file string
	var pos uint32
	var a, b sql.NullString
	must(db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &a, &b))
	return file, pos
}

func exec(ctx context.Context, db *sql.DB, q string) error {
	_, err := db.ExecContext(ctx, q)
	return err
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func must2(_ sql.Result, err error) { must(err) }
