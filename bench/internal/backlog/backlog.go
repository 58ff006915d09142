// Package backlog holds what the bench programs (bench/capture,
// bench/kafka, bench/e2e) share around a binlog backlog: writing one into a
// fresh database, reading it back with go-mysql's bare BinlogSyncer (the
// ceiling every bench compares moontide with), the capture options that
// read it, and timing and counting a read of it: wall and CPU time of this
// process, a handler that counts distinct rows, the load average.
//
// A backlog is Rows rows of a 7-column table (BIGINT UNSIGNED, INT, ENUM,
// DECIMAL, VARCHAR, DATETIME(6), TINYINT) written as Chunk-row INSERT
// transactions on one connection; row n has id n, so the last row's id is
// Rows. Nothing here is meant for anything but benchmarks.
package backlog

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
)

// Backlog is the bench table's binlog range: every row event between Start
// and End belongs to Schema.Table.
type Backlog struct {
	// DSN is the server the backlog was written to.
	DSN           config.MySQLDSN
	Schema, Table string
	Rows, Chunk   int
	// Start is the server's binlog position before the first INSERT, End
	// the one after the last.
	Start, End checkpoint.Position
	// Took is how long the INSERTs took.
	Took time.Duration

	db *sql.DB
}

// Flags are the command-line flags with which every bench writes its
// backlog: -dsn, -rows and -chunk.
type Flags struct {
	DSN         string
	Rows, Chunk int
}

// Register defines the flags on fs: -dsn defaults to $MOONTIDE_SOURCE_DSN
// (what dev/services.sh env exports), -rows to 1,000,000, -chunk to 1000.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.DSN, "dsn", os.Getenv("MOONTIDE_SOURCE_DSN"), "source mysql:// URL (default $MOONTIDE_SOURCE_DSN)")
	fs.IntVar(&f.Rows, "rows", 1_000_000, "rows in the backlog")
	fs.IntVar(&f.Chunk, "chunk", 1000, "rows per INSERT statement (one transaction each)")
}

// Write parses -dsn and writes the backlog the flags describe.
func (f Flags) Write(ctx context.Context) (Backlog, error) {
	dsn, err := config.ParseMySQLDSN(f.DSN)
	if err != nil {
		return Backlog{}, err
	}
	return Write(ctx, dsn, f.Rows, f.Chunk)
}

// Write connects to dsn, creates a fresh database (moontide_bench_ and 8
// random hex digits) holding one table, items, and fills it with rows rows
// in chunk-row INSERT transactions on one connection. The caller drops the
// database with Drop, which also closes the connection; when Write fails,
// it does both itself.
func Write(ctx context.Context, dsn config.MySQLDSN, rows, chunk int) (Backlog, error) {
	db, err := sql.Open("mysql", dsn.DriverDSN())
	if err != nil {
		return Backlog{}, err
	}
	bl := Backlog{DSN: dsn, Schema: fmt.Sprintf("moontide_bench_%08x", rand.Uint32()), Table: "items", Rows: rows, Chunk: chunk, db: db}
	if err := exec(ctx, db, "CREATE DATABASE `"+bl.Schema+"`"); err != nil {
		db.Close()
		return Backlog{}, fmt.Errorf("creating the bench database: %w", err)
	}
	if err := bl.fill(ctx); err != nil {
		bl.Drop(ctx)
		return Backlog{}, err
	}
	return bl, nil
}

func (bl *Backlog) fill(ctx context.Context) error {
	db := bl.db
	err := exec(ctx, db, "CREATE TABLE `"+bl.Schema+"`.`"+bl.Table+"` (id BIGINT UNSIGNED PRIMARY KEY, customer INT NOT NULL, "+
		"status ENUM('new','paid','shipped') NOT NULL, amount DECIMAL(12,2) NOT NULL, note VARCHAR(64), created DATETIME(6) NOT NULL, flag TINYINT NOT NULL)")
	if err != nil {
		return fmt.Errorf("creating the bench table: %w", err)
	}
	if bl.Start, err = position(ctx, db); err != nil {
		return err
	}
	began := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION max_recursive_iterations = 100000000"); err != nil {
		return err
	}
	for lo := 1; lo <= bl.Rows; lo += bl.Chunk {
		hi := min(lo+bl.Chunk-1, bl.Rows)
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.`%s` WITH RECURSIVE s(n) AS (SELECT %d UNION ALL SELECT n+1 FROM s WHERE n < %d) "+
			"SELECT n, n %% 5000, ELT(1 + n %% 3, 'new', 'paid', 'shipped'), n / 7, CONCAT('note ', n), '2024-05-01 12:00:00.123456', n %% 2 FROM s",
			bl.Schema, bl.Table, lo, hi)); err != nil {
			return fmt.Errorf("inserting rows %d..%d: %w", lo, hi, err)
		}
	}
	if bl.End, err = position(ctx, db); err != nil {
		return err
	}
	bl.Took = time.Since(began)
	return nil
}

// Drop drops the backlog's database and closes the connection Write
// opened.
func (bl Backlog) Drop(ctx context.Context) error {
	err := exec(ctx, bl.db, "DROP DATABASE IF EXISTS `"+bl.Schema+"`")
	return errors.Join(err, bl.db.Close())
}

// String describes the backlog as bench/kafka and bench/e2e print it.
func (bl Backlog) String() string {
	return fmt.Sprintf("%d rows in %d-row transactions into %s.%s written in %s (%.0f rows/s), %s .. %s",
		bl.Rows, bl.Chunk, bl.Schema, bl.Table, bl.Took.Round(time.Millisecond), float64(bl.Rows)/bl.Took.Seconds(), bl.Start, bl.End)
}

// Reached reports whether p is at or past the backlog's end.
func (bl Backlog) Reached(p checkpoint.Position) bool {
	return p.File > bl.End.File || p.File == bl.End.File && p.Pos >= bl.End.Pos
}

// CaptureOptions are the options of a capture.Run that reads the backlog
// from its start: MariaDB, a random server ID, only the backlog's schema,
// and a logger that discards.
func (bl Backlog) CaptureOptions() capture.Options {
	return capture.Options{
		DSN: bl.DSN, Flavor: "mariadb", ServerID: serverID(),
		Start:   fmt.Sprintf("%s:%d", bl.Start.File, bl.Start.Pos),
		Include: []string{bl.Schema + ".*"},
		Logger:  Discard,
	}
}

// Discard is the logger of the components a bench runs: a text handler
// writing to io.Discard, so that what they log at Info and above is still
// formatted, as it would be in production, and then dropped.
var Discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// serverID is a random replica server ID, so that concurrent readers of
// the same server do not evict one another.
func serverID() uint32 { return 300000 + rand.Uint32N(1<<30) }

// position returns the server's current binlog file and position.
func position(ctx context.Context, db *sql.DB) (checkpoint.Position, error) {
	var p checkpoint.Position
	var a, b sql.NullString
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&p.File, &p.Pos, &a, &b); err != nil {
		return p, fmt.Errorf("reading the binlog position: %w", err)
	}
	return p, nil
}

func exec(ctx context.Context, db *sql.DB, q string) error {
	_, err := db.ExecContext(ctx, q)
	return err
}
