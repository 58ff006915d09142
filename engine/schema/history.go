package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Options configure a History. The zero value suits MariaDB with its
// built-in collations.
type Options struct {
	// Flavor is "mysql" or "mariadb": on MariaDB JSON is an alias of
	// LONGTEXT with the utf8mb4_bin collation, on MySQL a type of its own.
	// The default is "mariadb".
	Flavor string
	// Collations are the server's (LoadCollations). The default is
	// BuiltinCollations.
	Collations *Collations
	// ServerCollation is the server's collation_server, which a CREATE
	// DATABASE without a charset takes when the statement does not say
	// (QUERY events carry the session's). The default is the default
	// collation of utf8mb4.
	ServerCollation uint64
	// FoldNames compares database and table names ignoring case, as a
	// server with lower_case_table_names 1 or 2 does.
	FoldNames bool
}

// tableVersion is a table's definition from Pos on. A nil Def means the
// table does not exist from Pos on, or (Lost set) that the History cannot
// say what it looks like.
type tableVersion struct {
	Pos Pos    `json:"pos"`
	Def *Table `json:"def,omitempty"`
	// Lost says why the History lost track of the table at Pos.
	Lost string `json:"lost,omitempty"`
	// Snapshot marks a version read from information_schema rather than
	// from a DDL statement.
	Snapshot bool `json:"snapshot,omitempty"`
}

// dbVersion is a database's default collation from Pos on; Dropped means
// the database does not exist from Pos on.
type dbVersion struct {
	Pos       Pos    `json:"pos"`
	Collation uint64 `json:"collation,omitempty"`
	Dropped   bool   `json:"dropped,omitempty"`
	Snapshot  bool   `json:"snapshot,omitempty"`
}

type name struct{ schema, table string }

// History is the table definitions of a server along its binlog. Build it
// with Snapshot or Unmarshal, follow the binlog with Apply, and look tables
// up with Lookup.
type History struct {
	opts   Options
	tables map[name][]tableVersion // versions in position order
	dbs    map[string][]dbVersion
	// applied is the position of the last statement applied (or the
	// position the History was loaded at): statements at or before it were
	// applied already and are ignored.
	applied Pos
	// saved is the position the History had applied when it was
	// marshalled, for a History read by Unmarshal.
	saved Pos
	// taught: opts.Collations were registered with the parser.
	taught bool
}

// New returns an empty History as of position at.
func New(opts Options, at Pos) *History {
	if opts.Flavor == "" {
		opts.Flavor = "mariadb"
	}
	if opts.Collations == nil {
		opts.Collations = BuiltinCollations()
	}
	if opts.ServerCollation == 0 {
		opts.ServerCollation, _ = opts.Collations.Default("utf8mb4")
	}
	return &History{opts: opts, tables: map[name][]tableVersion{}, dbs: map[string][]dbVersion{}, applied: at}
}

func (h *History) key(schema, table string) name {
	if h.opts.FoldNames {
		return name{strings.ToLower(schema), strings.ToLower(table)}
	}
	return name{schema, table}
}

func (h *History) dbKey(schema string) string {
	if h.opts.FoldNames {
		return strings.ToLower(schema)
	}
	return schema
}

// Applied is the position up to which the History is complete.
func (h *History) Applied() Pos { return h.applied }

// Saved is, for a History read by Unmarshal, the position the History had
// applied when it was marshalled: the last statement it saw. It is zero
// for a History built otherwise.
func (h *History) Saved() Pos { return h.saved }

// Lookup returns the current definition of schema.table. When there is
// none, the error says why: the table is unknown, was dropped, or the
// History lost track of it.
func (h *History) Lookup(schema, table string) (*Table, error) {
	vs := h.tables[h.key(schema, table)]
	if len(vs) == 0 {
		return nil, fmt.Errorf("the schema history does not know table %s.%s (it was not there at %s and no CREATE TABLE for it was read since)", schema, table, h.base())
	}
	v := vs[len(vs)-1]
	switch {
	case v.Lost != "":
		return nil, fmt.Errorf("the schema history lost track of table %s.%s at %s: %s", schema, table, v.Pos, v.Lost)
	case v.Def == nil:
		return nil, fmt.Errorf("the schema history has table %s.%s dropped at %s", schema, table, v.Pos)
	}
	return v.Def, nil
}

// base is the oldest position the History knows anything at.
func (h *History) base() Pos {
	var b Pos
	first := true
	for _, vs := range h.tables {
		if first || vs[0].Pos.Compare(b) < 0 {
			b, first = vs[0].Pos, false
		}
	}
	if first {
		return h.applied
	}
	return b
}

// Tables returns the names of the tables the History currently defines,
// sorted, as schema.table.
func (h *History) Tables() []string {
	var out []string
	for n, vs := range h.tables {
		if vs[len(vs)-1].Def != nil {
			out = append(out, n.schema+"."+n.table)
		}
	}
	slices.Sort(out)
	return out
}

func (h *History) current(n name) *Table {
	v, _ := h.last(n)
	return v.Def
}

// last returns the newest version of n; ok is false when there is none.
func (h *History) last(n name) (v tableVersion, ok bool) {
	vs := h.tables[n]
	if len(vs) == 0 {
		return tableVersion{}, false
	}
	return vs[len(vs)-1], true
}

// lost reports whether the History lost track of n.
func (h *History) lost(n name) bool {
	v, _ := h.last(n)
	return v.Lost != ""
}

