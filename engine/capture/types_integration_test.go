package capture

import (
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// typeCase is one table of the type test: its columns (after an INT
// primary key "id"), the type each column must report, and rows given as
// SQL literals with the Value each must decode to.
type typeCase struct {
	table string
	cols  []typeCol
	rows  [][]typeVal // one typeVal per column; every table also gets an all-NULL row
}

type typeCol struct {
	name, ddl, wantType string
}

type typeVal struct {
	sql  string
	want event.Value
}

func v(sql string, want event.Value) typeVal { return typeVal{sql, want} }

var (
	I = event.IntValue
	U = event.UintValue
	D = event.DecimalValue
	S = event.StringValue
	T = event.TimeValue
	B = func(s string) event.Value { return event.BytesValue([]byte(s)) }
)

func typeCases() []typeCase {
	return []typeCase{
		{
			table: "ints",
			cols: []typeCol{
				{"ti", "TINYINT", "tinyint"}, {"tiu", "TINYINT UNSIGNED", "tinyint unsigned"},
				{"si", "SMALLINT", "smallint"}, {"siu", "SMALLINT UNSIGNED", "smallint unsigned"},
				{"mi", "MEDIUMINT", "mediumint"}, {"miu", "MEDIUMINT UNSIGNED", "mediumint unsigned"},
				{"i", "INT", "int"}, {"iu", "INT UNSIGNED", "int unsigned"},
				{"bi", "BIGINT", "bigint"}, {"biu", "BIGINT UNSIGNED", "bigint unsigned"},
			},
			rows: [][]typeVal{
				{v("-128", I(-128)), v("0", U(0)), v("-32768", I(-32768)), v("0", U(0)), v("-8388608", I(-8388608)), v("0", U(0)),
					v("-2147483648", I(-2147483648)), v("0", U(0)), v("-9223372036854775808", I(math.MinInt64)), v("0", U(0))},
				{v("127", I(127)), v("255", U(255)), v("32767", I(32767)), v("65535", U(65535)), v("8388607", I(8388607)), v("16777215", U(16777215)),
					v("2147483647", I(2147483647)), v("4294967295", U(4294967295)), v("9223372036854775807", I(math.MaxInt64)), v("18446744073709551615", U(math.MaxUint64))},
				{v("-1", I(-1)), v("1", U(1)), v("-1", I(-1)), v("1", U(1)), v("-1", I(-1)), v("1", U(1)),
					v("-1", I(-1)), v("1", U(1)), v("9007199254740993", I(1<<53+1)), v("9007199254740993", U(1<<53+1))},
			},
		},
		{
			table: "decimals",
			cols: []typeCol{
				{"big", "DECIMAL(65,30)", "decimal(65,30)"}, {"money", "DECIMAL(10,2)", "decimal(10,2)"},
				{"whole", "DECIMAL(20,0)", "decimal(20,0)"}, {"frac", "DECIMAL(5,5)", "decimal(5,5)"},
				{"odd", "DECIMAL(13,4) UNSIGNED", "decimal(13,4) unsigned"},
			},
			rows: [][]typeVal{
				{v("'12345678901234567890123456789012345.123456789012345678901234567890'", D("12345678901234567890123456789012345.123456789012345678901234567890")),
					v("'-12.50'", D("-12.50")), v("'-99999999999999999999'", D("-99999999999999999999")), v("'-0.00001'", D("-0.00001")), v("'123456789.0100'", D("123456789.0100"))},
				{v("'-99999999999999999999999999999999999.999999999999999999999999999999'", D("-99999999999999999999999999999999999.999999999999999999999999999999")),
					v("'0'", D("0.00")), v("'0'", D("0")), v("'0.5'", D("0.50000")), v("'0'", D("0.0000"))},
				{v("'-0.000000000000000000000000000001'", D("-0.000000000000000000000000000001")),
					v("'99999999.99'", D("99999999.99")), v("'18446744073709551616'", D("18446744073709551616")), v("'0.99999'", D("0.99999")), v("'999999999.9999'", D("999999999.9999"))},
			},
		},
		{
			table: "floats",
			cols:  []typeCol{{"f", "FLOAT", "float"}, {"d", "DOUBLE", "double"}},
			rows: [][]typeVal{
				{v("1.1", event.Float32Value(1.1)), v("0.1", event.FloatValue(0.1))},
				{v("-3.4028234663852886e38", event.Float32Value(-math.MaxFloat32)), v("1.7976931348623157e308", event.FloatValue(math.MaxFloat64))},
				{v("1.17549435e-38", event.Float32Value(1.17549435e-38)), v("-4.9406564584124654e-324", event.FloatValue(-5e-324))},
			},
		},
		{
			table: "temporals",
			cols: []typeCol{
				{"d", "DATE", "date"}, {"dt", "DATETIME", "datetime"}, {"dt3", "DATETIME(3)", "datetime(3)"}, {"dt6", "DATETIME(6)", "datetime(6)"},
				{"ts", "TIMESTAMP NULL", "timestamp"}, {"ts6", "TIMESTAMP(6) NULL", "timestamp(6)"},
				{"t", "TIME", "time"}, {"t1", "TIME(1)", "time(1)"}, {"t3", "TIME(3)", "time(3)"}, {"t6", "TIME(6)", "time(6)"},
				{"y", "YEAR", "year"},
			},
			rows: [][]typeVal{
				{v("'0000-00-00'", T("0000-00-00")), v("'0000-00-00 00:00:00'", T("0000-00-00 00:00:00")), v("'0000-00-00 00:00:00'", T("0000-00-00 00:00:00.000")),
					v("'0000-00-00 00:00:00'", T("0000-00-00 00:00:00.000000")), v("'0000-00-00 00:00:00'", T("0000-00-00 00:00:00")), v("'0000-00-00 00:00:00'", T("0000-00-00 00:00:00.000000")),
					v("'-838:59:59'", T("-838:59:59")), v("'-00:00:00.5'", T("-00:00:00.5")), v("'-00:00:01.100'", T("-00:00:01.100")), v("'-838:59:59.000000'", T("-838:59:59.000000")),
					v("0", I(0))},
				{v("'1000-01-01'", T("1000-01-01")), v("'1969-07-20 20:17:40'", T("1969-07-20 20:17:40")), v("'2024-02-29 12:00:00.12'", T("2024-02-29 12:00:00.120")),
					v("'1000-01-01 00:00:00.000001'", T("1000-01-01 00:00:00.000001")), v("'1970-01-01 00:00:01'", T("1970-01-01T00:00:01Z")), v("'1970-01-01 00:00:01.000001'", T("1970-01-01T00:00:01.000001Z")),
					v("'00:00:00'", T("00:00:00")), v("'-01:00:00.1'", T("-01:00:00.1")), v("'12:34:56.789'", T("12:34:56.789")), v("'-00:00:00.000001'", T("-00:00:00.000001")),
					v("1901", I(1901))},
				{v("'9999-12-31'", T("9999-12-31")), v("'9999-12-31 23:59:59'", T("9999-12-31 23:59:59")), v("'9999-12-31 23:59:59.999'", T("9999-12-31 23:59:59.999")),
					v("'9999-12-31 23:59:59.999999'", T("9999-12-31 23:59:59.999999")), v("'2038-01-19 03:14:07'", T("2038-01-19T03:14:07Z")), v("'2038-01-19 03:14:07.999999'", T("2038-01-19T03:14:07.999999Z")),
					v("'838:59:59'", T("838:59:59")), v("'00:00:01'", T("00:00:01.0")), v("'-100:00:00.010'", T("-100:00:00.010")), v("'838:59:59.999999'", T("838:59:59.999999")),
					v("2155", I(2155))},
			},
		},
		{
			table: "texts",
			cols: []typeCol{
				{"c", "CHAR(10)", "char(10)"}, {"vc", "VARCHAR(300)", "varchar(300)"}, {"tt", "TINYTEXT", "tinytext"}, {"tx", "TEXT", "text"},
				{"lt", "LONGTEXT", "longtext"}, {"l1", "VARCHAR(20) CHARACTER SET latin1", "varchar(20) latin1"}, {"c1", "CHAR(3) CHARACTER SET latin1", "char(3) latin1"},
				{"js", "JSON", "longtext"},
				// MariaDB 10.10+: the id (2304) is only in COLLATION_CHARACTER_SET_APPLICABILITY.
				{"uca", "VARCHAR(5) COLLATE utf8mb4_uca1400_ai_ci", "varchar(5)"},
			},
			rows: [][]typeVal{
				{v("'a'", S("a")), v("'héllo 😀 wörld'", S("héllo 😀 wörld")), v("''", S("")), v("'😀😀'", S("😀😀")),
					v("REPEAT('ß', 70000)", S(strings.Repeat("ß", 70000))), v("'€uro ÿ'", S("€uro ÿ")), v("'‰'", S("‰")),
					v(`'{"a": [1, 2.50, "😀"], "big": 12345678901234567890123}'`, S(`{"a": [1, 2.50, "😀"], "big": 12345678901234567890123}`)), v("'Ünï'", S("Ünï"))},
				{v("'😀'", S("😀")), v("REPEAT('x', 300)", S(strings.Repeat("x", 300))), v("'\\0'", S("\x00")), v("'tab\\there'", S("tab\there")),
					v("''", S("")), v("'plain'", S("plain")), v("''", S("")), v("'[]'", S("[]")), v("'😀'", S("😀"))},
				{v("'  lead'", S("  lead")), v("'trail  '", S("trail  ")), v("'\"q\" \\\\'", S(`"q" \`)), v("'line\\nbreak'", S("line\nbreak")),
					v("'x'", S("x")), v("'Œ'", S("Œ")), v("'abc'", S("abc")), v("'null'", S("null")), v("''", S(""))},
			},
		},
		{
			table: "binaries",
			cols: []typeCol{
				{"b4", "BINARY(4)", "binary(4)"}, {"vb", "VARBINARY(10)", "varbinary(10)"}, {"bl", "BLOB", "blob"}, {"lb", "LONGBLOB", "longblob"},
			},
			rows: [][]typeVal{
				{v("x'00FF0000'", B("\x00\xff\x00\x00")), v("x'00'", B("\x00")), v("x'FF00FF'", B("\xff\x00\xff")), v("x''", B(""))},
				{v("x'00'", B("\x00\x00\x00\x00")), v("x'FF'", B("\xff")), v("x'0000'", B("\x00\x00")), v("REPEAT(x'00FF', 50000)", B(strings.Repeat("\x00\xff", 50000)))},
				{v("x'FFFFFFFF'", B("\xff\xff\xff\xff")), v("x'000000FF00'", B("\x00\x00\x00\xff\x00")), v("x'80'", B("\x80")), v("'text'", B("text"))},
			},
		},
		{
			table: "enums",
			cols: []typeCol{
				{"e", "ENUM('a','b','it''s')", "enum('a','b','it''s')"}, {"s", "SET('x','y','z')", "set('x','y','z')"},
				{"e8", "ENUM('😀','é')", "enum('😀','é')"},
				{"el", "ENUM('café','x') CHARACTER SET latin1", "enum('café','x')"},
				{"sl", "SET('é','ü') CHARACTER SET latin1", "set('é','ü')"},
			},
			rows: [][]typeVal{
				{v("'a'", S("a")), v("''", S("")), v("'😀'", S("😀")), v("'café'", S("café")), v("'é,ü'", S("é,ü"))},
				{v("'it''s'", S("it's")), v("'x,z'", S("x,z")), v("'é'", S("é")), v("'x'", S("x")), v("''", S(""))},
				{v("'b'", S("b")), v("'x,y,z'", S("x,y,z")), v("'😀'", S("😀")), v("'café'", S("café")), v("'ü'", S("ü"))},
			},
		},
		{
			table: "latin1_set_only",
			cols:  []typeCol{{"s", "SET('à','b') CHARACTER SET latin1", "set('à','b')"}},
			rows:  [][]typeVal{{v("'à,b'", S("à,b"))}, {v("'b'", S("b"))}},
		},
		{
			// Other charsets are decoded as the server converts them
			// (see TestIntegrationTextOfEveryCodeReadsAsTheServerConvertsIt);
			// a character the server cannot convert (gbk a2e3 is one)
			// keeps its value bytes.
			table: "charsets",
			cols: []typeCol{
				{"g", "VARCHAR(10) CHARACTER SET gbk", "varchar(10) gbk"}, {"c", "CHAR(3) CHARACTER SET cp1251", "char(3) cp1251"},
				{"j", "TEXT CHARACTER SET sjis", "text sjis"}, {"u", "VARCHAR(4) CHARACTER SET utf16", "varchar(4) utf16"},
				{"ge", "ENUM('中文','x') CHARACTER SET gbk", "enum('中文','x')"}, {"ks", "SET('да','нет') CHARACTER SET koi8r", "set('да','нет')"},
			},
			rows: [][]typeVal{
				{v("'中文 abc'", S("中文 abc")), v("'Юля'", S("Юля")), v("'日本語テキスト'", S("日本語テキスト")), v("'a😀'", S("a😀")),
					v("'中文'", S("中文")), v("'да,нет'", S("да,нет"))},
				{v("x'a2e3'", B("\xa2\xe3")), v("''", S("")), v("'ｱｲ'", S("ｱｲ")), v("''", S("")), v("'x'", S("x")), v("''", S(""))},
			},
		},
		{
			// MariaDB's fixed-size binary types: the binlog calls them
			// BINARY, and so does the history.
			table: "mariadb_binaries",
			cols: []typeCol{
				{"u", "UUID", "binary(16)"}, {"i6", "INET6", "binary(16)"}, {"i4", "INET4", "binary(4)"},
			},
			rows: [][]typeVal{
				{v("'123e4567-e89b-12d3-a456-426655440000'", B("\x12\x3e\x45\x67\xe8\x9b\x12\xd3\xa4\x56\x42\x66\x55\x44\x00\x00")),
					v("'2001:db8::ff00:42:8329'", B("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\xff\x00\x00\x42\x83\x29")), v("'192.168.0.1'", B("\xc0\xa8\x00\x01"))},
				{v("'00000000-0000-0000-0000-000000000000'", B(strings.Repeat("\x00", 16))), v("'::ffff:1.2.3.4'", B("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04")), v("'0.0.0.0'", B("\x00\x00\x00\x00"))},
			},
		},
		{
			table: "bits",
			cols:  []typeCol{{"b1", "BIT(1)", "bit(1)"}, {"b12", "BIT(12)", "bit(12)"}, {"b64", "BIT(64)", "bit(64)"}},
			rows: [][]typeVal{
				{v("b'1'", U(1)), v("b'100000000001'", U(2049)), v("x'FFFFFFFFFFFFFFFF'", U(math.MaxUint64))},
				{v("b'0'", U(0)), v("b'0'", U(0)), v("x'8000000000000000'", U(1<<63))},
				{v("b'1'", U(1)), v("b'111111111111'", U(4095)), v("x'0000000000000001'", U(1))},
			},
		},
	}
}

// TestIntegrationEveryTypeDecodesExactly writes rows of every type family,
// updates and deletes them, and checks every value of every event, as
// decoded and after the JSON round trip.
func TestIntegrationEveryTypeDecodesExactly(t *testing.T) {
	everyTypeDecodesExactly(t, sourceDSN(t), testenv.Source(t), typeCases(), false)
}

// TestIntegrationMinimalMetadataEveryTypeDecodesExactly runs the type test
// on a server whose binlog has no column names, labels or keys: the schema
// history supplies them, from the DDL capture reads and from the snapshot
// it takes at start.
func TestIntegrationMinimalMetadataEveryTypeDecodesExactly(t *testing.T) {
	dsn, db := testenv.MinimalMySQL(t), testenv.Minimal(t)
	t.Run("tables created while capturing", func(t *testing.T) {
		everyTypeDecodesExactly(t, dsn, db, typeCases(), false)
	})
	t.Run("tables from the snapshot at start", func(t *testing.T) {
		// information_schema cannot show the emoji label of e8 (see
		// TestIntegrationSnapshotAgreesWithDDL in package schema).
		everyTypeDecodesExactly(t, dsn, db, withoutColumn(typeCases(), "e8"), true)
	})
}

// withoutColumn drops the named column from every case.
func withoutColumn(cases []typeCase, name string) []typeCase {
	for i, tc := range cases {
		for j, c := range tc.cols {
			if c.name != name {
				continue
			}
			tc.cols = append(tc.cols[:j:j], tc.cols[j+1:]...)
			rows := make([][]typeVal, len(tc.rows))
			for k, r := range tc.rows {
				rows[k] = append(r[:j:j], r[j+1:]...)
			}
			tc.rows = rows
			cases[i] = tc
			break
		}
	}
	return cases
}

// everyTypeDecodesExactly writes rows of every case to the server behind
// dsn, updates and deletes them, and checks every value of every event, as
// decoded and after the JSON round trip. With tablesFirst the tables are
// created before capture starts, else while it runs.
func everyTypeDecodesExactly(t *testing.T, dsn config.MySQLDSN, db *sql.DB, cases []typeCase, tablesFirst bool) {
	ctx := testenv.Context(t, 2*time.Minute)
	schema := testenv.FreshDatabase(t, db)

	session := []string{"SET time_zone = '+00:00'", "SET sql_mode = ''", "USE `" + schema + "`"}
	createStmt := func(tc typeCase) string {
		var ddl []string
		for _, c := range tc.cols {
			ddl = append(ddl, "`"+c.name+"` "+c.ddl)
		}
		return fmt.Sprintf("CREATE TABLE `%s` (id INT PRIMARY KEY, %s) DEFAULT CHARSET utf8mb4", tc.table, strings.Join(ddl, ", "))
	}
	if tablesFirst {
		stmts := append([]string(nil), session...)
		for _, tc := range cases {
			stmts = append(stmts, createStmt(tc))
		}
		execAll(ctx, t, db, stmts...)
	}
	from := currentPos(ctx, t, dsn)
	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schema + ".*"}}, rec)

	wantEvents := 0
	for _, tc := range cases {
		stmts := append([]string(nil), session...)
		if !tablesFirst {
			stmts = append(stmts, createStmt(tc))
		}
		rows := withNullRow(tc)
		for i, r := range rows {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO `%s` VALUES (%d, %s)", tc.table, i, literals(r)))
		}
		// Each row takes the next row's values, so every column changes.
		for i := range rows {
			next := rows[(i+1)%len(rows)]
			var sets []string
			for j, c := range tc.cols {
				sets = append(sets, "`"+c.name+"` = "+next[j].sql)
			}
			stmts = append(stmts, fmt.Sprintf("UPDATE `%s` SET %s WHERE id = %d", tc.table, strings.Join(sets, ", "), i))
		}
		stmts = append(stmts, fmt.Sprintf("DELETE FROM `%s` ORDER BY id", tc.table))
		execAll(ctx, t, db, stmts...)
		wantEvents += 3 * len(rows)
	}

	evs := rec.waitFor(ctx, t, "every row event", func(evs []*event.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Action != event.DDL {
				n++
			}
		}
		return n >= wantEvents
	})
	if err := stop(); err != nil {
		t.Fatalf("capture: %v", err)
	}

	for _, tc := range cases {
		t.Run(tc.table, func(t *testing.T) {
			got := ofTable(evs, schema, tc.table)
			rows := withNullRow(tc)
			var rowEvents []*event.Event
			for _, e := range got {
				if e.Action != event.DDL {
					rowEvents = append(rowEvents, e)
				}
			}
			if len(rowEvents) != 3*len(rows) {
				t.Fatalf("got %d row events, want %d", len(rowEvents), 3*len(rows))
			}
			tbl := rowEvents[0].Table
			if tbl.Columns[0].Name != "id" || tbl.Columns[0].Type != "int" || len(tbl.PK) != 1 || tbl.PK[0] != 0 {
				t.Errorf("id column or primary key wrong: %+v pk %v", tbl.Columns[0], tbl.PK)
			}
			for j, c := range tc.cols {
				if got := tbl.Columns[j+1]; got.Name != c.name || got.Type != c.wantType {
					t.Errorf("column %d: got %s %q, want %s %q", j+1, got.Name, got.Type, c.name, c.wantType)
				}
			}
			n := len(rows)
			for i, e := range rowEvents {
				var wantAction event.Action
				var wantBefore, wantAfter []event.Value
				switch {
				case i < n:
					wantAction, wantAfter = event.Insert, rowValues(i, rows[i])
				case i < 2*n:
					k := i - n
					wantAction, wantBefore, wantAfter = event.Update, rowValues(k, rows[k]), rowValues(k, rows[(k+1)%n])
				default:
					k := i - 2*n
					wantAction, wantBefore = event.Delete, rowValues(k, rows[(k+1)%n])
				}
				checkEvent(t, fmt.Sprintf("event %d (%s)", i, wantAction), e, wantAction, wantBefore, wantAfter)
				data, err := event.AppendJSON(nil, e)
				if err != nil {
					t.Fatalf("event %d: encoding: %v", i, err)
				}
				back, err := event.Decode(data)
				if err != nil {
					t.Fatalf("event %d: decoding %s: %v", i, data, err)
				}
				checkEvent(t, fmt.Sprintf("event %d after JSON", i), back, wantAction, wantBefore, wantAfter)
				if back.ID != e.ID || back.Version != e.Version || back.Pos != e.Pos || back.Tx != e.Tx || back.Key != e.Key || back.TS != e.TS {
					t.Errorf("event %d: header changed in JSON: %+v vs %+v", i, back, e)
				}
			}
		})
	}
}

func withNullRow(tc typeCase) [][]typeVal {
	null := make([]typeVal, len(tc.cols))
	for i := range null {
		null[i] = v("NULL", event.NullValue())
	}
	return append(append([][]typeVal(nil), tc.rows...), null)
}

func literals(r []typeVal) string {
	parts := make([]string, len(r))
	for i, x := range r {
		parts[i] = x.sql
	}
	return strings.Join(parts, ", ")
}

func rowValues(id int, r []typeVal) []event.Value {
	out := []event.Value{event.IntValue(int64(id))}
	for _, x := range r {
		out = append(out, x.want)
	}
	return out
}

func checkEvent(t *testing.T, what string, e *event.Event, action event.Action, before, after []event.Value) {
	t.Helper()
	if e.Action != action {
		t.Errorf("%s: action %s, want %s", what, e.Action, action)
		return
	}
	for _, img := range []struct {
		name      string
		got, want []event.Value
	}{{"before", e.Before, before}, {"after", e.After, after}} {
		if (img.got == nil) != (img.want == nil) || len(img.got) != len(img.want) {
			t.Errorf("%s: %s image has %d values, want %d", what, img.name, len(img.got), len(img.want))
			continue
		}
		for k := range img.want {
			if !img.got[k].Equal(img.want[k]) {
				t.Errorf("%s: %s.%s = %s %s, want %s %s", what, img.name, e.Table.Columns[k].Name,
					img.got[k].Kind(), abbrev(img.got[k]), img.want[k].Kind(), abbrev(img.want[k]))
			}
		}
	}
}

func abbrev(v event.Value) string {
	s := v.String()
	if len(s) > 80 {
		return fmt.Sprintf("%s...(%d bytes)", s[:80], len(s))
	}
	return s
}
