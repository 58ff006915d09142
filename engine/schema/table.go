package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/moontide/moontide/engine/event"
)

// Pos is a binlog position: a file and the end of an event in it.
type Pos struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

// Compare orders positions by binlog file sequence number, then offset. The
// zero Pos comes before every other.
func (p Pos) Compare(q Pos) int {
	if p.File != q.File {
		if c := cmp.Compare(event.FileSeq(p.File), event.FileSeq(q.File)); c != 0 {
			return c
		}
		return strings.Compare(p.File, q.File)
	}
	return cmp.Compare(p.Pos, q.Pos)
}

// IsZero reports whether p is the zero Pos.
func (p Pos) IsZero() bool { return p.File == "" && p.Pos == 0 }

// String is FILE:POS, or "the start" for the zero Pos.
func (p Pos) String() string {
	if p.IsZero() {
		return "the start"
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

// Column is one column of a table definition.
type Column struct {
	Name string `json:"name"`
	// Type is the column's data type in lower case without its arguments:
	// "int", "varchar", "varbinary", "text", "blob", "enum", "json", ...
	// (information_schema's DATA_TYPE).
	Type string `json:"type"`
	// Unsigned is set for UNSIGNED numeric columns.
	Unsigned bool `json:"unsigned,omitempty"`
	// NotNull is set for columns declared NOT NULL (and primary-key
	// columns), which decides whether a UNIQUE key stands in for a missing
	// primary key.
	NotNull bool `json:"not_null,omitempty"`
	// Collation is the id of the column's collation for character, binary
	// string (63) and ENUM/SET columns, and 0 for every other type.
	Collation uint64 `json:"collation,omitempty"`
	// Labels are the elements of an ENUM or SET column, in definition order.
	Labels []string `json:"labels,omitempty"`
}

// Table is a table's definition at some position.
type Table struct {
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// PK names the primary-key columns in key order; empty when the table
	// has no PRIMARY KEY.
	PK []string `json:"pk,omitempty"`
	// Unique are the table's UNIQUE keys in the order they were made.
	Unique []Key `json:"unique,omitempty"`
	// Collation is the table's default collation, which new character
	// columns take.
	Collation uint64 `json:"collation,omitempty"`
	// SystemVersioned is set for a MariaDB table WITH SYSTEM VERSIONING,
	// whose changes the history does not follow (errSystemVersioned).
	SystemVersioned bool `json:"system_versioned,omitempty"`
}

// Column returns the index of the named column (compared as the server
// does, ignoring case), or -1.
func (t *Table) Column(name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// Key is a UNIQUE key.
type Key struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	// Partial is set when a part is a prefix or an expression: such a key
	// never stands in for a primary key.
	Partial bool `json:"partial,omitempty"`
}

// PKIndexes returns the positions of the table's key columns in key order:
// the PRIMARY KEY's, or without one, as the server does, the first UNIQUE
// key's whose parts are whole NOT NULL columns; none when there is neither.
func (t *Table) PKIndexes() []int {
	key := t.PK
	if len(key) == 0 {
		for _, k := range t.Unique {
			if t.promotable(k) {
				key = k.Columns
				break
			}
		}
	}
	if len(key) == 0 {
		return nil
	}
	out := make([]int, 0, len(key))
	for _, name := range key {
		if i := t.Column(name); i >= 0 {
			out = append(out, i)
		}
	}
	return out
}

func (t *Table) promotable(k Key) bool {
	if k.Partial || len(k.Columns) == 0 {
		return false
	}
	for _, name := range k.Columns {
		if i := t.Column(name); i < 0 || !t.Columns[i].NotNull {
			return false
		}
	}
	return true
}

// key returns the index of the UNIQUE key named name, or -1.
func (t *Table) key(name string) int {
	for i := range t.Unique {
		if strings.EqualFold(t.Unique[i].Name, name) {
			return i
		}
	}
	return -1
}

// renameColumn renames a column in the keys that have it.
func (t *Table) renameColumn(from, to string) {
	rename := func(cols []string) {
		for k, c := range cols {
			if strings.EqualFold(c, from) {
				cols[k] = to
			}
		}
	}
	rename(t.PK)
	for i := range t.Unique {
		rename(t.Unique[i].Columns)
	}
}

// dropColumn removes a column from the keys, as the server does: a key
// left without columns goes.
func (t *Table) dropColumn(name string) {
	match := func(c string) bool { return strings.EqualFold(c, name) }
	t.PK = slices.DeleteFunc(t.PK, match)
	for i := range t.Unique {
		t.Unique[i].Columns = slices.DeleteFunc(t.Unique[i].Columns, match)
	}
	t.Unique = slices.DeleteFunc(t.Unique, func(k Key) bool { return len(k.Columns) == 0 })
}

// clone returns a deep copy of t, which DDL may change without touching t.
func (t *Table) clone() *Table {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	for i := range c.Columns {
		c.Columns[i].Labels = slices.Clone(c.Columns[i].Labels)
	}
	c.PK = slices.Clone(t.PK)
	c.Unique = slices.Clone(t.Unique)
	for i := range c.Unique {
		c.Unique[i].Columns = slices.Clone(c.Unique[i].Columns)
	}
	return &c
}

// isText reports whether a column of type typ holds characters, so that its
// collation follows the table's (and CONVERT TO CHARACTER SET).
func isText(typ string) bool {
	switch typ {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return true
	}
	return false
}

// isBinaryString reports whether a column of type typ holds bytes under the
// binary collation.
func isBinaryString(typ string) bool {
	switch typ {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return true
	}
	return false
}
