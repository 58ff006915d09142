package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// describe writes a table as "name type[ unsigned][ /collation][ (labels)], ... pk(a,b) coll N",
// the form the tests compare.
func describe(t *Table) string {
	var cols []string
	for _, c := range t.Columns {
		s := c.Name + " " + c.Type
		if c.Unsigned {
			s += " unsigned"
		}
		if c.Collation != 0 {
			s += fmt.Sprintf(" /%d", c.Collation)
		}
		if c.Labels != nil {
			s += " (" + strings.Join(c.Labels, "|") + ")"
		}
		cols = append(cols, s)
	}
	return fmt.Sprintf("%s; pk(%s) coll %d", strings.Join(cols, ", "), strings.Join(t.PK, ","), t.Collation)
}

// describeKeys writes what decides a table's key: the NOT NULL columns, the
// UNIQUE keys (sorted), and the key PKIndexes picks.
func describeKeys(t *Table) string {
	var notNull, unique, key []string
	for _, c := range t.Columns {
		if c.NotNull {
			notNull = append(notNull, c.Name)
		}
	}
	for _, k := range t.Unique {
		s := k.Name + "(" + strings.Join(k.Columns, ",") + ")"
		if k.Partial {
			s += " partial"
		}
		unique = append(unique, s)
	}
	slices.Sort(unique) // the server keeps them in an order of its own
	for _, i := range t.PKIndexes() {
		key = append(key, t.Columns[i].Name)
	}
	return fmt.Sprintf("not null(%s) unique[%s] key(%s)", strings.Join(notNull, ","), strings.Join(unique, " "), strings.Join(key, ","))
}

// at is the position of the n-th statement of a test.
func at(n int) Pos { return Pos{File: "mariadb-bin.000001", Pos: uint32(1000 + 100*n)} }