// exists reports whether n exists as far as the History knows: defined,
// or lost (the server has it; the History cannot say how it looks).
func (h *History) exists(n name) bool {
	v, _ := h.last(n)
	return v.Def != nil || v.Lost != ""
}

func (h *History) put(n name, v tableVersion) {
	vs := h.tables[n]
	if len(vs) > 0 && vs[len(vs)-1].Pos == v.Pos {
		vs[len(vs)-1] = v // several changes by one statement
	} else {
		vs = append(vs, v)
	}
	h.tables[n] = vs
}

func (h *History) putDB(schema string, v dbVersion) {
	k := h.dbKey(schema)
	vs := h.dbs[k]
	if len(vs) > 0 && vs[len(vs)-1].Pos == v.Pos {
		vs[len(vs)-1] = v
	} else {
		vs = append(vs, v)
	}
	h.dbs[k] = vs
}

// dbCollation is the current default collation of database schema, or the
// server's when the History does not know the database.
func (h *History) dbCollation(schema string) uint64 {
	vs := h.dbs[h.dbKey(schema)]
	if len(vs) == 0 || vs[len(vs)-1].Dropped || vs[len(vs)-1].Collation == 0 {
		return h.opts.ServerCollation
	}
	return vs[len(vs)-1].Collation
}

// historyFile is the JSON form of a History.
type historyFile struct {
	Format int `json:"format"`
	// Through is the position of the last statement applied.
	Through   Pos          `json:"through"`
	Databases []dbEntry    `json:"databases"`
	Tables    []tableEntry `json:"tables"`
}

type dbEntry struct {
	Name     string      `json:"name"`
	Versions []dbVersion `json:"versions"`
}

type tableEntry struct {
	Schema   string         `json:"schema"`
	Name     string         `json:"name"`
	Versions []tableVersion `json:"versions"`
}

const historyFormat = 1

// Marshal returns the History as JSON, every version of every table.
func (h *History) Marshal() ([]byte, error) {
	f := historyFile{Format: historyFormat, Through: h.applied, Databases: []dbEntry{}, Tables: []tableEntry{}}
	for n, vs := range h.dbs {
		f.Databases = append(f.Databases, dbEntry{Name: n, Versions: vs})
	}
	slices.SortFunc(f.Databases, func(a, b dbEntry) int { return strings.Compare(a.Name, b.Name) })
	for n, vs := range h.tables {
		f.Tables = append(f.Tables, tableEntry{Schema: n.schema, Name: n.table, Versions: vs})
	}
	slices.SortFunc(f.Tables, func(a, b tableEntry) int {
		if c := strings.Compare(a.Schema, b.Schema); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	data, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encoding the schema history: %w", err)
	}
	return data, nil
}

// ErrBeforeHistory is wrapped by Unmarshal's warning when the position to
// load at precedes the snapshot the History began with.
var ErrBeforeHistory = errors.New("the start position precedes the schema history")

// Unmarshal reads a History that Marshal wrote and rewinds it to position
// at: for each table and database it keeps the newest version at or
// before at and forgets the later ones, which the binlog will replay. When
// at precedes the snapshot the History began with, the snapshot stands in
// for the schema at at, and warning (wrapping ErrBeforeHistory) says so:
// that is right only if no DDL ran in between.
func Unmarshal(data []byte, opts Options, at Pos) (h *History, warning error, err error) {
	var f historyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("decoding the schema history: %w", err)
	}
	if f.Format != historyFormat {
		return nil, nil, fmt.Errorf("decoding the schema history: format %d, this build reads %d", f.Format, historyFormat)
	}
	h = New(opts, at)
	h.saved = f.Through
	var before Pos
	early := func(p Pos) {
		if before.IsZero() || p.Compare(before) < 0 {
			before = p
		}
	}
	for _, e := range f.Tables {
		v, ok := rewind(e.Versions, at, func(v tableVersion) (Pos, bool) { return v.Pos, v.Snapshot })
		if !ok || (v.Def == nil && v.Lost == "") {
			continue // the table did not exist at the position
		}
		if v.Pos.Compare(at) > 0 {
			early(v.Pos)
			v.Pos = at
		}
		if v.Def != nil {
			v.Def.Schema, v.Def.Name = e.Schema, e.Name
		}
		h.tables[h.key(e.Schema, e.Name)] = []tableVersion{v}
	}
	for _, e := range f.Databases {
		v, ok := rewind(e.Versions, at, func(v dbVersion) (Pos, bool) { return v.Pos, v.Snapshot })
		if !ok || v.Dropped {
			continue
		}
		if v.Pos.Compare(at) > 0 {
			early(v.Pos)
			v.Pos = at
		}
		h.dbs[h.dbKey(e.Name)] = []dbVersion{v}
	}
	if !before.IsZero() {
		warning = fmt.Errorf("%w (which begins with a snapshot at %s, the start is %s): using the snapshot as the schema at the start, which is right only if no DDL ran in between", ErrBeforeHistory, before, at)
	}
	return h, warning, nil
}

// rewind returns the version of vs in force at position at: the newest at
// or before it. When every version is later and the first is a snapshot,
// the snapshot stands in (the caller sees its later position).
func rewind[V any](vs []V, at Pos, meta func(V) (Pos, bool)) (V, bool) {
	var cur V
	found := false
	for _, v := range vs {
		if p, _ := meta(v); p.Compare(at) <= 0 {
			cur, found = v, true
		}
	}
	if !found && len(vs) > 0 {
		if _, snap := meta(vs[0]); snap {
			return vs[0], true
		}
	}
	return cur, found
}
