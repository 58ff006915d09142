package event

import (
	"fmt"
	"strings"
)

// Action is what happened to the row.
type Action uint8

// The actions of DESIGN §4.
const (
	Insert Action = iota + 1
	Update
	Delete
	// Snapshot is a row read by a full sync, not a change.
	Snapshot
	// DDL is a schema change; the event carries the statement.
	DDL
)

var actionNames = [...]string{"", "insert", "update", "delete", "snapshot", "ddl"}

// String is the action's name as it appears in JSON and Lua.
func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// ParseAction is the inverse of Action.String.
func ParseAction(s string) (Action, error) {
	for i := 1; i < len(actionNames); i++ {
		if actionNames[i] == s {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q", s)
}

// Column describes one column as it was when the row was written.
type Column struct {
	Name string
	// Type is the SQL type in lower case, as SHOW COLUMNS would print it:
	// "bigint unsigned", "decimal(10,2)", "datetime(6)", "enum('a','b')".
	Type string
}

// Table describes a table as it was when its rows were written. All events of
// one table version share one *Table: it must not be modified once an event
// refers to it.
type Table struct {
	Schema  string
	Name    string
	Columns []Column
	// PK holds the positions in Columns of the primary key, in key order.
	// It is empty for a table without a primary key.
	PK []int

	types []byte // the encoded "types" object, built by NewTable
}

// NewTable builds a Table and encodes once what every event of it repeats in
// JSON. Tables built as struct literals work too, at the cost of that work
// per event.
func NewTable(schema, name string, cols []Column, pk []int) *Table {
	t := &Table{Schema: schema, Name: name, Columns: cols, PK: pk}
	t.types = appendTypes(nil, t)
	return t
}

// Column returns the position of the named column, or -1.
func (t *Table) Column(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// PKNames returns the names of the primary-key columns in key order.
func (t *Table) PKNames() []string {
	names := make([]string, len(t.PK))
	for i, p := range t.PK {
		names[i] = t.Columns[p].Name
	}
	return names
}

// Position is where in the binlog an event was read.
type Position struct {
	// File and Pos are the binlog coordinates of the event that carried the
	// row (the end of that event, as the server reports it).
	File string
	Pos  uint32
	// GTID is the GTID of the transaction, when the server uses GTIDs.
	GTID string
}

// Tx places an event inside its transaction.
type Tx struct {
	// ID identifies the transaction: its GTID, or the binlog coordinates
	// where it began.
	ID string
	// Seq is the row's index in the transaction, from 0.
	Seq uint64
}

// Event is one row change, snapshot row or DDL statement.
//
// Before and After are aligned with Table.Columns. Before is nil for insert
// and snapshot, After is nil for delete; both are nil for ddl.
type Event struct {
	// ID is unique and stable: replaying the same binlog yields the same ID.
	ID     string
	Action Action
	Table  *Table
	Before []Value
	After  []Value
	// Key is the primary-key values joined with KeySep: the ordering and
	// partition key. Events of a table without a primary key share the empty
	// key, so they keep their order.
	Key string
	// TS is when the source committed the change, in ms since the epoch.
	TS  int64
	Pos Position
	// Version grows with the binlog position; see MakeVersion.
	Version uint64
	// Order orders the events that share Pos.File and Pos.Pos: the number
	// of the rows event in its transaction times 2^32, plus the row's index
	// in the rows event (for a DDL event, the index of the table it names).
	// The rows events of a compressed MySQL transaction share one Pos.
	// Every rows event counts, captured or not, so Order does not depend on
	// the capture filter. It is not encoded: only the process that captured
	// the event uses it (see Mark).
	Order uint64
	Tx    Tx
	// Statement is the DDL statement of a DDL event.
	Statement string
}

// KeySep separates the values of a composite primary key in Event.Key.
const KeySep = ":"

// Schema is the source database of the event.
func (e *Event) Schema() string { return e.Table.Schema }

// TableName is the source table of the event.
func (e *Event) TableName() string { return e.Table.Name }

// Changed returns the positions of the columns whose value differs between
// Before and After. It is empty unless the action is Update.
func (e *Event) Changed(dst []int) []int {
	if e.Action != Update {
		return dst
	}
	for i := range e.After {
		if i < len(e.Before) && e.Before[i].kind != Missing && e.After[i].kind != Missing && !e.Before[i].Equal(e.After[i]) {
			dst = append(dst, i)
		}
	}
	return dst
}

// Row returns the row image a listener usually wants: After, or Before for a
// delete.
func (e *Event) Row() []Value {
	if e.Action == Delete {
		return e.Before
	}
	return e.After
}

// MakeKey builds Event.Key from a row image.
func MakeKey(t *Table, row []Value) string {
	if s, ok := singleTextKey(t, row); ok {
		return s // no copy: the value's text is the key
	}
	var buf [64]byte
	return string(appendKey(buf[:0], t, row))
}

// singleTextKey returns the key of a table whose primary key is one column
// holding text (or bytes): that text as it is.
func singleTextKey(t *Table, row []Value) (string, bool) {
	if len(t.PK) != 1 {
		return "", false
	}
	v := row[t.PK[0]]
	return v.str, v.kind != Int && v.kind != Uint && v.kind != Float
}

// appendKey appends the primary-key values joined with KeySep.
func appendKey(dst []byte, t *Table, row []Value) []byte {
	for i, p := range t.PK {
		if i > 0 {
			dst = append(dst, KeySep...)
		}
		dst = row[p].AppendText(dst)
	}
	return dst
}

// Version layout: 20 bits of binlog file sequence number, 32 bits of
// position, 11 bits of row index inside the rows event. 63 bits in all, so it
// fits a signed 64-bit version such as Elasticsearch's.
const (
	versionRowBits = 11
	versionPosBits = 32
	versionMaxFile = 1<<20 - 1
	versionMaxRow  = 1<<versionRowBits - 1
)

// MakeVersion derives Event.Version from binlog coordinates. It grows with
// (file sequence, position, row). Rows past the 2047th of one rows event
// share the last version; the row images inside one rows event come from one
// statement and are distinct rows, so sinks that accept an equal version
// (Elasticsearch external_gte) still apply them.
func MakeVersion(fileSeq uint64, pos uint32, row int) uint64 {
	if fileSeq > versionMaxFile {
		fileSeq = versionMaxFile
	}
	if row > versionMaxRow {
		row = versionMaxRow
	}
	return fileSeq<<(versionPosBits+versionRowBits) | uint64(pos)<<versionRowBits | uint64(row)
}

// FileSeq returns the sequence number of a binlog file name,
// "mysql-bin.000042" → 42, or 0 when the name has none.
func FileSeq(file string) uint64 {
	i := strings.LastIndexByte(file, '.')
	var n uint64
	for _, c := range file[i+1:] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
		if n > versionMaxFile {
			return versionMaxFile
		}
	}
	return n
}

// KindOf returns the kind a non-NULL value of the given SQL type has. It is
// how the JSON decoder restores kinds that JSON cannot show.
func KindOf(sqlType string) Kind {
	base, rest, _ := strings.Cut(sqlType, "(")
	if i := strings.IndexByte(base, ' '); i >= 0 {
		base = base[:i]
	}
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		if strings.Contains(rest, "unsigned") || strings.HasSuffix(sqlType, "unsigned") || strings.Contains(sqlType, " unsigned") {
			return Uint
		}
		return Int
	case "year":
		return Int
	case "bit":
		return Uint
	case "float", "double", "real":
		return Float
	case "decimal", "numeric":
		return Decimal
	case "date", "datetime", "timestamp", "time":
		return Time
	case "json":
		return JSON
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point",
		"linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return Bytes
	default:
		return String
	}
}