// applyAll applies statements run in database "db", one position apart,
// failing the test on any error.
func applyAll(t *testing.T, h *History, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := h.Apply(DDL{Pos: next(h), Schema: "db", Query: q}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func next(h *History) Pos {
	p := h.Applied()
	if p.IsZero() {
		return at(1)
	}
	p.Pos += 100
	return p
}

func lookup(t *testing.T, h *History, schema, table string) string {
	t.Helper()
	def, err := h.Lookup(schema, table)
	if err != nil {
		return "error: " + err.Error()
	}
	if def.Schema != schema || def.Name != table {
		t.Errorf("the definition of %s.%s calls itself %s.%s", schema, table, def.Schema, def.Name)
	}
	return describe(def)
}

func TestApplyFollowsDDL(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		table string // schema.table to look up
		want  string
	}{
		{
			name: "CREATE TABLE takes types, signedness, labels, collations and an inline primary key",
			stmts: []string{`CREATE TABLE t (
				id INT UNSIGNED PRIMARY KEY, s TINYINT, big BIGINT UNSIGNED ZEROFILL, d DECIMAL(5,2) UNSIGNED, f FLOAT,
				v VARCHAR(10), l CHAR(3) CHARACTER SET latin1, lb VARCHAR(3) CHARACTER SET latin1 COLLATE latin1_bin,
				vb VARCHAR(5) BINARY, u TEXT COLLATE utf8mb4_unicode_ci, b VARBINARY(4), bl BLOB, bi BINARY(2),
				cb VARCHAR(3) CHARACTER SET binary, e ENUM('a','it''s',' sp '), st SET('x','y') CHARSET latin1,
				j JSON, dt DATETIME(6), y YEAR, bit1 BIT(1), bo BOOL)`},
			table: "db.t",
			want: "id int unsigned, s tinyint, big bigint unsigned, d decimal unsigned, f float, " +
				"v varchar /45, l char /8, lb varchar /47, vb varchar /46, u text /224, b varbinary /63, bl blob /63, bi binary /63, " +
				"cb varbinary /63, e enum /45 (a|it's| sp), st set /8 (x|y), " +
				"j longtext /46, dt datetime, y year, bit1 bit, bo tinyint; pk(id) coll 45",
		},
		{
			name:  "MariaDB's PERSISTENT and INVISIBLE columns are columns",
			stmts: []string{"CREATE TABLE t (a INT, s INT AS (a * 2) PERSISTENT, h INT INVISIBLE)", "ALTER TABLE t ADD COLUMN v VARCHAR(3) INVISIBLE"},
			table: "db.t",
			want:  "a int, s int, h int, v varchar /45; pk() coll 45",
		},
		{
			name:  "MySQL's invisible indexes change no column",
			stmts: []string{"CREATE TABLE t (a INT, b INT, INDEX i (a) INVISIBLE)", "ALTER TABLE t ALTER INDEX i VISIBLE, ALTER INDEX i INVISIBLE"},
			table: "db.t",
			want:  "a int, b int; pk() coll 45",
		},
		{
			name:  "CREATE SEQUENCE defines a table of the sequence's columns",
			stmts: []string{"CREATE SEQUENCE s START WITH 10 INCREMENT BY 2 NOCACHE"},
			table: "db.s",
			want: "next_not_cached_value bigint, minimum_value bigint, maximum_value bigint, start_value bigint, increment bigint, " +
				"cache_size bigint unsigned, cycle_option tinyint unsigned, cycle_count bigint; pk() coll 45",
		},
		{
			name:  "CREATE SEQUENCE IF NOT EXISTS keeps a table of that name",
			stmts: []string{"CREATE TABLE s (a INT)", "CREATE SEQUENCE IF NOT EXISTS s"},
			table: "db.s",
			want:  "a int; pk() coll 45",
		},
		{
			name:  "DROP SEQUENCE drops it",
			stmts: []string{"CREATE SEQUENCE s", "DROP SEQUENCE IF EXISTS s"},
			table: "db.s",
			want:  "error: the schema history has table db.s dropped at mariadb-bin.000001:1200",
		},
		{
			name:  "CREATE TABLE takes a composite PRIMARY KEY constraint and the table's charset",
			stmts: []string{"CREATE TABLE t (a INT, b VARCHAR(3), c TEXT, CONSTRAINT pk PRIMARY KEY (b, a), UNIQUE KEY (c(3))) DEFAULT CHARSET=latin1"},
			table: "db.t",
			want:  "a int, b varchar /8, c text /8; pk(b,a) coll 8",
		},
		{
			name:  "a table COLLATE wins over its CHARSET",
			stmts: []string{"CREATE TABLE t (a VARCHAR(3)) CHARSET latin1 COLLATE latin1_general_ci"},
			table: "db.t",
			want:  "a varchar /48; pk() coll 48",
		},
		{
			name:  "a table without a charset takes its database's",
			stmts: []string{"CREATE DATABASE l1 CHARACTER SET latin1", "CREATE TABLE l1.t (a VARCHAR(3), b ENUM('x'))"},
			table: "l1.t",
			want:  "a varchar /8, b enum /8 (x); pk() coll 8",
		},
		{
			name:  "ALTER DATABASE changes the default of later tables",
			stmts: []string{"CREATE DATABASE l2", "ALTER DATABASE l2 COLLATE utf8mb4_bin", "CREATE TABLE l2.t (a VARCHAR(3))"},
			table: "l2.t",
			want:  "a varchar /46; pk() coll 46",
		},
		{
			name:  "unqualified names use the statement's default database",
			stmts: []string{"CREATE TABLE t (a INT)", "CREATE TABLE other.t (b INT)"},
			table: "db.t",
			want:  "a int; pk() coll 45",
		},
		{
			name:  "CREATE TABLE LIKE copies the definition",
			stmts: []string{"CREATE TABLE src (id INT PRIMARY KEY, e ENUM('a','b'))", "CREATE TABLE dst LIKE src"},
			table: "db.dst",
			want:  "id int, e enum /45 (a|b); pk(id) coll 45",
		},
		{
			name:  "CREATE TABLE IF NOT EXISTS keeps an existing table",
			stmts: []string{"CREATE TABLE t (a INT)", "CREATE TABLE IF NOT EXISTS t (b INT)"},
			table: "db.t",
			want:  "a int; pk() coll 45",
		},
		{
			name:  "CREATE OR REPLACE TABLE replaces",
			stmts: []string{"CREATE TABLE t (a INT)", "CREATE OR REPLACE TABLE t (b INT)"},
			table: "db.t",
			want:  "b int; pk() coll 45",
		},
		{
			name:  "ADD COLUMN goes last, FIRST or AFTER a column, several at once",
			stmts: []string{"CREATE TABLE t (a INT)", "ALTER TABLE t ADD COLUMN b INT, ADD c INT FIRST, ADD COLUMN d INT AFTER c, ADD (e INT, f INT)"},
			table: "db.t",
			want:  "c int, d int, a int, b int, e int, f int; pk() coll 45",
		},
		{
			name:  "DROP COLUMN also leaves the primary key",
			stmts: []string{"CREATE TABLE t (a INT, b INT, c INT, PRIMARY KEY (a, b))", "ALTER TABLE t DROP COLUMN b, DROP c"},
			table: "db.t",
			want:  "a int; pk(a) coll 45",
		},
		{
			name:  "CHANGE renames, retypes and moves, and the primary key follows",
			stmts: []string{"CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR(3), c INT)", "ALTER TABLE t CHANGE a id BIGINT UNSIGNED, CHANGE COLUMN b name VARCHAR(9) CHARACTER SET latin1 AFTER c"},
			table: "db.t",
			want:  "id bigint unsigned, c int, name varchar /8; pk(id) coll 45",
		},
		{
			name:  "MODIFY changes a type in place or moves it",
			stmts: []string{"CREATE TABLE t (a INT, b INT, c INT)", "ALTER TABLE t MODIFY b ENUM('x','y') NOT NULL, MODIFY COLUMN a TEXT AFTER c"},
			table: "db.t",
			want:  "b enum /45 (x|y), c int, a text /45; pk() coll 45",
		},
		{
			name:  "RENAME COLUMN keeps the type and the key",
			stmts: []string{"CREATE TABLE t (a INT UNSIGNED PRIMARY KEY)", "ALTER TABLE t RENAME COLUMN a TO b"},
			table: "db.t",
			want:  "b int unsigned; pk(b) coll 45",
		},
		{
			name:  "DROP and ADD PRIMARY KEY",
			stmts: []string{"CREATE TABLE t (a INT PRIMARY KEY, b INT)", "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (b, a)"},
			table: "db.t",
			want:  "a int, b int; pk(b,a) coll 45",
		},
		{
			name:  "DROP INDEX `PRIMARY` drops the key",
			stmts: []string{"CREATE TABLE t (a INT PRIMARY KEY)", "DROP INDEX `PRIMARY` ON t"},
			table: "db.t",
			want:  "a int; pk() coll 45",
		},
		{
			name:  "a PRIMARY KEY constraint added by ALTER",
			stmts: []string{"CREATE TABLE t (a INT)", "ALTER TABLE t ADD CONSTRAINT PRIMARY KEY (a)"},
			table: "db.t",
			want:  "a int; pk(a) coll 45",
		},
		{
			name:  "ALTER TABLE RENAME TO moves the table to another database",
			stmts: []string{"CREATE TABLE t (a INT)", "ALTER TABLE t ADD b INT, RENAME TO other.u"},
			table: "other.u",
			want:  "a int, b int; pk() coll 45",
		},
		{
			name:  "the old name of a renamed table is gone",
			stmts: []string{"CREATE TABLE t (a INT)", "ALTER TABLE t RENAME u"},
			table: "db.t",
			want:  "error: the schema history has table db.t dropped at mariadb-bin.000001:1200",
		},
		{
			name:  "CONVERT TO CHARACTER SET converts character columns, not binary ones",
			stmts: []string{"CREATE TABLE t (a VARCHAR(3), b TEXT, c VARBINARY(3), d ENUM('x'), e INT)", "ALTER TABLE t CONVERT TO CHARACTER SET latin1"},
			table: "db.t",
			want:  "a varchar /8, b text /8, c varbinary /63, d enum /8 (x), e int; pk() coll 8",
		},
		{
			name:  "CONVERT TO with a COLLATE",
			stmts: []string{"CREATE TABLE t (a VARCHAR(3))", "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"},
			table: "db.t",
			want:  "a varchar /46; pk() coll 46",
		},
		{
			name:  "a table's DEFAULT CHARSET changes only later columns",
			stmts: []string{"CREATE TABLE t (a VARCHAR(3))", "ALTER TABLE t DEFAULT CHARSET latin1", "ALTER TABLE t ADD b VARCHAR(3)"},
			table: "db.t",
			want:  "a varchar /45, b varchar /8; pk() coll 8",
		},
		{
			name:  "RENAME TABLE with several pairs applies them in order",
			stmts: []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)", "RENAME TABLE a TO tmp, b TO a, tmp TO b"},
			table: "db.a",
			want:  "y int; pk() coll 45",
		},
		{
			name:  "DROP TABLE",
			stmts: []string{"CREATE TABLE t (a INT)", "DROP TABLE IF EXISTS t, nothing /* generated by server */"},
			table: "db.t",
			want:  "error: the schema history has table db.t dropped at mariadb-bin.000001:1200",
		},
		{
			name:  "DROP DATABASE drops its tables",
			stmts: []string{"CREATE DATABASE x", "CREATE TABLE x.t (a INT)", "DROP DATABASE x"},
			table: "x.t",
			want:  "error: the schema history has table x.t dropped at mariadb-bin.000001:1300",
		},
		{
			name:  "system databases are not tracked",
			stmts: []string{"CREATE TABLE mysql.t (a INT)"},
			table: "mysql.t",
			want:  "error: the schema history does not know table mysql.t (it was not there at mariadb-bin.000001:1100 and no CREATE TABLE for it was read since)",
		},
		{
			name:  "temporary tables are not tracked",
			stmts: []string{"CREATE TEMPORARY TABLE t (a INT)"},
			table: "db.t",
			want:  "error: the schema history does not know table db.t (it was not there at mariadb-bin.000001:1100 and no CREATE TABLE for it was read since)",
		},
		{
			name:  "statements that change no column leave the table alone",
			stmts: []string{"CREATE TABLE t (a INT)", "CREATE INDEX i ON t (a)", "TRUNCATE t", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1, ADD INDEX (a), ENGINE=InnoDB", "CREATE VIEW v AS SELECT 1", "ALTER ONLINE TABLE t ADD b INT"},
			table: "db.t",
			want:  "a int, b int; pk() coll 45",
		},
		{
			name:  "ADD COLUMN IF NOT EXISTS and DROP COLUMN IF EXISTS",
			stmts: []string{"CREATE TABLE t (a INT)", "ALTER TABLE t ADD COLUMN IF NOT EXISTS a TEXT, DROP COLUMN IF EXISTS zz"},
			table: "db.t",
			want:  "a int; pk() coll 45",
		},
		{
			name:  "column names compare without case, as the server does",
			stmts: []string{"CREATE TABLE t (Name INT PRIMARY KEY)", "ALTER TABLE t MODIFY NAME BIGINT"},
			table: "db.t",
			want:  "NAME bigint; pk(NAME) coll 45",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{}, Pos{})
			applyAll(t, h, tt.stmts...)
			schema, table, _ := strings.Cut(tt.table, ".")
			if got := lookup(t, h, schema, table); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestApplyReadsTheSessionsSQLModeAndServerCollation(t *testing.T) {
	h := New(Options{}, Pos{})
	if _, err := h.Apply(DDL{Pos: at(1), Schema: "db", Query: `CREATE TABLE "q" ("a b" INT)`, SQLMode: sqlModeANSIQuotes}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, h, "db", "q"); got != "a b int; pk() coll 45" {
		t.Errorf("ANSI_QUOTES: got %s", got)
	}
	if _, err := h.Apply(DDL{Pos: at(2), Schema: "db", Query: `CREATE DATABASE l`, ServerCollation: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Apply(DDL{Pos: at(3), Schema: "l", Query: `CREATE TABLE t (a CHAR(1))`}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, h, "l", "t"); got != "a char /8; pk() coll 8" {
		t.Errorf("collation_server latin1: got %s", got)
	}
}

func TestApplyIgnoresStatementsAtOrBeforeWhatItApplied(t *testing.T) {
	h := New(Options{}, at(5))
	if changed, err := h.Apply(DDL{Pos: at(5), Schema: "db", Query: "CREATE TABLE t (a INT)"}); changed || err != nil {
		t.Fatalf("a statement at the load position: changed %v, %v", changed, err)
	}
	if changed, err := h.Apply(DDL{Pos: at(6), Schema: "db", Query: "CREATE TABLE t (a INT)"}); !changed || err != nil {
		t.Fatalf("a later statement: changed %v, %v", changed, err)
	}
	if changed, _ := h.Apply(DDL{Pos: at(6), Schema: "db", Query: "ALTER TABLE t ADD b INT"}); changed {
		t.Fatal("a statement read again after a reconnect was applied twice")
	}
	if got := lookup(t, h, "db", "t"); got != "a int; pk() coll 45" {
		t.Errorf("got %s", got)
	}
}

func TestApplyReportsWhatItCannotFollow(t *testing.T) {
	tests := []struct {
		name   string
		setup  []string
		stmt   string
		parse  bool
		tables string // the ApplyError's tables
		lost   string // the table that must now be lost
		// versioned marks db.t system-versioned after the setup, as a
		// snapshot does.
		versioned bool
	}{
		{name: "an unparsable statement", stmt: "ALTER TABLE t ADD COLUMN x POINT", parse: true},
		{name: "ALTER of an unknown table", stmt: "ALTER TABLE nowhere ADD x INT", tables: "db.nowhere", lost: "db.nowhere"},
		{name: "ADD of an existing column", setup: []string{"CREATE TABLE t (a INT)"}, stmt: "ALTER TABLE t ADD a INT", tables: "db.t", lost: "db.t"},
		{name: "DROP of a missing column", setup: []string{"CREATE TABLE t (a INT)"}, stmt: "ALTER TABLE t DROP b", tables: "db.t", lost: "db.t"},
		{name: "AFTER a missing column", setup: []string{"CREATE TABLE t (a INT)"}, stmt: "ALTER TABLE t ADD b INT AFTER zz", tables: "db.t", lost: "db.t"},
		{name: "RENAME of an unknown table", stmt: "RENAME TABLE nowhere TO t", tables: "db.t", lost: "db.t"},
		{name: "a rename carries the loss along", setup: []string{"CREATE TABLE t (a INT)"}, stmt: "ALTER TABLE t DROP b, RENAME TO u", tables: "db.t", lost: "db.t"},
		{name: "ALTER of a system-versioned table", setup: []string{"CREATE TABLE t (a INT)"}, versioned: true, stmt: "ALTER TABLE t ADD b INT", tables: "db.t", lost: "db.t"},
		{name: "an index of a system-versioned table", setup: []string{"CREATE TABLE t (a INT)"}, versioned: true, stmt: "CREATE UNIQUE INDEX u ON t (a)", tables: "db.t", lost: "db.t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{}, Pos{})
			applyAll(t, h, tt.setup...)
			if tt.versioned {
				h.current(h.key("db", "t")).SystemVersioned = true
			}
			_, err := h.Apply(DDL{Pos: next(h), Schema: "db", Query: tt.stmt})
			var ae *ApplyError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *ApplyError", err)
			}
			if errors.Is(err, ErrParse) != tt.parse {
				t.Errorf("parse error: %v, want %v (%v)", errors.Is(err, ErrParse), tt.parse, err)
			}
			var names []string
			for _, n := range ae.Tables {
				names = append(names, n.String())
			}
			if got := strings.Join(names, ","); got != tt.tables {
				t.Errorf("tables %q, want %q", got, tt.tables)
			}
			if ae.Pos != h.Applied() || ae.Query != tt.stmt {
				t.Errorf("the error is at %s for %q", ae.Pos, ae.Query)
			}
			if tt.lost != "" {
				schema, table, _ := strings.Cut(tt.lost, ".")
				if got := lookup(t, h, schema, table); !strings.Contains(got, "lost track of table "+tt.lost) || !strings.Contains(got, tt.stmt) {
					t.Errorf("lookup of %s: %s", tt.lost, got)
				}
			}
		})
	}
}

func TestApplyOfALostTableRenamedLosesTheNewName(t *testing.T) {
	h := New(Options{}, Pos{})
	applyAll(t, h, "CREATE TABLE t (a INT)")
	if _, err := h.Apply(DDL{Pos: next(h), Schema: "db", Query: "ALTER TABLE t DROP nothing"}); err == nil {
		t.Fatal("no error")
	}
	_, err := h.Apply(DDL{Pos: next(h), Schema: "db", Query: "RENAME TABLE t TO u"})
	var ae *ApplyError
	if !errors.As(err, &ae) || len(ae.Tables) != 1 || ae.Tables[0] != (TableName{"db", "u"}) {
		t.Fatalf("got %v", err)
	}
	if got := lookup(t, h, "db", "u"); !strings.Contains(got, "lost track of table db.u") {
		t.Errorf("got %s", got)
	}
}

// TestApplyOfALostTableKnowsItStillExists: a lost table is on the server,
// so CREATE TABLE IF NOT EXISTS does nothing to it (its definition is
// never guessed) and DROP TABLE drops it.
func TestApplyOfALostTableKnowsItStillExists(t *testing.T) {
	h := New(Options{}, Pos{})
	applyAll(t, h, "CREATE TABLE t (a INT)")
	if _, err := h.Apply(DDL{Pos: next(h), Schema: "db", Query: "ALTER TABLE t DROP nothing"}); err == nil {
		t.Fatal("no error")
	}
	applyAll(t, h, "CREATE TABLE IF NOT EXISTS t (z TEXT)")
	if got := lookup(t, h, "db", "t"); !strings.Contains(got, "lost track of table db.t") {
		t.Errorf("after CREATE TABLE IF NOT EXISTS: %s", got)
	}
	applyAll(t, h, "DROP TABLE t")
	if got := lookup(t, h, "db", "t"); strings.Contains(got, "lost track") || !strings.HasPrefix(got, "error: ") {
		t.Errorf("after DROP TABLE: %s", got)
	}
}

func TestApplyKnowsTheServersCollations(t *testing.T) {
	c := BuiltinCollations()
	c.add("cp1251_general_ci", "cp1251", 51, true)
	c.maxLen["cp1251"] = 1
	c.add("utf8mb4_uca1400_ai_ci", "utf8mb4", 2304, false)
	h := New(Options{Collations: c}, Pos{})
	applyAll(t, h, "CREATE TABLE t (a VARCHAR(3) CHARACTER SET cp1251, b TEXT COLLATE utf8mb4_uca1400_ai_ci, c CHAR(2) CHARACTER SET utf8 COLLATE utf8_bin)")
	if got := lookup(t, h, "db", "t"); got != "a varchar /51, b text /2304, c char /83; pk() coll 45" {
		t.Errorf("got %s", got)
	}
}

func TestApplyFoldsTableNamesWhenTheServerDoes(t *testing.T) {
	h := New(Options{FoldNames: true}, Pos{})
	applyAll(t, h, "CREATE TABLE Db.Orders (a INT)", "ALTER TABLE db.ORDERS ADD b INT")
	def, err := h.Lookup("db", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(def); got != "a int, b int; pk() coll 45" {
		t.Errorf("got %s", got)
	}
}

func TestApplyTracksTheUniqueKeyThatStandsInForAPrimaryKey(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		want  string
	}{
		{
			name:  "the first UNIQUE key over NOT NULL columns is the key",
			stmts: []string{"CREATE TABLE t (a INT, b INT NOT NULL, c INT NOT NULL, UNIQUE KEY ua (a), UNIQUE (c, b), UNIQUE KEY ub (b))"},
			want:  "not null(b,c) unique[c(c,b) ua(a) ub(b)] key(c,b)",
		},
		{
			name:  "a PRIMARY KEY wins and makes its columns NOT NULL",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL UNIQUE, b INT, PRIMARY KEY (b))"},
			want:  "not null(a,b) unique[a(a)] key(b)",
		},
		{
			name:  "a prefix key never stands in",
			stmts: []string{"CREATE TABLE t (a VARCHAR(20) NOT NULL, b INT NOT NULL, UNIQUE KEY (a(5)), UNIQUE KEY (b))"},
			want:  "not null(a,b) unique[a(a) partial b(b)] key(b)",
		},
		{
			name:  "unnamed keys are named after their first column, numbered when taken",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL, b INT, UNIQUE (a), UNIQUE (a, b))"},
			want:  "not null(a) unique[a(a) a_2(a,b)] key(a)",
		},
		{
			name:  "dropping the primary key lets a unique key stand in",
			stmts: []string{"CREATE TABLE t (id INT PRIMARY KEY, code INT NOT NULL UNIQUE)", "ALTER TABLE t DROP PRIMARY KEY"},
			want:  "not null(id,code) unique[code(code)] key(code)",
		},
		{
			name:  "MODIFY to NULL takes a key's standing away",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL, UNIQUE KEY u (a))", "ALTER TABLE t MODIFY a INT NULL"},
			want:  "not null() unique[u(a)] key()",
		},
		{
			name:  "CREATE UNIQUE INDEX, RENAME INDEX, DROP INDEX",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL, b INT NOT NULL)", "CREATE UNIQUE INDEX ia ON t (a)", "ALTER TABLE t ADD UNIQUE KEY ib (b), RENAME INDEX ia TO ja", "DROP INDEX ja ON t"},
			want:  "not null(a,b) unique[ib(b)] key(b)",
		},
		{
			name:  "renamed and dropped columns leave their keys",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, UNIQUE KEY u (a, b), UNIQUE KEY v (b))", "ALTER TABLE t RENAME COLUMN a TO x, DROP COLUMN b"},
			want:  "not null(x) unique[u(x)] key(x)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{}, Pos{})
			applyAll(t, h, tt.stmts...)
			def, err := h.Lookup("db", "t")
			if err != nil {
				t.Fatal(err)
			}
			if got := describeKeys(def); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestWrittenTablesReadsCollationsTheParserWasTaught: statement-written
// row changes may name the server's own collations; WrittenTables parses
// them once the server's Collations taught the parser, History or not.
func TestWrittenTablesReadsCollationsTheParserWasTaught(t *testing.T) {
	q := "INSERT INTO t SELECT 1 FROM DUAL WHERE 'x' COLLATE utf8mb4_moontide_test_ci = 'x'"
	if _, _, err := WrittenTables(q, "d", 0); err == nil {
		t.Fatal("a collation the parser was never taught parsed")
	}
	c := BuiltinCollations()
	c.add("utf8mb4_moontide_test_ci", "utf8mb4", 4000, false)
	c.TeachParser()
	if got, _, err := WrittenTables(q, "d", 0); err != nil || !slices.Equal(got, []TableName{{"d", "t"}}) {
		t.Errorf("after TeachParser: %v, %v", got, err)
	}
}

func TestWrittenTablesNamesWhatAStatementMayChange(t *testing.T) {
	tests := []struct {
		q    string
		want []TableName
		ok   bool
	}{
		{"INSERT INTO t VALUES (1)", []TableName{{"d", "t"}}, true},
		{"REPLACE INTO o.t SELECT * FROM other", []TableName{{"o", "t"}}, true},
		{"UPDATE t JOIN o.u ON t.id = u.id SET t.n = 1", []TableName{{"d", "t"}, {"o", "u"}}, true},
		{"DELETE FROM `t` WHERE id = 1", []TableName{{"d", "t"}}, true},
		{"DELETE a FROM o.t AS a JOIN u ON a.id = u.id", []TableName{{"o", "t"}, {"d", "u"}, {"d", "a"}}, true},
		{"WITH x AS (SELECT 1 AS id) UPDATE t SET n = 1 WHERE id IN (SELECT id FROM x)", []TableName{{"d", "t"}}, true},
		{"LOAD DATA LOCAL INFILE '/tmp/SQL_LOAD_MB-1-0' IGNORE INTO TABLE `o`.`t` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`id`)",
			[]TableName{{"o", "t"}}, true},
		{"ANALYZE TABLE t", nil, false},
	}
	for _, tt := range tests {
		got, ok, err := WrittenTables(tt.q, "d", 0)
		if err != nil {
			t.Errorf("%s: %v", tt.q, err)
			continue
		}
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("WrittenTables(%q) = %v, %v; want %v, %v", tt.q, got, ok, tt.want, tt.ok)
		}
	}
	if _, _, err := WrittenTables("INSERT INTO", "d", 0); err == nil {
		t.Error("a statement that does not parse gave no error")
	}
}

