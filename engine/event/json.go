package event

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// FormatVersion is the "v" of the JSON form. Decode refuses other versions.
const FormatVersion = 1

// AppendJSON appends the JSON form of e to dst (docs/events.md). It fails
// only on values JSON cannot carry exactly: text that is not valid UTF-8 and
// non-finite floats.
func AppendJSON(dst []byte, e *Event) ([]byte, error) {
	t := e.Table
	if t == nil {
		return dst, errors.New("encoding event: no table")
	}
	dst = append(dst, `{"v":1,"id":`...)
	dst = AppendJSONString(dst, e.ID)
	dst = append(dst, `,"schema":`...)
	dst = AppendJSONString(dst, t.Schema)
	dst = append(dst, `,"table":`...)
	dst = AppendJSONString(dst, t.Name)
	dst = append(dst, `,"action":"`...)
	dst = append(dst, e.Action.String()...)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, e.TS, 10)
	dst = append(dst, `,"pos":{"file":`...)
	dst = AppendJSONString(dst, e.Pos.File)
	dst = append(dst, `,"pos":`...)
	dst = strconv.AppendUint(dst, uint64(e.Pos.Pos), 10)
	if e.Pos.GTID != "" {
		dst = append(dst, `,"gtid":`...)
		dst = AppendJSONString(dst, e.Pos.GTID)
	}
	dst = append(dst, `},"version":`...)
	dst = strconv.AppendUint(dst, e.Version, 10)
	dst = append(dst, `,"tx":{"id":`...)
	dst = AppendJSONString(dst, e.Tx.ID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, e.Tx.Seq, 10)
	dst = append(dst, `},"pk":[`...)
	for i, p := range t.PK {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, t.Columns[p].Name)
	}
	dst = append(dst, `],"key":`...)
	dst = appendText(dst, e.Key)
	dst = append(dst, `,"types":`...)
	if t.types != nil {
		dst = append(dst, t.types...)
	} else {
		dst = appendTypes(dst, t)
	}
	var err error
	if e.Before != nil {
		dst = append(dst, `,"before":`...)
		if dst, err = appendRow(dst, t, e.Before); err != nil {
			return dst, fmt.Errorf("encoding before image of %s.%s at %s: %w", t.Schema, t.Name, e.ID, err)
		}
	}
	if e.After != nil {
		dst = append(dst, `,"after":`...)
		if dst, err = appendRow(dst, t, e.After); err != nil {
			return dst, fmt.Errorf("encoding after image of %s.%s at %s: %w", t.Schema, t.Name, e.ID, err)
		}
	}
	if e.Action == Update {
		dst = append(dst, `,"changed":[`...)
		first := true
		for i := range e.After {
			if i < len(e.Before) && e.Before[i].kind != Missing && e.After[i].kind != Missing && e.Before[i] != e.After[i] {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = AppendJSONString(dst, t.Columns[i].Name)
			}
		}
		dst = append(dst, ']')
	}
	if e.Action == DDL {
		// A statement is logged in its client's charset, not always UTF-8.
		dst = append(dst, `,"ddl":`...)
		dst = appendText(dst, e.Statement)
	}
	return append(dst, '}'), nil
}

func appendTypes(dst []byte, t *Table) []byte {
	dst = append(dst, '{')
	for i, c := range t.Columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, c.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, c.Type)
	}
	return append(dst, '}')
}

func appendRow(dst []byte, t *Table, row []Value) ([]byte, error) {
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("row has %d values for %d columns", len(row), len(t.Columns))
	}
	dst = append(dst, '{')
	first := true
	for i, v := range row {
		if v.kind == Missing {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, t.Columns[i].Name)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, v); err != nil {
			return dst, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendValue(dst []byte, v Value) ([]byte, error) {
	switch v.kind {
	case Null:
		return append(dst, "null"...), nil
	case Int:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case Uint:
		return strconv.AppendUint(dst, v.num, 10), nil
	case Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("float %v has no JSON form", f)
		}
		return AppendJSONFloat(dst, f), nil
	case Bytes:
		return AppendJSONBytes(dst, v.str), nil
	default:
		out, ok := AppendJSONText(dst, v.str)
		if !ok {
			return dst, fmt.Errorf("%s value is not valid UTF-8", v.kind)
		}
		return out, nil
	}
}

// AppendJSONFloat writes a finite float as a JSON number in the shortest
// form that reads back to the same float64, positional between 1e-6 and
// 1e21 and in exponent form outside, as JavaScript and encoding/json print
// numbers, so 1234567.5 stays 1234567.5 for whoever reads the JSON.
func AppendJSONFloat(dst []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendText writes s as a JSON string when it is valid UTF-8, else marked
// as bytes.
func appendText(dst []byte, s string) []byte {
	if out, ok := AppendJSONText(dst, s); ok {
		return out
	}
	return AppendJSONBytes(dst, s)
}

// AppendJSONBytes appends s as JSON writes bytes: {"base64": "..."},
// standard base64 with padding.
func AppendJSONBytes(dst []byte, s string) []byte {
	dst = append(dst, `{"base64":"`...)
	n := base64.StdEncoding.EncodedLen(len(s))
	dst = append(dst, make([]byte, n)...)
	base64.StdEncoding.Encode(dst[len(dst)-n:], []byte(s))
	return append(dst, `"}`...)
}

// AppendJSONString appends s to dst as a JSON string. It escapes what JSON
// requires (quote, backslash, control characters) and U+2028 and U+2029,
// which JSON allows raw but JavaScript source does not (encoding/json
// escapes them too); it does not escape <, > and &, since the text goes to
// sinks and logs, not into HTML. Bytes that are not UTF-8 are copied as they
// are, which is not valid JSON: AppendJSONText is for text that may not be.
func AppendJSONString(dst []byte, s string) []byte {
	dst, _ = appendJSONString(dst, s, false)
	return dst
}

// AppendJSONText is AppendJSONString for text that must be UTF-8: it reports
// false, and returns dst as it was, when s is not. Checking while escaping
// reads s once; values are most of what moontide writes as JSON.
func AppendJSONText(dst []byte, s string) ([]byte, bool) {
	return appendJSONString(dst, s, true)
}

// plainJSON holds the bytes a JSON string carries as they are: ASCII
// but for control characters, quote and backslash.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString is the one JSON string writer of moontide. With strict,
// it stops at the first byte that is not UTF-8.
func appendJSONString(dst []byte, s string, strict bool) ([]byte, bool) {
	const hex = "0123456789abcdef"
	n := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 && strict {
			return dst[:n], false
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}
