package mysql

import (
	"bytes"
	"database/sql"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

const (
	maxUint64 = "18446744073709551615"
	bigAmount = "12345678901234567890123456789012345.123456789012345678901234567890"
)

// freshTable makes a fresh database on the destination server with an
// orders table, and returns the database's name.
func freshTable(t *testing.T) (*sql.DB, string) {
	t.Helper()
	db := testenv.Dest(t)
	schema := testenv.FreshDatabase(t, db)
	ctx := testenv.Context(t, 30*time.Second)
	if _, err := db.ExecContext(ctx, "CREATE TABLE `"+schema+"`.`orders` ("+
		"id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30) NOT NULL, data VARBINARY(16) NULL, note VARCHAR(32) NULL, "+
		"f DOUBLE NULL, small TINYINT NULL, big BIGINT NULL, ts DATETIME(6) NULL"+
		") ENGINE=InnoDB"); err != nil {
		t.Fatalf("creating table: %v", err)
	}
	return db, schema
}

// rows reads the orders table as text (NULL as "NULL"), ordered by id.
func rows(t *testing.T, db *sql.DB, schema string) []string {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	rs, err := db.QueryContext(ctx, "SELECT id, amount, HEX(data), note FROM `"+schema+"`.`orders` ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var vals [4]sql.RawBytes
		if err := rs.Scan(&vals[0], &vals[1], &vals[2], &vals[3]); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if v == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, string(v))
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const syncBody = `
    for _, ev in ipairs(events) do
      if ev.action == "delete" then
        mysql.delete("%s.orders", {id = ev.before.id})
      else
        mysql.upsert("%s.orders", ev.after, {"id"})
      end
    end
`

func strp(s string) *string { return &s }

func TestIntegrationUpsertsAndDeletesKeepValuesExact(t *testing.T) {
	db, schema := freshTable(t)
	ctx := testenv.Context(t, time.Minute)
	l := listener(t, mysqlSinks(testenv.DestDSN(t)), strings.ReplaceAll(syncBody, "%s", schema))
	batch := []*event.Event{
		orderEvent(event.Insert, 18446744073709551615, bigAmount, []byte{0, 0xff, 0x80, 'a', 0}, nil, 100),
		orderEvent(event.Insert, 1, "-0.000000000000000000000000000001", []byte{}, strp("ü ` '; --"), 200),
		orderEvent(event.Insert, 2, "2.5", nil, strp("gone"), 300),
		orderEvent(event.Update, 1, "1.000000000000000000000000000001", []byte{1}, strp("second"), 400),
		orderEvent(event.Delete, 2, "2.5", nil, strp("gone"), 500),
	}
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("handling the batch: %v", err)
	}
	want := []string{
		"1 1.000000000000000000000000000001 01 second",
		maxUint64 + " " + bigAmount + " 00FF806100 NULL",
	}
	if got := rows(t, db, schema); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// exec and query, both ways exact; query does not see the writes of
	// its own call (they run at flush).
	q := listener(t, mysqlSinks(testenv.DestDSN(t)), `
    mysql.exec("UPDATE `+"`"+schema+"`"+`.orders SET f = ?, small = ?, big = ?, ts = ? WHERE id = ?", 0.1, -128, "-9223372036854775808", "2024-02-29 23:59:59.123456", "`+maxUint64+`")
    local rows, err = mysql.query("SELECT * FROM `+"`"+schema+"`"+`.orders WHERE id = ?", "`+maxUint64+`")
    assert(rows, tostring(err))
    local r = rows[1]
    assert(#rows == 1, "one row")
    assert(r.id == "`+maxUint64+`", "id " .. tostring(r.id))
    assert(r.amount == "`+bigAmount+`", "amount " .. tostring(r.amount))
    assert(r.data == "\0\255\128a\0", "data")
    assert(r.note == json.null, "note is json.null")
    assert(r.f == json.null, "f not yet written")
    local again = assert(mysql.query("SELECT id, note FROM `+"`"+schema+"`"+`.orders ORDER BY id"))
    assert(#again == 2 and again[1].id == 1 and again[1].note == "second", "second query")
`)
	if err := q.Handle(ctx, 0, batch[:1]); err != nil {
		t.Fatalf("exec and query: %v", err)
	}
	check := listener(t, mysqlSinks(testenv.DestDSN(t)), `
    local rows = assert(mysql.query("SELECT f, small, big, ts FROM `+"`"+schema+"`"+`.orders WHERE id = ?", "`+maxUint64+`"))
    local r = rows[1]
    assert(r.f == 0.1, "f " .. tostring(r.f))
    assert(r.small == -128, "small " .. tostring(r.small))
    assert(r.big == "-9223372036854775808", "big " .. tostring(r.big))
    assert(r.ts == "2024-02-29 23:59:59.123456", "ts " .. tostring(r.ts))
    local text = assert(mysql.query("SELECT big, ts FROM `+"`"+schema+"`"+`.orders WHERE id = `+maxUint64+`"))
    assert(text[1].big == "-9223372036854775808" and text[1].ts == "2024-02-29 23:59:59.123456", "text protocol")
`)
	if err := check.Handle(ctx, 0, batch[:1]); err != nil {
		t.Fatalf("reading back: %v", err)
	}
}

func TestIntegrationAFailingStatementRollsBackTheBatch(t *testing.T) {
	db, schema := freshTable(t)
	ctx := testenv.Context(t, time.Minute)
	l := listener(t, mysqlSinks(testenv.DestDSN(t)), `
    mysql.upsert("`+schema+`.orders", {id = 1, amount = "1.5"}, {"id"})
    mysql.exec("INSERT INTO `+schema+`.orders (id, amount) VALUES (?, ?)", 2, "2.5")
    mysql.exec("INSERT INTO `+schema+`.no_such_table (id) VALUES (?)", 3)
`)
	err := l.Handle(ctx, 0, []*event.Event{orderEvent(event.Insert, 1, "1", nil, nil, 100)})
	if err == nil {
		t.Fatal("the batch succeeded")
	}
	var se *StatementError
	for _, s := range []string{"write 3 of 3", "rolled back", "INSERT INTO " + schema + ".no_such_table (id) VALUES (?)", "1146"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if !errors.As(err, &se) || se.First != 3 {
		t.Errorf("err = %#v, want a StatementError for write 3", err)
	}
	if got := rows(t, db, schema); len(got) != 0 {
		t.Errorf("rows after the rollback: %q", got)
	}

	// A bad row inside a merged upsert names the write.
	l2 := listener(t, mysqlSinks(testenv.DestDSN(t)), `
    for i = 1, 5 do
      mysql.upsert("`+schema+`.orders", {id = i, amount = (i == 4) and "not a number" or "1"}, {"id"})
    end
`)
	err = l2.Handle(ctx, 0, []*event.Event{orderEvent(event.Insert, 1, "1", nil, nil, 100)})
	if err == nil || !strings.Contains(err.Error(), "writes 1-5 of 5") {
		t.Errorf("err = %v", err)
	} else {
		t.Logf("merged statement error: %v", err)
	}
	if got := rows(t, db, schema); len(got) != 0 {
		t.Errorf("rows after the rollback: %q", got)
	}
}

func TestIntegrationAServerGoneMidBatchFailsItAndTheRetrySucceeds(t *testing.T) {
	db, schema := freshTable(t)
	ctx := testenv.Context(t, time.Minute)
	dest := testenv.DestMySQL(t)
	proxy := testenv.NewProxy(t, dest.Addr())
	u, err := url.Parse(testenv.DestDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy.Addr()
	l := listener(t, mysqlSinks(u.String()), strings.ReplaceAll(syncBody, "%s", schema))
	if err := l.Handle(ctx, 0, []*event.Event{orderEvent(event.Insert, 1, "1", nil, nil, 100)}); err != nil {
		t.Fatal(err)
	}
	var batch []*event.Event
	for i := uint64(2); i <= 200; i++ {
		batch = append(batch, orderEvent(event.Insert, i, "1.25", []byte{byte(i)}, nil, uint32(100*i)))
	}
	proxy.Down()
	err = l.Handle(ctx, 0, batch)
	if err == nil {
		t.Fatal("the batch succeeded with the server unreachable")
	}
	t.Logf("with the server down: %v", err)
	proxy.Up()

	// Now cut the connection in the middle of the transaction: the first
	// statement sleeps, and the proxy goes down while it does.
	slow := listener(t, mysqlSinks(u.String()), `    mysql.exec("DO SLEEP(?)", 0.5)`+strings.ReplaceAll(syncBody, "%s", schema))
	cut := time.AfterFunc(200*time.Millisecond, proxy.Down)
	err = slow.Handle(ctx, 0, batch)
	cut.Stop()
	if err == nil {
		t.Fatal("the batch succeeded although its connection was cut mid-transaction")
	}
	t.Logf("cut mid-transaction: %v", err)
	if got := rows(t, db, schema); len(got) != 1 {
		t.Errorf("%d rows after the cut, want only the first batch's row", len(got))
	}
	proxy.Up()
	if err := slow.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("retrying after the server came back: %v", err)
	}
	if got := rows(t, db, schema); len(got) != 200 || !bytes.HasPrefix([]byte(got[199]), []byte("200 1.25")) {
		t.Errorf("%d rows, last %q; want 200", len(got), got[len(got)-1])
	}
}

// TestIntegrationWritesFollowTheDestinationsColumnTypes writes the bytes of
// MariaDB's INET6 and UUID, a BIT(64) beyond 2^53 and an event's UTC
// instant with upsert and delete, including to a column added after the
// first write, and reads the session's time zone.
func TestIntegrationWritesFollowTheDestinationsColumnTypes(t *testing.T) {
	db := testenv.Dest(t)
	schema := testenv.FreshDatabase(t, db)
	ctx := testenv.Context(t, 30*time.Second)
	tbl := "`" + schema + "`.`hosts`"
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+tbl+" (id UUID PRIMARY KEY, ip INET6, mask BIT(64), seen TIMESTAMP(3) NULL)"); err != nil {
		t.Fatal(err)
	}
	run := func(body string) {
		t.Helper()
		l := listener(t, mysqlSinks(testenv.DestDSN(t)), strings.ReplaceAll(body, "$T", schema+".hosts"))
		if err := l.Handle(ctx, 0, []*event.Event{orderEvent(event.Insert, 1, "1", nil, nil, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	const id1, id2 = `"\18\62\69\103\232\155\18\211\164\86\66\102\20\23\64\0"`, `"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1"`
	run(`
    mysql.upsert("$T", { id = ` + id1 + `, ip = "\32\1\13\184\0\0\0\0\0\0\0\0\0\0\0\1", mask = "18446744073709551615", seen = "2024-02-29T12:34:56.789Z" }, "id")
    mysql.upsert("$T", { id = ` + id2 + `, ip = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", mask = 5, seen = json.null }, "id")
    local tz = assert(mysql.query("SELECT @@time_zone AS tz"))
    assert(tz[1].tz == "+00:00", "time zone " .. tostring(tz[1].tz))`)
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+tbl+" ADD COLUMN v4 INET4"); err != nil {
		t.Fatal(err)
	}
	run(`
    mysql.upsert("$T", { id = ` + id1 + `, v4 = "\192\168\0\1" }, "id")
    mysql.delete("$T", { id = ` + id2 + ` })`)
	var got []string
	rs, err := db.QueryContext(ctx, "SELECT id, ip, mask+0, CONVERT_TZ(seen, @@session.time_zone, '+00:00'), v4 FROM "+tbl+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, ip, mask, seen, v4 sql.NullString
		if err := rs.Scan(&id, &ip, &mask, &seen, &v4); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{id.String, ip.String, mask.String, seen.String, v4.String}, " "))
	}
	want := []string{"123e4567-e89b-12d3-a456-426614174000 2001:db8::1 18446744073709551615 2024-02-29 12:34:56.789 192.168.0.1"}
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
