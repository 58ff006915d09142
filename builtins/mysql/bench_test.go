package mysql

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua/luatest"
	"github.com/moontide/moontide/internal/testenv"
)

// benchBatch is the batch size of the benchmarks.
const benchBatch = 500

// benchEvents returns batch n of order inserts with new ids.
func benchEvents(n int) []*event.Event {
	evs := make([]*event.Event, benchBatch)
	for i := range evs {
		id := uint64(n*benchBatch + i + 1)
		evs[i] = orderEvent(event.Insert, id, "1234.500000000000000000000000000000", []byte{byte(id), 0, 0xff}, strp("note "+strconv.FormatUint(id, 10)), uint32(id))
	}
	return evs
}

// benchTable makes a fresh destination table like the tests' orders.
func benchTable(b *testing.B) string {
	b.Helper()
	db := testenv.Dest(b)
	schema := testenv.FreshDatabase(b, db)
	if _, err := db.ExecContext(testenv.Context(b, 0), "CREATE TABLE `"+schema+"`.`orders` ("+
		"id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30) NOT NULL, data VARBINARY(16) NULL, note VARCHAR(32) NULL) ENGINE=InnoDB"); err != nil {
		b.Fatal(err)
	}
	return schema
}

// BenchmarkModuleUpsert measures mysql.upsert per event inside moontide: the
// Lua handler, argument checks, statement building and one transaction per
// 500-event batch against the real server.
func BenchmarkModuleUpsert(b *testing.B) {
	schema := benchTable(b)
	l := listener(b, mysqlSinks(testenv.DestDSN(b)), `
    for _, ev in ipairs(events) do
      mysql.upsert("`+schema+`.orders", ev.after, {"id"})
    end
`)
	ctx := testenv.Context(b, 0)
	luatest.BenchHandle(b, ctx, l, benchEvents)
}

// BenchmarkRawUpsert is the ceiling for BenchmarkModuleUpsert: the same
// rows as bare multi-row INSERT … ON DUPLICATE KEY UPDATE statements, one
// prepared statement and one transaction per 500-row batch, through
// database/sql with the same driver settings.
func BenchmarkRawUpsert(b *testing.B) {
	schema := benchTable(b)
	cfg, err := parseDSN(testenv.DestDSN(b), 0)
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := testenv.Context(b, 0)
	q := "INSERT INTO `" + schema + "`.`orders` (`amount`,`data`,`id`,`note`) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?),", benchBatch), ",") +
		" ON DUPLICATE KEY UPDATE `amount`=VALUES(`amount`),`data`=VALUES(`data`),`note`=VALUES(`note`)"
	batches := make([][]*event.Event, b.N)
	for i := range batches {
		batches[i] = benchEvents(i)
	}
	args := make([]any, 0, 4*benchBatch)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		args = args[:0]
		for _, ev := range batches[i] {
			r := ev.After
			args = append(args, r[1].Str(), r[2].Str(), int64(r[0].Uint()), r[3].Str())
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	luatest.ReportEventsPerSecond(b, b.N*benchBatch, start)
}
