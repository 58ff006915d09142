// Package testenv is the one door through which moontide's integration tests
// reach real servers: MariaDB with the binlog on (and a second one that writes
// binlog_row_metadata=MINIMAL), Redis, Apache Kafka and OpenSearch, as started
// by dev/services.sh (and by `make test`).
//
// The addresses come from environment variables that `dev/services.sh env`
// prints:
//
//	MOONTIDE_SOURCE_DSN     mysql://user:password@host:port/db, the captured database
//	MOONTIDE_DEST_DSN       mysql://user:password@host:port/db, a separate destination
//	MOONTIDE_MINIMAL_DSN    mysql://user:password@host:port/db, a source with binlog_row_metadata=MINIMAL
//	MOONTIDE_REDIS_ADDR     host:port
//	MOONTIDE_KAFKA_BROKERS  host:port[,host:port...]
//	MOONTIDE_ES_URL         http://host:port (Elasticsearch or OpenSearch)
//
// Every accessor takes the test and decides for it: when its variable is
// unset, the test is skipped with a message naming the variable and how to
// start the servers — unless the environment says CI=true, where it fails
// instead, so a CI run never passes by skipping. A variable that is set but
// points at a server that does not answer always fails the test.
//
// Tests that change a server's state make their own databases, topics,
// indexes and keys (see UniqueName and FreshDatabase) and clean up after
// themselves; the servers are shared by every package running in parallel.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	// The driver for database/sql, registered as "mysql".
	_ "github.com/go-sql-driver/mysql"

	"github.com/moontide/moontide/engine/config"
)

// Names of the environment variables testenv reads.
const (
	SourceDSNVar    = "MOONTIDE_SOURCE_DSN"
	DestDSNVar      = "MOONTIDE_DEST_DSN"
	MinimalDSNVar   = "MOONTIDE_MINIMAL_DSN"
	RedisAddrVar    = "MOONTIDE_REDIS_ADDR"
	KafkaBrokersVar = "MOONTIDE_KAFKA_BROKERS"
	ESURLVar        = "MOONTIDE_ES_URL"
)

// DefaultTimeout bounds Context when the test has no earlier deadline. It is
// generous because a 2-core CI machine runs every package's tests at once.
const DefaultTimeout = 2 * time.Minute

// InCI reports whether the environment variable CI holds a true value
// ("true", "1", ...), as CI systems set it. In CI a missing server address
// fails a test instead of skipping it.
func InCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// require returns the value of the environment variable name. When it is
// empty the test is skipped, or failed in CI; either way it stops here.
func require(t testing.TB, name string) string {
	t.Helper()
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: run `make test`, or `dev/services.sh up` then `eval \"$(dev/services.sh env)\"`", name)
	if InCI() {
		t.Fatalf("%s (CI=true: integration tests must not skip)", msg)
	}
	t.Skip(msg)
	return "" // not reached: Skip and Fatal stop the test's goroutine
}

// SourceDSN is the mysql:// URL of the source database, the one whose binlog
// moontide captures (MOONTIDE_SOURCE_DSN). Its user may replicate and create
// databases.
func SourceDSN(t testing.TB) string {
	t.Helper()
	return require(t, SourceDSNVar)
}

// DestDSN is the mysql:// URL of the destination database that sinks write to
// (MOONTIDE_DEST_DSN). It may live on the same server as the source, in
// another database.
func DestDSN(t testing.TB) string {
	t.Helper()
	return require(t, DestDSNVar)
}

// MinimalDSN is the mysql:// URL of a second source server whose binlog
// carries only minimal table-map metadata (binlog_row_metadata=MINIMAL: no
// column names, ENUM/SET labels or primary key), for capture's schema history
// (MOONTIDE_MINIMAL_DSN). Its user may replicate, create databases and set
// global variables.
func MinimalDSN(t testing.TB) string {
	t.Helper()
	return require(t, MinimalDSNVar)
}

