package schema

import (
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
		if c := compareUint(event.FileSeq(p.File), event.FileSeq(q.File)); c != 0 {
			return c
		}
		return strings.Compare(p.File, q.File)
	}
	return compareUint(uint64(p.Pos), uint64(q.Pos))
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IsZero reports whether p is the zero Pos.
func (p Pos) IsZero() bool { return p.File == "" && p.Pos == 0 }

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
	// has no primary key.
	PK []string `json:"pk,omitempty"`
	// Collation is the table's default collation, which new character
	// columns take.
	Collation uint64 `json:"collation,omitempty"`
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

// PKIndexes returns the positions of the primary-key columns in key order.
func (t *Table) PKIndexes() []int {
	if len(t.PK) == 0 {
		return nil
	}
	out := make([]int, 0, len(t.PK))
	for _, name := range t.PK {
		if i := t.Column(name); i >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// clone returns a deep copy of t, which DDL may change without touching t.
func (t *Table) clone() *Table {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	for i := range c.Columns {
		c.Columns[i].Labels = slices.Clone(c.Columns[i].Labels)
	}
	c.PK = slices.Clone(t.PK)
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