func TestMariadbSpellingsRewritesOnlyTheSpellings(t *testing.T) {
	for _, tt := range []struct{ q, want string }{
		{"CREATE TABLE t (a INT, s INT AS (a * 2) PERSISTENT, h INT INVISIBLE)", "CREATE TABLE t (a INT, s INT AS (a * 2) STORED, h INT )"},
		{"ALTER TABLE t ADD COLUMN v VARCHAR(3) NOT NULL DEFAULT 'x' invisible COMMENT 'c'", "ALTER TABLE t ADD COLUMN v VARCHAR(3) NOT NULL DEFAULT 'x'  COMMENT 'c'"},
		{"CREATE TABLE t (g INT GENERATED ALWAYS AS (1) persistent /* INVISIBLE */)", "CREATE TABLE t (g INT GENERATED ALWAYS AS (1) STORED /* INVISIBLE */)"},
		{"CREATE TABLE t (a INT /*!100300 INVISIBLE */)", "CREATE TABLE t (a INT /*!100300  */)"},
		{"/* by a tool */ CREATE OR REPLACE TABLE t (a INT); create or replace sequence s", "/* by a tool */ CREATE  TABLE t (a INT); create  sequence s"},
		{"ALTER ONLINE TABLE t ADD b INT", "ALTER  TABLE t ADD b INT"},
		{"CREATE TABLE `or` (replace INT)", ""},
		// Names, not attributes.
		{"CREATE TABLE invisible (invisible INT, persistent INT, KEY k (invisible), c INT COMMENT 'INVISIBLE')", ""},
		{"ALTER TABLE db.invisible ADD COLUMN invisible INT AFTER persistent, RENAME COLUMN a TO invisible", ""},
		{"ALTER TABLE t CHANGE a invisible INT, CHANGE COLUMN IF EXISTS invisible b INT INVISIBLE", "ALTER TABLE t CHANGE a invisible INT, CHANGE COLUMN IF EXISTS invisible b INT "},
		{"CREATE TABLE t (a VARCHAR(9) DEFAULT 'it\\'s INVISIBLE', b INT) -- INVISIBLE", ""},
		{"ALTER TABLE t ALTER INDEX i INVISIBLE, ALTER INDEX `j` INVISIBLE", ""}, // MySQL's, which the parser reads
		// Types, and names of the same spelling.
		{"CREATE TABLE t (id INT, u UUID, uuid uuid NOT NULL DEFAULT UUID(), a Inet6, b INET4, KEY uuid (uuid), UNIQUE inet6 (a))",
			"CREATE TABLE t (id INT, u BINARY(16), uuid BINARY(16) NOT NULL DEFAULT UUID(), a BINARY(16), b BINARY(4), KEY uuid (uuid), UNIQUE inet6 (a))"},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS `x` UUID, MODIFY y INET6 INVISIBLE, CHANGE `a` `b` INET4, CHANGE COLUMN c d UUID, ADD INDEX uuid (y), ADD uuid INT",
			"ALTER TABLE t ADD COLUMN IF NOT EXISTS `x` BINARY(16), MODIFY y BINARY(16) , CHANGE `a` `b` BINARY(4), CHANGE COLUMN c d BINARY(16), ADD INDEX uuid (y), ADD uuid INT"},
		{"CREATE TABLE uuid (uuid INT, inet4 INT, CONSTRAINT inet6 CHECK (uuid > 0)) AS SELECT UUID() AS uuid", ""},
	} {
		want := tt.want
		if want == "" {
			want = tt.q
		}
		if got := mariadbSpellings(tt.q, 0); got != want {
			t.Errorf("mariadbSpellings(%q)\n got  %q\n want %q", tt.q, got, want)
		}
	}
	// Without backslash escapes, the backslash ends nothing: the quote after
	// it closes the literal, and INVISIBLE after it is the attribute.
	if got := mariadbSpellings(`CREATE TABLE t (a VARCHAR(9) DEFAULT '\' INVISIBLE)`, sqlModeNoBackslashEscapes); got != `CREATE TABLE t (a VARCHAR(9) DEFAULT '\' )` {
		t.Errorf("with NO_BACKSLASH_ESCAPES: %q", got)
	}
}
