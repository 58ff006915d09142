package mysql

import (
	"database/sql"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

// colKind is how a result column converts to Lua.
type colKind uint8

const (
	colText colKind = iota // strings, bytes, DECIMAL, temporal, JSON, BIT
	colInt
	colUint
	colFloat
)

func kindOf(ct *sql.ColumnType) colKind {
	name := ct.DatabaseTypeName()
	switch {
	case name == "YEAR":
		return colInt
	case strings.HasPrefix(name, "UNSIGNED ") && strings.HasSuffix(name, "INT"):
		return colUint
	case strings.HasSuffix(name, "INT"):
		return colInt
	case name == "FLOAT" || name == "DOUBLE":
		return colFloat
	}
	return colText
}

// readRows converts a result set to a Lua array of row tables. Every value
// is scanned as raw bytes — the text the server (or the driver, for the
// binary protocol) produced — and converted by the column's type, so no
// value passes through a lossy Go type: integers parse exactly and reach
// Lua as numbers up to 2^53 and as digit strings beyond; DECIMAL stays its
// text; NULL is json.null. Rows and the array are marked as objects and an
// array for json.encode.
func readRows(L *glua.LState, rows *sql.Rows) (*glua.LTable, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cts))
	kinds := make([]colKind, len(cts))
	for i, ct := range cts {
		names[i] = ct.Name()
		kinds[i] = kindOf(ct)
	}
	raw := make([]sql.RawBytes, len(cts))
	ptrs := make([]any, len(cts))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	out := L.CreateTable(0, 0)
	lua.MarkArray(L, out)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := L.CreateTable(0, len(cts))
		for i, b := range raw {
			row.RawSetString(names[i], convert(b, kinds[i]))
		}
		lua.MarkObject(L, row)
		out.Append(row)
	}
	return out, rows.Err()
}

func convert(b sql.RawBytes, k colKind) glua.LValue {
	if b == nil {
		return lua.NullValue
	}
	s := string(b) // copies: RawBytes is reused by the next Scan
	switch k {
	case colInt:
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return lua.Int(v)
		}
	case colUint:
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return lua.Uint(v)
		}
	case colFloat:
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return glua.LNumber(v)
		}
	}
	return glua.LString(s)
}