// SourceMySQL is SourceDSN parsed, for clients that want its parts, such as
// go-mysql's BinlogSyncer (Host, Port, User, Password) or Addr.
func SourceMySQL(t testing.TB) config.MySQLDSN {
	t.Helper()
	return parseDSN(t, SourceDSNVar, SourceDSN(t))
}

// DestMySQL is DestDSN parsed.
func DestMySQL(t testing.TB) config.MySQLDSN {
	t.Helper()
	return parseDSN(t, DestDSNVar, DestDSN(t))
}

func parseDSN(t testing.TB, name, s string) config.MySQLDSN {
	t.Helper()
	d, err := config.ParseMySQLDSN(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// MinimalMySQL is MinimalDSN parsed.
func MinimalMySQL(t testing.TB) config.MySQLDSN {
	t.Helper()
	return parseDSN(t, MinimalDSNVar, MinimalDSN(t))
}

// Source opens the source database with go-sql-driver/mysql, checks that it
// answers, and closes it when the test ends.
func Source(t testing.TB) *sql.DB {
	t.Helper()
	return open(t, SourceDSNVar, SourceMySQL(t))
}

// Dest opens the destination database like Source does.
func Dest(t testing.TB) *sql.DB {
	t.Helper()
	return open(t, DestDSNVar, DestMySQL(t))
}

// Minimal opens the MINIMAL-metadata source like Source does.
func Minimal(t testing.TB) *sql.DB {
	t.Helper()
	return open(t, MinimalDSNVar, MinimalMySQL(t))
}

func open(t testing.TB, name string, d config.MySQLDSN) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", d.DriverDSN())
	if err != nil {
		t.Fatalf("opening %s (%s): %v", name, d, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("%s is set but %s does not answer: %v (is dev/services.sh up?)", name, d, err)
	}
	return db
}

// RedisAddr is the host:port of the Redis server (MOONTIDE_REDIS_ADDR).
func RedisAddr(t testing.TB) string {
	t.Helper()
	return require(t, RedisAddrVar)
}

// KafkaBrokers are the bootstrap addresses of the Kafka cluster, host:port
// each (MOONTIDE_KAFKA_BROKERS, comma-separated).
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	var brokers []string
	for _, b := range strings.Split(require(t, KafkaBrokersVar), ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		t.Fatalf("%s names no broker", KafkaBrokersVar)
	}
	return brokers
}

// ElasticsearchURL is the base URL of the Elasticsearch or OpenSearch server
// (MOONTIDE_ES_URL), without a trailing slash.
func ElasticsearchURL(t testing.TB) string {
	t.Helper()
	return strings.TrimRight(require(t, ESURLVar), "/")
}

// Context returns a context that ends when the test ends, after d, or at the
// test's own deadline (go test -timeout), whichever comes first. A d of zero
// means DefaultTimeout. Use it for every blocking call so that a hung server
// fails the test instead of hanging the run.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	if d <= 0 {
		d = DefaultTimeout
	}
	deadline := time.Now().Add(d)
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		// Leave a little time for the test to report before go test kills it.
		if end, ok := td.Deadline(); ok && end.Add(-5*time.Second).Before(deadline) {
			deadline = end.Add(-5 * time.Second)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// UniqueName returns a name no other test run uses: prefix, then the test's
// name reduced to [a-z0-9_], then random hex; at most 60 bytes, so it fits a
// MySQL identifier (64), a Kafka topic, an OpenSearch index or a Redis key.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	suffix := "_" + hex.EncodeToString(rnd[:])
	name := b.String()
	if max := 60 - len(prefix) - len(suffix); len(name) > max {
		name = name[len(name)-max:]
	}
	return prefix + name + suffix
}

// FreshDatabase creates an empty database with a UniqueName on db's server and
// drops it when the test ends. It returns the database's name.
func FreshDatabase(t testing.TB, db *sql.DB) string {
	t.Helper()
	name := UniqueName(t, "mt_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return name
}
