package es

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/moontide/moontide/engine/lua"
)

// encoder writes the Go values lua.ToGo returns as JSON, the way the json
// builtin writes Lua values: integers as integers (ToGo keeps them exact),
// other numbers in shortest form, strings as they are (so a BIGINT or
// DECIMAL that reached Lua as a string stays exact; Elasticsearch coerces it
// into a numeric field), json.null as null, object keys sorted. Unlike
// encoding/json it refuses strings that are not UTF-8 instead of silently
// replacing bytes, and names the path of the bad value. It keeps its key
// buffer between documents; it belongs to one writer.
type encoder struct {
	keys []string
}

func (e *encoder) value(dst []byte, v any) ([]byte, error) {
	return e.enc(dst, v, 0)
}

// pathError locates a value without a JSON form; the path is built while
// unwinding so that good documents pay nothing for it.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.msg + " at $" + e.path }

func prefix(err error, seg string) error {
	var pe *pathError
	if errors.As(err, &pe) {
		pe.path = seg + pe.path
	}
	return err
}

func (e *encoder) enc(dst []byte, v any, depth int) ([]byte, error) {
	if depth > 200 {
		return dst, &pathError{msg: "nesting deeper than 200 levels"}
	}
	switch x := v.(type) {
	case nil, lua.Null:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, &pathError{msg: "cannot encode " + strconv.FormatFloat(x, 'g', -1, 64) + " (JSON has no NaN or infinity)"}
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			return strconv.AppendFloat(dst, x, 'f', -1, 64), nil
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
	case string:
		if !utf8.ValidString(x) {
			return dst, &pathError{msg: "cannot encode a string that is not UTF-8 (binary data? encode it first, e.g. as hex or base64)"}
		}
		return appendString(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.enc(dst, el, depth+1); err != nil {
				return dst, prefix(err, "["+strconv.Itoa(i+1)+"]")
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		start := len(e.keys)
		for k := range x {
			e.keys = append(e.keys, k)
		}
		keys := e.keys[start:]
		slices.Sort(keys)
		dst = append(dst, '{')
		for i := start; i < len(e.keys); i++ {
			k := e.keys[i]
			if i > start {
				dst = append(dst, ',')
			}
			if !utf8.ValidString(k) {
				e.keys = e.keys[:start]
				return dst, &pathError{msg: "cannot encode a key that is not UTF-8"}
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = e.enc(dst, x[k], depth+1); err != nil {
				e.keys = e.keys[:start]
				return dst, prefix(err, "."+k)
			}
		}
		e.keys = e.keys[:start]
		return append(dst, '}'), nil
	}
	return dst, &pathError{msg: fmt.Sprintf("cannot encode a Go %T", v)}
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string, escaping what JSON requires and
// U+2028/U+2029 (as encoding/json does), not <, > and &.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
