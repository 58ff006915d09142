package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestPosCompareOrdersByFileNumberThenOffset(t *testing.T) {
	tests := []struct {
		a, b Pos
		want int
	}{
		{Pos{"mariadb-bin.000009", 900}, Pos{"mariadb-bin.000010", 4}, -1},
		{Pos{"mariadb-bin.000010", 4}, Pos{"mariadb-bin.000010", 4}, 0},
		{Pos{"mariadb-bin.000010", 500}, Pos{"mariadb-bin.000010", 40}, 1},
		{Pos{"mariadb-bin.999999", 4}, Pos{"mariadb-bin.1000000", 4}, -1},
		{Pos{}, Pos{"mariadb-bin.000001", 4}, -1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%s vs %s: %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Compare(tt.a); got != -tt.want {
			t.Errorf("%s vs %s: %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// history builds the history the load tests share: a snapshot at 1000 of
// db.keep (a) and db.gone (x), then
//
//	1100 ALTER TABLE keep ADD b
//	1200 CREATE TABLE born (n)
//	1300 DROP TABLE gone
//	1400 ALTER TABLE keep ADD c
//	1500 CREATE DATABASE late CHARACTER SET latin1
func history(t *testing.T) *History {
	t.Helper()
	h := New(Options{}, at(0))
	h.tables[h.key("db", "keep")] = []tableVersion{{Pos: at(0), Def: &Table{Schema: "db", Name: "keep", Columns: []Column{{Name: "a", Type: "int"}}, Collation: 45}, Snapshot: true}}
	h.tables[h.key("db", "gone")] = []tableVersion{{Pos: at(0), Def: &Table{Schema: "db", Name: "gone", Columns: []Column{{Name: "x", Type: "int"}}, Collation: 45}, Snapshot: true}}
	h.dbs["db"] = []dbVersion{{Pos: at(0), Collation: 45, Snapshot: true}}
	applyAll(t, h,
		"ALTER TABLE keep ADD b INT",
		"CREATE TABLE born (n INT)",
		"DROP TABLE gone",
		"ALTER TABLE keep ADD c INT",
		"CREATE DATABASE late CHARACTER SET latin1",
	)
	return h
}

func TestUnmarshalRewindsToThePosition(t *testing.T) {
	data, err := history(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   Pos
		want map[string]string // schema.table → describe or error prefix
		late bool              // database "late" known
	}{
		{
			name: "at the snapshot",
			at:   at(0),
			want: map[string]string{"db.keep": "a int; pk() coll 45", "db.gone": "x int; pk() coll 45", "db.born": "error: the schema history does not know"},
		},
		{
			name: "between two ALTERs: the first is in force, the second is not",
			at:   Pos{File: at(2).File, Pos: at(2).Pos + 50},
			want: map[string]string{"db.keep": "a int, b int; pk() coll 45", "db.born": "n int; pk() coll 45", "db.gone": "x int; pk() coll 45"},
		},
		{
			name: "exactly at a DROP: it is in force",
			at:   at(3),
			want: map[string]string{"db.gone": "error: the schema history does not know", "db.keep": "a int, b int; pk() coll 45"},
		},
		{
			name: "after everything",
			at:   Pos{File: "mariadb-bin.000002", Pos: 4},
			want: map[string]string{"db.keep": "a int, b int, c int; pk() coll 45", "db.born": "n int; pk() coll 45"},
			late: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, warning, err := Unmarshal(data, Options{}, tt.at)
			if err != nil || warning != nil {
				t.Fatalf("Unmarshal: %v, warning %v", err, warning)
			}
			if h.Applied() != tt.at {
				t.Errorf("Applied %s, want %s", h.Applied(), tt.at)
			}
			for name, want := range tt.want {
				schema, table, _ := strings.Cut(name, ".")
				if got := lookup(t, h, schema, table); !strings.HasPrefix(got, want) {
					t.Errorf("%s: got %s, want %s", name, got, want)
				}
			}
			if _, ok := h.dbs["late"]; ok != tt.late {
				t.Errorf("database late known: %v, want %v", ok, tt.late)
			}
			// Statements after the position are read again and apply.
			if _, err := h.Apply(DDL{Pos: Pos{File: "mariadb-bin.000003", Pos: 4}, Schema: "db", Query: "CREATE TABLE again (z INT)"}); err != nil {
				t.Fatal(err)
			}
			if got := lookup(t, h, "db", "again"); got != "z int; pk() coll 45" {
				t.Errorf("after a replayed CREATE: %s", got)
			}
		})
	}
}

func TestUnmarshalBeforeTheSnapshotUsesItAndWarns(t *testing.T) {
	data, err := history(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	early := Pos{File: "mariadb-bin.000001", Pos: 4}
	h, warning, err := Unmarshal(data, Options{}, early)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(warning, ErrBeforeHistory) || !strings.Contains(warning.Error(), "mariadb-bin.000001:1000") {
		t.Errorf("warning %v", warning)
	}
	if got := lookup(t, h, "db", "keep"); got != "a int; pk() coll 45" {
		t.Errorf("keep: %s", got)
	}
	// The snapshot now stands at the start, so the DDL after it applies on top.
	if _, err := h.Apply(DDL{Pos: at(1), Schema: "db", Query: "ALTER TABLE keep ADD b INT"}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, h, "db", "keep"); got != "a int, b int; pk() coll 45" {
		t.Errorf("keep after replay: %s", got)
	}
}

func TestMarshalRoundTripsEveryVersion(t *testing.T) {
	h := history(t)
	data, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := Unmarshal(data, Options{}, h.Applied())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range h.Tables() {
		schema, table, _ := strings.Cut(name, ".")
		if a, b := lookup(t, h, schema, table), lookup(t, again, schema, table); a != b {
			t.Errorf("%s: %s became %s", name, a, b)
		}
	}
	if got := strings.Join(again.Tables(), " "); got != "db.born db.keep" {
		t.Errorf("tables %s", got)
	}
	if again.Saved() != h.Applied() {
		t.Errorf("Saved %s, want the position applied at Marshal, %s", again.Saved(), h.Applied())
	}
	// Every version is in the JSON, also those a load rewinds away.
	for _, want := range []string{`"pos":1100`, `"pos":1400`, `"name":"gone"`, `"snapshot":true`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the JSON lacks %s: %s", want, data)
		}
	}
}

func TestUnmarshalRejectsDamagedHistories(t *testing.T) {
	for name, data := range map[string]string{
		"not JSON":         `{"format":1,"tab`,
		"an unknown field": `{"format":1,"through":{"file":"f.000001","pos":4},"databases":[],"tables":[],"extra":1}`,
		"another format":   `{"format":2,"databases":[],"tables":[]}`,
	} {
		if _, _, err := Unmarshal([]byte(data), Options{}, at(1)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLookupSaysWhyThereIsNoDefinition(t *testing.T) {
	h := history(t)
	for table, want := range map[string]string{
		"gone":    "has table db.gone dropped at mariadb-bin.000001:1300",
		"nothing": "does not know table db.nothing",
	} {
		if _, err := h.Lookup("db", table); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", table, err, want)
		}
	}
}

func TestCollationsResolveAliasesAndServerDefaults(t *testing.T) {
	c := BuiltinCollations()
	for name, want := range map[string]uint64{"utf8_general_ci": 33, "UTF8MB3_BIN": 83, "latin1_swedish_ci": 8, "binary": 63} {
		if got, ok := c.ID(name); !ok || got != want {
			t.Errorf("ID(%s) = %d, %v; want %d", name, got, ok, want)
		}
	}
	if id, _ := c.Default("utf8"); id != 33 {
		t.Errorf("utf8's default %d, want 33", id)
	}
	c.add("utf8mb4_uca1400_ai_ci", "utf8mb4", 2304, false)
	c.overrideDefaults("utf8mb4=uca1400_ai_ci, latin1=latin1_bin, bogus")
	if id, _ := c.Default("utf8mb4"); id != 2304 {
		t.Errorf("utf8mb4's default after character_set_collations: %d", id)
	}
	if id, _ := c.Default("latin1"); id != 47 {
		t.Errorf("latin1's default after character_set_collations: %d", id)
	}
}
