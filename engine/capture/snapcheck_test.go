package capture

import (
	"testing"

	"github.com/moontide/moontide/engine/schema"
)

func TestConflictInFindsChangesOfTablesThatExistedAtTheStart(t *testing.T) {
	f, err := NewFilter([]string{"shop.*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Capturer{filter: f}
	tests := []struct {
		name  string
		stmts []string // in binlog order, default schema shop
		want  string   // the table of the conflict, "" for none
	}{
		{"alter of a captured table", []string{"ALTER TABLE t ADD c INT"}, "shop.t"},
		{"created, then altered", []string{"CREATE TABLE t (id INT)", "ALTER TABLE t ADD c INT"}, ""},
		{"created or replaced", []string{"CREATE OR REPLACE TABLE t (id INT)", "ALTER TABLE t ADD c INT"}, ""},
		{"created if missing only", []string{"CREATE TABLE IF NOT EXISTS t (id INT)"}, ""},
		{"created if missing, then altered", []string{"CREATE TABLE IF NOT EXISTS t (id INT)", "ALTER TABLE t RENAME COLUMN a TO b"}, "shop.t"},
		{"created like another", []string{"CREATE TABLE t LIKE u"}, "shop.t"},
		{"created like another, in parentheses", []string{"CREATE TABLE shop.t (LIKE shop.u)"}, "shop.t"},
		{"altered, then created again", []string{"ALTER TABLE t ADD c INT", "CREATE TABLE t (id INT)"}, "shop.t"},
		{"dropped, then created again", []string{"DROP TABLE t", "CREATE TABLE t (id INT)"}, "shop.t"},
		{"truncated, then altered", []string{"TRUNCATE TABLE t", "ALTER TABLE t ADD c INT"}, "shop.t"},
		{"truncated only", []string{"TRUNCATE t"}, ""},
		{"an uncaptured table", []string{"ALTER TABLE other.t ADD c INT"}, ""},
		{"renamed into a captured name", []string{"RENAME TABLE other.t TO shop.t"}, "shop.t"},
		{"a captured database dropped", []string{"DROP DATABASE shop"}, "shop.*"},
		{"a database created", []string{"CREATE DATABASE shop2", "ALTER DATABASE shop CHARACTER SET utf8mb4"}, ""},
		{"created as a sequence, then altered", []string{"CREATE SEQUENCE t", "ALTER SEQUENCE t RESTART WITH 5"}, ""},
		{"a sequence created if missing, then dropped", []string{"CREATE SEQUENCE IF NOT EXISTS t", "DROP SEQUENCE t"}, "shop.t"},
		{"a view", []string{"CREATE VIEW v AS SELECT 1"}, ""},
		{"row changes", []string{"BEGIN", "COMMIT"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defined := map[string]bool{}
			var got *conflict
			for i, q := range tt.stmts {
				if got = c.conflictIn(q, "shop", schema.Pos{File: "b.000001", Pos: uint32(100 * (i + 1))}, defined); got != nil {
					break
				}
			}
			switch {
			case got == nil && tt.want != "":
				t.Errorf("no conflict, want one on %s", tt.want)
			case got != nil && got.table != tt.want:
				t.Errorf("conflict on %s (%q), want %q", got.table, got.query, tt.want)
			}
		})
	}
}
