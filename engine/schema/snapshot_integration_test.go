package schema

import (
	"strings"
	"testing"
	"time"

	"github.com/moontide/moontide/internal/testenv"
)

// TestIntegrationSnapshotAgreesWithDDL creates tables on the server, then
// checks that reading them from information_schema and following their DDL
// give the same definitions, collation ids included. (ENUM labels with
// characters beyond the BMP are left out: MariaDB's information_schema
// shows them as '?'.)
func TestIntegrationSnapshotAgreesWithDDL(t *testing.T) {
	db := testenv.Minimal(t)
	ctx := testenv.Context(t, time.Minute)
	schema := testenv.FreshDatabase(t, db)
	stmts := []string{
		"ALTER DATABASE `" + schema + "` CHARACTER SET latin1",
		`CREATE TABLE kinds (
			id INT UNSIGNED NOT NULL, s TINYINT, big BIGINT UNSIGNED ZEROFILL, d DECIMAL(5,2) UNSIGNED, f FLOAT, dbl DOUBLE UNSIGNED,
			v VARCHAR(10), u8 VARCHAR(3) CHARACTER SET utf8mb4, lb VARCHAR(3) COLLATE latin1_bin, vb VARCHAR(5) BINARY,
			uc TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, b VARBINARY(4), bl BLOB, mb MEDIUMBLOB, bi BINARY(2),
			e ENUM('a','it''s','back\\slash','é',' sp ') CHARACTER SET utf8mb4, st SET('x','y','z'), j JSON,
			dt DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME, y YEAR, bit1 BIT(1), bo BOOL,
			PRIMARY KEY (id, s))`,
		"CREATE TABLE plain (a INT) DEFAULT CHARSET utf8mb4",
		"CREATE TABLE uniq (a INT, b VARCHAR(10) NOT NULL, c INT NOT NULL, UNIQUE KEY ua (a), UNIQUE KEY pre (b(3)), UNIQUE (c, b))",
		"CREATE TABLE renamed_from (id BIGINT PRIMARY KEY, note TEXT)",
		"ALTER TABLE renamed_from ADD COLUMN first_col CHAR(2) FIRST, CHANGE note body MEDIUMTEXT CHARACTER SET utf8mb4, RENAME TO moved",
		"ALTER TABLE plain CONVERT TO CHARACTER SET latin1, ADD PRIMARY KEY (a)",
	}
	opts, err := ServerOptions(ctx, db, "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	followed := New(opts, Pos{})
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE `"+schema+"`"); err != nil {
		t.Fatal(err)
	}
	for i, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if _, err := followed.Apply(DDL{Pos: at(i + 1), Schema: schema, Query: q}); err != nil {
			t.Fatalf("following %s: %v", q, err)
		}
	}
	snap, err := Snapshot(ctx, db, opts, at(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"kinds", "plain", "moved", "uniq"} {
		got, err := snap.Lookup(schema, table)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		want, err := followed.Lookup(schema, table)
		if err != nil {
			t.Fatalf("followed: %v", err)
		}
		if g, w := describe(got)+" "+describeKeys(got), describe(want)+" "+describeKeys(want); g != w {
			t.Errorf("%s:\nsnapshot %s\nDDL      %s", table, g, w)
		}
	}
	if _, err := snap.Lookup(schema, "renamed_from"); err == nil {
		t.Error("the snapshot has the table that was renamed away")
	}
	// A label information_schema cannot show is not guessed; a '?' in a
	// charset without such characters is a '?'.
	for _, q := range []string{
		"CREATE TABLE `" + schema + "`.emoji (e ENUM('😀','a') CHARACTER SET utf8mb4)",
		"CREATE TABLE `" + schema + "`.question (e ENUM('what?','a') CHARACTER SET latin1)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	snap, err = Snapshot(ctx, db, opts, at(101))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Lookup(schema, "emoji"); err == nil || !strings.Contains(err.Error(), "lost track") || !strings.Contains(err.Error(), "as '?'") {
		t.Errorf("a table with a label information_schema shows as '?': %v", err)
	}
	if q, err := snap.Lookup(schema, "question"); err != nil {
		t.Errorf("a latin1 label with a '?': %v", err)
	} else if got := describe(q); !strings.Contains(got, "(what?|a)") {
		t.Errorf("a latin1 label with a '?': %s", got)
	}
	kinds, _ := snap.Lookup(schema, "kinds")
	if got := describe(kinds); !strings.Contains(got, "e enum /45 (a|it's|back\\slash|é| sp)") || !strings.Contains(got, "b varbinary /63") ||
		!strings.Contains(got, "v varchar /8") || !strings.Contains(got, "pk(id,s)") || !strings.Contains(got, "j longtext /46") {
		t.Errorf("kinds: %s", got)
	}
}
