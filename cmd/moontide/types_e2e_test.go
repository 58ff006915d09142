package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moontide/moontide/internal/testenv"
)

// typesTable has a column of every type a row can carry on MariaDB, with
// the literals of rows that reach each type's edges. The end-to-end type
// test writes them into the source, and the destination, written only by a
// listener's mysql.upsert and mysql.delete of ev.after and ev.before, must
// then read back byte for byte the same.
var typesTable = []struct {
	name, ddl string
	values    []string // SQL literals, one per row of typesRows
}{
	{"ti", "TINYINT", []string{"-128", "127", "0"}},
	{"tiu", "TINYINT UNSIGNED", []string{"0", "255", "1"}},
	{"si", "SMALLINT", []string{"-32768", "32767", "-1"}},
	{"miu", "MEDIUMINT UNSIGNED", []string{"0", "16777215", "1"}},
	{"i", "INT", []string{"-2147483648", "2147483647", "-1"}},
	{"iu", "INT UNSIGNED", []string{"0", "4294967295", "1"}},
	{"bi", "BIGINT", []string{"-9223372036854775808", "9223372036854775807", "9007199254740993"}},
	{"biu", "BIGINT UNSIGNED", []string{"0", "18446744073709551615", "9007199254740993"}},
	{"bo", "BOOLEAN", []string{"0", "1", "1"}},
	{"yr", "YEAR", []string{"1901", "2155", "0"}},
	{"b1", "BIT(1)", []string{"b'0'", "b'1'", "b'1'"}},
	{"b12", "BIT(12)", []string{"b'0'", "b'111111111111'", "b'100000000001'"}},
	{"b64", "BIT(64)", []string{"0", "18446744073709551615", "9007199254740993"}},
	{"f", "FLOAT", []string{"-3.40282e38", "1.1", "0.1"}},
	{"d", "DOUBLE", []string{"-1.7976931348623157e308", "2.2250738585072014e-308", "0.1"}},
	{"big", "DECIMAL(65,30)", []string{"'-99999999999999999999999999999999999.999999999999999999999999999999'", "'12345678901234567890123456789012345.123456789012345678901234567890'", "'-0.000000000000000000000000000001'"}},
	{"money", "DECIMAL(10,2)", []string{"'-12.50'", "'99999999.99'", "'0'"}},
	{"du", "DECIMAL(13,4) UNSIGNED", []string{"'0'", "'999999999.9999'", "'123456789.0100'"}},
	{"dt", "DATE", []string{"'1000-01-01'", "'9999-12-31'", "'2024-02-29'"}},
	{"dtm", "DATETIME", []string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'2024-02-29 12:34:56'"}},
	{"dtm6", "DATETIME(6)", []string{"'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "'2024-02-29 12:34:56.000001'"}},
	{"ts", "TIMESTAMP(3) NULL", []string{"'1970-01-01 00:00:01.000'", "'2038-01-19 03:14:07.999'", "'2024-02-29 12:34:56.789'"}},
	{"tm", "TIME(2)", []string{"'-838:59:59.00'", "'838:59:59.00'", "'-00:00:00.50'"}},
	{"c", "CHAR(5)", []string{"''", "'ab'", "'ü€'"}},
	{"vc", "VARCHAR(50)", []string{"''", "'quote '' and \\\\ and 🌊'", "'line\\nbreak'"}},
	{"tx", "TEXT", []string{"''", "REPEAT('moontide ', 100)", "'日本語'"}},
	{"l1", "VARCHAR(20) CHARACTER SET latin1", []string{"''", "'café ÿ'", "CONVERT(0x80 USING latin1)"}},
	{"gb", "VARCHAR(20) CHARACTER SET gbk", []string{"''", "'中文'", "'ab'"}},
	{"bin", "BINARY(4)", []string{"0x00000000", "0xffffffff", "0x61000000"}},
	{"vb", "VARBINARY(10)", []string{"''", "0x00ff8000", "'text'"}},
	{"bl", "BLOB", []string{"''", "0x000102fffefd", "REPEAT(0xab, 1000)"}},
	{"e", "ENUM('a','b c','ü')", []string{"'a'", "'ü'", "'b c'"}},
	{"st", "SET('x','y','z')", []string{"''", "'x,y,z'", "'y'"}},
	{"js", "JSON", []string{"'{}'", `'{"a": [1, 2.50, "x"], "b": null}'`, "'[18446744073709551615]'"}},
	{"u", "UUID", []string{"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'123e4567-e89b-12d3-a456-426614174000'"}},
	{"i6", "INET6", []string{"'::'", "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'", "'2001:db8::1'"}},
	{"i4", "INET4", []string{"'0.0.0.0'", "'255.255.255.255'", "'192.168.0.1'"}},
	{"g", "POINT", []string{"ST_GeomFromText('POINT(0 0)')", "ST_GeomFromText('POINT(-1.5 1e300)')", "ST_GeomFromText('POINT(1 2)', 4326)"}},
}

// typesRows is how many rows typesTable gives values for; one more row is
// NULL in every column.
const typesRows = 3

func TestIntegrationEveryTypeReplicatesExactly(t *testing.T) {
	cols := make([]string, len(typesTable))
	for i, c := range typesTable {
		cols[i] = c.name + " " + c.ddl
	}
	ddl := "(id INT PRIMARY KEY, " + strings.Join(cols, ", ") + ")"
	for _, mode := range []struct {
		name string
		e2eOptions
	}{
		{"embedded", e2eOptions{}},
		{"kafka", e2eOptions{kafka: true}},
		{"embedded from the minimal-metadata server", e2eOptions{minimal: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			mode.tables = map[string]string{"types": ddl}
			e := newE2EWith(t, mode.e2eOptions)
			ctx := testenv.Context(t, 3*time.Minute)
			src, dst := "`"+e.srcDB+"`.types", "`"+e.dstDB+"`.types"
			writeFile(t, filepath.Join(e.scripts, "replica.lua"), fmt.Sprintf(`
local mysql = require("mysql")
return {
  name = "types",
  subscribe = { %q },
  start = "earliest",
  handle = function(events)
    for _, ev in ipairs(events) do
      if ev.action == "delete" then
        mysql.delete(%[2]q, { id = ev.before.id })
      elseif ev.action ~= "ddl" then
        mysql.upsert(%[2]q, ev.after, { "id" })
      end
    end
  end,
}
`, e.srcDB+".types", e.dstDB+".types"))
			p := e.startProc("run")
			defer p.stop()

			names := make([]string, len(typesTable))
			for i, c := range typesTable {
				names[i] = c.name
			}
			for r := range typesRows {
				vals := make([]string, len(typesTable))
				for i, c := range typesTable {
					vals[i] = c.values[r]
				}
				mustExec(ctx, t, e.src, fmt.Sprintf("INSERT INTO %s (id, %s) VALUES (%d, %s)", src, strings.Join(names, ", "), r+1, strings.Join(vals, ", ")))
			}
			mustExec(ctx, t, e.src, fmt.Sprintf("INSERT INTO %s (id) VALUES (%d)", src, typesRows+1))
			// Row 10 goes through an update of every column, row 11 is
			// deleted: both row images are carried.
			mustExec(ctx, t, e.src, fmt.Sprintf("INSERT INTO %s SELECT 10, %s FROM %s WHERE id = 2", src, strings.Join(names, ", "), src))
			mustExec(ctx, t, e.src, fmt.Sprintf("INSERT INTO %s SELECT 11, %s FROM %s WHERE id = 3", src, strings.Join(names, ", "), src))
			sets := make([]string, len(typesTable))
			for i, c := range typesTable {
				sets[i] = fmt.Sprintf("%s = (SELECT %s FROM (SELECT * FROM %s WHERE id = 1) AS r1)", c.name, c.name, src)
			}
			mustExec(ctx, t, e.src, fmt.Sprintf("UPDATE %s SET %s WHERE id = 10", src, strings.Join(sets, ", ")))
			mustExec(ctx, t, e.src, fmt.Sprintf("DELETE FROM %s WHERE id = 11", src))

			var diff string
			for {
				if diff = rowsDiff(ctx, t, e.src, e.dst, src, dst); diff == "" {
					return
				}
				select {
				case <-ctx.Done():
					t.Fatalf("the destination differs from the source:\n%s", diff)
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}
}
