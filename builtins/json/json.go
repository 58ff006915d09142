// Package json is the json builtin: json.encode and json.decode with exact
// numbers, json.null for SQL/JSON null, and json.array()/json.object() to
// say what an empty (or ambiguous) table is.
//
// Rules (docs/lua-api.md):
//   - encode writes integral numbers up to ±2^53 as integers, other numbers
//     in shortest form (1.5, 1e+20: a double beyond 2^53 is not an exact
//     integer, and decode reads it back as the same double); strings as strings (so the exact digits of a
//     BIGINT or DECIMAL that reached Lua as a string stay exact); object keys
//     sorted, so equal tables encode to equal text. Functions, userdata other
//     than json.null, cycles, sparse arrays, mixed keys, NaN, ±Inf and text
//     that is not UTF-8 are errors naming the path ($.a[2].b).
//   - decode turns integers within ±2^53 into numbers and larger ones into
//     strings of the same digits, null into json.null, and marks every array
//     and object so that encode writes them back the same way, [] and {}
//     included.
package json

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

type module struct{}

// Name is "json".
func (module) Name() string { return "json" }

// Open builds the json table. The encoder keeps its buffers between calls;
// it belongs to the state, which belongs to one goroutine.
func (module) Open(L *glua.LState, _ *lua.Env) (glua.LValue, error) {
	enc := &encoder{}
	t := L.CreateTable(0, 5)
	t.RawSetString("encode", L.NewFunction(func(L *glua.LState) int {
		v := L.CheckAny(1)
		enc.L = L
		b, err := enc.encode(v)
		if err != nil {
			L.RaiseError("json.encode: %v", err)
		}
		L.Push(glua.LString(b))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		v, err := Decode(L, []byte(s))
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		L.Push(v)
		return 1
	}))
	t.RawSetString("null", lua.NullValue)
	t.RawSetString("array", L.NewFunction(func(L *glua.LState) int {
		tb := optTable(L)
		lua.MarkArray(L, tb)
		L.Push(tb)
		return 1
	}))
	t.RawSetString("object", L.NewFunction(func(L *glua.LState) int {
		tb := optTable(L)
		lua.MarkObject(L, tb)
		L.Push(tb)
		return 1
	}))
	return t, nil
}

func optTable(L *glua.LState) *glua.LTable {
	if L.GetTop() == 0 || L.Get(1) == glua.LNil {
		return L.NewTable()
	}
	return L.CheckTable(1)
}

// Encode returns the JSON text of a Lua value, following the rules of the
// package documentation. Builtins that send JSON (es, http) use it so that
// every module writes Lua values the same way.
func Encode(L *glua.LState, v glua.LValue) ([]byte, error) {
	e := &encoder{L: L}
	b, err := e.encode(v)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

type kv struct {
	k string
	v glua.LValue
}

// encoder writes Lua values as JSON. Its buffers are reused from call to
// call: buf is copied into the result string, and kvs is used as a stack,
// each object appending its pairs and truncating them when done.
type encoder struct {
	L     *glua.LState
	buf   []byte
	kvs   []kv
	stack []*glua.LTable
}

// Limits: nesting bounds the Go stack; the output bound stops a table that
// holds the same subtable twice, level after level, from expanding
// exponentially in Go code, which the call's deadline cannot interrupt.
const (
	maxDepth  = 200
	maxOutput = 256 << 20
)

// pathError carries the path to the offending value, built as the
// recursion unwinds so that successful encodes pay nothing for it.
type pathError struct {
	path []string // innermost last, reversed at the end
	msg  string
}

func (e *pathError) Error() string {
	p := "$"
	for i := len(e.path) - 1; i >= 0; i-- {
		p += e.path[i]
	}
	return e.msg + " at " + p
}

func (e *encoder) encode(v glua.LValue) ([]byte, error) {
	e.buf = e.buf[:0]
	e.kvs = e.kvs[:0]
	e.stack = e.stack[:0]
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

func wrap(err error, seg string) error {
	var pe *pathError
	if errors.As(err, &pe) {
		pe.path = append(pe.path, seg)
	}
	return err
}

func (e *encoder) value(v glua.LValue) error {
	switch x := v.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(x))
	case glua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return &pathError{msg: "cannot encode " + x.String() + " (JSON has no NaN or infinity)"}
		}
		if f == 0 && math.Signbit(f) {
			e.buf = append(e.buf, "-0.0"...) // "-0" would read back as the integer 0
		} else if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			e.buf = strconv.AppendFloat(e.buf, f, 'f', -1, 64)
		} else {
			e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, 64)
		}
	case glua.LString:
		if !utf8.ValidString(string(x)) {
			return &pathError{msg: "cannot encode a string that is not UTF-8 (binary data? encode it first, e.g. as hex)"}
		}
		e.buf = appendString(e.buf, string(x))
	case *glua.LUserData:
		if lua.IsNull(x) {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return &pathError{msg: "cannot encode a userdata"}
	case *glua.LTable:
		return e.table(x)
	default:
		return &pathError{msg: "cannot encode a " + v.Type().String()}
	}
	return nil
}

func (e *encoder) table(t *glua.LTable) error {
	if len(e.buf) > maxOutput {
		return &pathError{msg: fmt.Sprintf("cannot encode more than %d MiB", maxOutput>>20)}
	}
	for _, s := range e.stack {
		if s == t {
			return &pathError{msg: "cannot encode a cycle (a table that contains itself)"}
		}
	}
	if len(e.stack) >= maxDepth {
		return &pathError{msg: fmt.Sprintf("cannot encode tables nested deeper than %d", maxDepth)}
	}
	e.stack = append(e.stack, t)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()

	n, err := lua.ArrayLen(e.L, t)
	if err != nil {
		return &pathError{msg: "cannot encode " + err.Error()}
	}
	if n >= 0 {
		e.buf = append(e.buf, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(t.RawGetInt(i)); err != nil {
				return wrap(err, "["+strconv.Itoa(i)+"]")
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	start := len(e.kvs)
	var kerr error
	t.ForEach(func(k, v glua.LValue) {
		ks, ok := lua.ObjectKey(k)
		if !ok && kerr == nil {
			kerr = &pathError{msg: "cannot encode an object key of type " + k.Type().String()}
		}
		e.kvs = append(e.kvs, kv{ks, v})
	})
	if kerr != nil {
		e.kvs = e.kvs[:start]
		return kerr
	}
	pairs := e.kvs[start:]
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	e.buf = append(e.buf, '{')
	end := len(e.kvs)
	for i := start; i < end; i++ {
		if i > start {
			e.buf = append(e.buf, ',')
		}
		p := e.kvs[i] // re-read: nested objects may grow (move) e.kvs
		e.buf = appendString(e.buf, p.k)
		e.buf = append(e.buf, ':')
		if err := e.value(p.v); err != nil {
			e.kvs = e.kvs[:start]
			return wrap(err, "."+p.k)
		}
	}
	e.kvs = e.kvs[:start]
	e.buf = append(e.buf, '}')
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string. It escapes what JSON requires and
// U+2028/U+2029, like encoding/json, but not <, > and &: the text goes to
// sinks, not into HTML.
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
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Decode parses JSON text into a Lua value following the rules of the
// package documentation. The text must hold exactly one value.
func Decode(L *glua.LState, data []byte) (glua.LValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decoding JSON: data after the value")
	}
	if v == nil {
		return lua.NullValue, nil
	}
	return lua.FromGo(L, v)
}
