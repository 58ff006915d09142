package mysql

import (
	"strings"
	"testing"
	"time"
)

func TestIdentifiersAreQuotedWithBackticksDoubled(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "orders", want: "`orders`"},
		{in: "shop.orders", want: "`shop`.`orders`"},
		{in: "we`ird", want: "`we``ird`"},
		{in: "a`.b``", want: "`a```.`b`````"},
		{in: "sp ace; DROP TABLE x", want: "`sp ace; DROP TABLE x`"},
		{in: "db.t.x", want: "`db`.`t.x`"},
		{in: "", err: "empty identifier"},
		{in: ".t", err: "database part"},
		{in: "db.", err: "table part"},
		{in: "a\x00b", err: "NUL"},
	} {
		got, err := quoteTable(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("quoteTable(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("quoteTable(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func up(table string, cols []string, vals []any, keys ...string) op {
	q, _ := quoteTable(table)
	return op{kind: opUpsert, table: table, qtable: q, cols: cols, vals: vals, keys: keys, size: 8 * len(vals), shape: shape("u", q, cols, keys)}
}

func del(table string, cols []string, vals ...any) op {
	q, _ := quoteTable(table)
	return op{kind: opDelete, table: table, qtable: q, cols: cols, vals: vals, size: 8 * len(vals), shape: shape("d", q, cols, nil)}
}

func TestConsecutiveWritesOfOneShapeShareAStatement(t *testing.T) {
	ops := []op{
		up("s.t", []string{"a", "id"}, []any{"x", int64(1)}, "id"),
		up("s.t", []string{"a", "id"}, []any{"y", int64(2)}, "id"),
		{kind: opExec, sql: "UPDATE s.c SET n = n + ?", args: []any{int64(1)}},
		up("s.t", []string{"a", "id"}, []any{"z", int64(3)}, "id"),
		up("s.t", []string{"id"}, []any{int64(4)}, "id"),
		del("s.t", []string{"id"}, int64(5)),
		del("s.t", []string{"id"}, int64(6)),
		del("s.t", []string{"id"}, int64(7)),
		del("s.m", []string{"a", "b"}, int64(1), "p"),
		del("s.m", []string{"a", "b"}, int64(2), "q"),
		del("s.m", []string{"a", "b"}, int64(3), "r"),
	}
	got := statements(ops)
	want := []stmt{
		{0, 1, "INSERT INTO `s`.`t` (`a`,`id`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`)", []any{"x", int64(1), "y", int64(2)}, ""},
		{2, 2, "UPDATE s.c SET n = n + ?", []any{int64(1)}, ""},
		{3, 3, "INSERT INTO `s`.`t` (`a`,`id`) VALUES (?,?) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`)", []any{"z", int64(3)}, ""},
		{4, 4, "INSERT INTO `s`.`t` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id`=`id`", []any{int64(4)}, ""},
		{5, 7, "DELETE FROM `s`.`t` WHERE `id` IN (?,?,?)", []any{int64(5), int64(6), int64(7)}, ""},
		{8, 10, "DELETE FROM `s`.`m` WHERE (`a`=? AND `b`=?) OR (`a`=? AND `b`=?) OR (`a`=? AND `b`=?)", []any{int64(1), "p", int64(2), "q", int64(3), "r"}, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d statements, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.first != w.first || g.last != w.last || g.sql != w.sql || len(g.args) != len(w.args) {
			t.Errorf("statement %d = %d-%d %q %v\nwant %d-%d %q %v", i, g.first, g.last, g.sql, g.args, w.first, w.last, w.sql, w.args)
			continue
		}
		for j := range w.args {
			if g.args[j] != w.args[j] {
				t.Errorf("statement %d arg %d = %#v, want %#v", i, j, g.args[j], w.args[j])
			}
		}
	}
	if s := statements(ops[5:6]); s[0].sql != "DELETE FROM `s`.`t` WHERE `id`=?" {
		t.Errorf("one delete: %q", s[0].sql)
	}
}

func TestAMergedStatementStaysUnderThePlaceholderLimit(t *testing.T) {
	cols := make([]string, 100)
	vals := make([]any, 100)
	for i := range cols {
		cols[i] = "c" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		vals[i] = int64(i)
	}
	var ops []op
	for range 1500 {
		ops = append(ops, up("t", cols, vals, "caa"))
	}
	st := statements(ops)
	total := 0
	for _, s := range st {
		if len(s.args) > maxPlaceholders {
			t.Errorf("statement %d-%d has %d placeholders", s.first, s.last, len(s.args))
		}
		total += s.last - s.first + 1
	}
	if total != 1500 || len(st) != 3 { // 655 rows of 100 columns fit
		t.Errorf("%d statements carrying %d writes", len(st), total)
	}
}

func TestWritesAreRecordedInCallOrder(t *testing.T) {
	ops, err := record(t, `
local mysql = require("mysql")
local json = require("json")
mysql.exec("UPDATE counters SET n = n + ? WHERE id = ?", 1, "18446744073709551615")
mysql.upsert("shop.orders", {id = 7, amount = "12.500000", note = json.null, ok = true}, {"id"})
mysql.delete("shop.orders", {id = 8})
mysql.conn("other").upsert("t", {k = "a", v = 1.5}, "k")
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`mysql[dest].exec("UPDATE counters SET n = n + ? WHERE id = ?", 1, "18446744073709551615")`,
		`mysql[dest].upsert("shop.orders", {"amount":"12.500000","id":7,"note":null,"ok":true}, ["id"])`,
		`mysql[dest].delete("shop.orders", {"id":8})`,
		`mysql[other].upsert("t", {"k":"a","v":1.5}, ["k"])`,
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
}

func TestMisuseRaisesAnErrorNamingTheArgument(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"exec without SQL", `mysql.exec()`, "bad argument #1"},
		{"exec with a table argument", `mysql.exec("SELECT ?", {1})`, "bad argument #2"},
		{"exec with a function argument", `mysql.exec("SELECT ?", 1, print)`, "bad argument #3"},
		{"upsert without a table name", `mysql.upsert(nil, {id = 1}, {"id"})`, "bad argument #1"},
		{"upsert into an empty table name", `mysql.upsert("db.", {id = 1}, {"id"})`, "table part"},
		{"upsert of an empty row", `mysql.upsert("t", {}, {"id"})`, "row has no columns"},
		{"upsert of a row with a nested table", `mysql.upsert("t", {id = 1, tags = {"a"}}, {"id"})`, `column "tags"`},
		{"upsert of an array", `mysql.upsert("t", {1, 2}, {"id"})`, "not a column name"},
		{"upsert without keys", `mysql.upsert("t", {id = 1})`, "bad argument #3"},
		{"upsert with a key not in the row", `mysql.upsert("t", {id = 1}, {"code"})`, `key column "code" is not in the row`},
		{"upsert with a null key", `mysql.upsert("t", {id = require("json").null, a = 1}, {"id"})`, `key column "id" is null`},
		{"upsert with a key given twice", `mysql.upsert("t", {id = 1}, {"id", "id"})`, "given twice"},
		{"delete without keys", `mysql.delete("t", {})`, "at least one column"},
		{"delete with a null key", `mysql.delete("t", {id = require("json").null})`, "IS NULL"},
		{"an unknown connection", `mysql.conn("nope")`, `no sink named "nope"`},
		{"a connection of another kind", `mysql.conn("search")`, `has type es, not mysql`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record(t, "local mysql = require('mysql')\n"+tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWritesOutsideACallAreRefused(t *testing.T) {
	// lua.Exec runs the whole script as a call, so use a listener's top
	// level, which runs at load time.
	_, err := recordTopLevel(t, `local mysql = require("mysql")
mysql.exec("DELETE FROM t")
return {name = "x", subscribe = {"a.b"}, handle = function() end}`)
	if err == nil || !strings.Contains(err.Error(), "only possible inside handle") {
		t.Errorf("err = %v", err)
	}
}

func TestQueryInRecordingModeReturnsAnError(t *testing.T) {
	_, err := record(t, `
local mysql = require("mysql")
local rows, err = mysql.query("SELECT 1")
assert(rows == nil and err:find("recording mode"), tostring(err))
`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestTheDSNAlwaysKeepsValuesExact(t *testing.T) {
	c, err := parseDSN("mysql://us%40er:p%3Ass@db.example:3307/shop?parseTime=true&loc=Local&interpolateParams=true&charset=utf8mb4&sql_mode=%27STRICT_ALL_TABLES%27", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "us@er" || c.Passwd != "p:ss" || c.Addr != "db.example:3307" || c.DBName != "shop" {
		t.Errorf("user %q password %q addr %q db %q", c.User, c.Passwd, c.Addr, c.DBName)
	}
	if c.ParseTime || c.InterpolateParams || c.Loc != time.UTC {
		t.Errorf("parseTime %v interpolateParams %v loc %v; want false, false, UTC whatever the URL says", c.ParseTime, c.InterpolateParams, c.Loc)
	}
	if c.Params["sql_mode"] != "'STRICT_ALL_TABLES'" || c.Timeout != 3*time.Second {
		t.Errorf("params %v timeout %v", c.Params, c.Timeout)
	}
	if c, err := parseDSN("mysql://u@/", 0); err != nil || c.Addr != "127.0.0.1:3306" || c.Params["time_zone"] != "'+00:00'" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if c, err := parseDSN("mysql://u@/?time_zone=%27Europe%2FParis%27", 0); err != nil || c.Params["time_zone"] != "'Europe/Paris'" {
		t.Errorf("a time zone of the URL: %+v, %v", c, err)
	}
	for _, bad := range []string{"postgres://u:secret@h/db", "mysql://u:secret@h:99999/db", "mysql://u:secret@h/a/b", "mysql://u:sec%zzret@h/db"} {
		_, err := parseDSN(bad, 0)
		if err == nil {
			t.Errorf("parseDSN(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("parseDSN(%q): error %q shows the password", bad, err)
		}
	}
}

func TestColumnClassesShapeTheStatements(t *testing.T) {
	classes := []colClass{bitCol, plainCol, binaryCol, temporalCol}
	up := op{kind: opUpsert, qtable: "`t`", cols: []string{"b", "id", "ip", "ts"}, keys: []string{"id"}, classes: classes,
		vals: []any{"18446744073709551615", int64(1), "\x00\x00\x00\x00", "2024-02-29T12:34:56.789Z"}}
	s := upsertStmt([]op{up, up})
	wantSQL := "INSERT INTO `t` (`b`,`id`,`ip`,`ts`) VALUES (CAST(? AS UNSIGNED),?,CAST(? AS BINARY),?),(CAST(? AS UNSIGNED),?,CAST(? AS BINARY),?)" +
		" ON DUPLICATE KEY UPDATE `b`=VALUES(`b`),`ip`=VALUES(`ip`),`ts`=VALUES(`ts`)"
	if s.sql != wantSQL {
		t.Errorf("upsert:\n%s\nwant:\n%s", s.sql, wantSQL)
	}
	if s.args[3] != "2024-02-29T12:34:56.789" || s.args[0] != "18446744073709551615" {
		t.Errorf("upsert args %q", s.args)
	}
	del := op{kind: opDelete, qtable: "`t`", cols: []string{"u"}, classes: []colClass{binaryCol}, vals: []any{"\x12\x3e"}}
	if s := deleteStmt([]op{del, del}); s.sql != "DELETE FROM `t` WHERE `u` IN (CAST(? AS BINARY),CAST(? AS BINARY))" {
		t.Errorf("delete: %s", s.sql)
	}
	if s := deleteStmt([]op{del}); s.sql != "DELETE FROM `t` WHERE `u`=CAST(? AS BINARY)" {
		t.Errorf("delete of one: %s", s.sql)
	}
}

func TestOnlyAnEventsInstantLosesItsZ(t *testing.T) {
	tests := []struct {
		class colClass
		in    any
		want  any
	}{
		{temporalCol, "2024-02-29T12:34:56Z", "2024-02-29T12:34:56"},
		{temporalCol, "2024-02-29T12:34:56.000001Z", "2024-02-29T12:34:56.000001"},
		{temporalCol, "2024-02-29 12:34:56", "2024-02-29 12:34:56"},
		{temporalCol, "0000-00-00 00:00:00", "0000-00-00 00:00:00"},
		{temporalCol, "Zulu", "Zulu"},
		{temporalCol, int64(20240229), int64(20240229)},
		{plainCol, "2024-02-29T12:34:56Z", "2024-02-29T12:34:56Z"},
		{binaryCol, "2024-02-29T12:34:56Z", "2024-02-29T12:34:56Z"},
	}
	for _, tt := range tests {
		if got := tt.class.arg(tt.in); got != tt.want {
			t.Errorf("class %d, arg(%v) = %v, want %v", tt.class, tt.in, got, tt.want)
		}
	}
	for typ, want := range map[string]colClass{
		"INET4": binaryCol, "uuid": binaryCol, "varbinary": binaryCol, "longblob": binaryCol, "point": binaryCol,
		"bit": bitCol, "timestamp": temporalCol, "datetime": temporalCol,
		"date": plainCol, "time": plainCol, "varchar": plainCol, "json": plainCol, "decimal": plainCol,
	} {
		if got := classOf(typ); got != want {
			t.Errorf("classOf(%q) = %d, want %d", typ, got, want)
		}
	}
}
