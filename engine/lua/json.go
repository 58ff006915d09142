package lua

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

// JSONEncoder writes JSON by the rules of json.encode (docs/lua-api.md),
// for every builtin that sends JSON: the json module encodes Lua values
// with it, es documents and http bodies the Go values ToGo returns. One
// encoder, so that a value is written the same way wherever it goes:
//
//   - nil and json.null (Null{} on the Go side) → null; booleans → true and
//     false; strings → JSON strings (event.AppendJSONText), as they are,
//     so the exact digits of a BIGINT or DECIMAL that reached Lua as a
//     string stay exact. A string or key that is not UTF-8 is an error:
//     JSON cannot carry it, and replacing its bytes would corrupt it
//     silently. The values of binary columns in an event's row image
//     (BINARY, BLOB, ...: binaryColumns) and []byte are written as bytes
//     are in Kafka messages, {"base64": "..."}, whatever their bytes.
//   - int64 (ToGo's exact integers) → an integer of the same digits.
//   - Lua numbers and float64 → an integer when integral and within ±2^53;
//     -0 → -0.0 (a -0 would read back as the integer 0); anything else in
//     shortest form (1.5, 1e+20: a double beyond 2^53 is not an exact
//     integer, and json.decode reads it back as the same double). NaN and
//     ±Inf are errors.
//   - Lua tables → an array or an object by ToGo's rules (json.array() and
//     json.object() marks, else the keys; ArrayLen); []any → an array;
//     map[string]any → an object. Object keys are sorted, so equal values
//     encode to equal text.
//   - Anything else (functions, other userdata, other Go types), cycles,
//     nesting beyond 200 levels and output beyond 256 MiB are errors: a
//     *ConversionError whose Path locates the value ($.a[2].b).
//
// The zero value is ready to use. An encoder keeps scratch space from call
// to call, so it belongs to one goroutine, like the state whose values it
// encodes.
type JSONEncoder struct {
	L     *glua.LState // of the Lua value being encoded, for table marks
	pairs []jsonPair   // a stack: each object pushes its pairs, then pops them
	stack []*glua.LTable
	// g and conv: the state whose tables were encoded last, and its
	// converter, which knows the tables built from shapes.
	g    *glua.Global
	conv *converter
}

type jsonPair struct {
	k string
	v any
}

// Limits of JSONEncoder: nesting bounds the Go stack (as in ToGo); the
// output bound stops a table that holds the same subtable twice, level
// after level, from expanding exponentially in Go code, which the call's
// deadline cannot interrupt.
const (
	maxJSONDepth  = 200
	maxJSONOutput = 256 << 20
)

// AppendJSON appends the JSON form of v, a Go value of the kinds ToGo
// returns, to dst, by the rules of JSONEncoder. On error dst may hold part
// of the value.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	var e JSONEncoder
	return e.Append(dst, v)
}

// Append appends the JSON form of v, a Go value of the kinds ToGo returns,
// to dst. On error dst may hold part of the value.
func (e *JSONEncoder) Append(dst []byte, v any) ([]byte, error) {
	return e.AppendLua(nil, dst, v)
}

// AppendLua appends the JSON form of v to dst; v is a Lua value of L (or a
// Go value as for Append). On error dst may hold part of the value.
func (e *JSONEncoder) AppendLua(L *glua.LState, dst []byte, v any) ([]byte, error) {
	e.L = L
	if L != nil && L.G != e.g {
		e.g, e.conv = L.G, nil
		if env := EnvOf(L); env != nil {
			e.conv = env.conv
		}
	}
	e.pairs = e.pairs[:0]
	e.stack = e.stack[:0]
	dst, err := e.value(dst, v, 0)
	e.L = nil
	if err != nil {
		var ce *ConversionError // it escapes: declared only for errors
		if errors.As(err, &ce) {
			ce.Path = "$" + ce.Path
		}
	}
	return dst, err
}

// jsonError is a value without a JSON form; its path is built by
// atPath while the recursion unwinds, so that good values pay nothing for
// it.
func jsonError(format string, args ...any) error {
	return &ConversionError{Msg: fmt.Sprintf(format, args...)}
}

func atPath(err error, seg string) error {
	var ce *ConversionError
	if errors.As(err, &ce) {
		ce.Path = seg + ce.Path
	}
	return err
}

func (e *JSONEncoder) value(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil, Null, *glua.LNilType:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case glua.LBool:
		return strconv.AppendBool(dst, bool(x)), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case float64:
		return appendJSONNumber(dst, x)
	case glua.LNumber:
		return appendJSONNumber(dst, float64(x))
	case string:
		return appendJSONText(dst, x)
	case glua.LString:
		return appendJSONText(dst, string(x))
	case *glua.LUserData:
		if x == nullUD {
			return append(dst, "null"...), nil
		}
		return dst, jsonError("cannot encode a userdata")
	case *glua.LTable:
		return e.table(dst, x, depth)
	case []byte:
		return event.AppendJSONBytes(dst, unsafe.String(unsafe.SliceData(x), len(x))), nil
	case binaryString:
		return event.AppendJSONBytes(dst, string(x)), nil
	case []any:
		if err := e.enter(dst, depth); err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.value(dst, el, depth+1); err != nil {
				return dst, atPath(err, "["+strconv.Itoa(i+1)+"]")
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if err := e.enter(dst, depth); err != nil {
			return dst, err
		}
		start := len(e.pairs)
		for k, el := range x {
			e.pairs = append(e.pairs, jsonPair{k, el})
		}
		return e.object(dst, start, depth)
	case glua.LValue:
		return dst, jsonError("cannot encode a %s", x.Type())
	}
	return dst, jsonError("cannot encode a Go %T", v)
}

// enter checks the limits before a container is written.
func (e *JSONEncoder) enter(dst []byte, depth int) error {
	if depth >= maxJSONDepth {
		return jsonError("cannot encode tables nested deeper than %d", maxJSONDepth)
	}
	if len(dst) > maxJSONOutput {
		return jsonError("cannot encode more than %d MiB", maxJSONOutput>>20)
	}
	return nil
}

func (e *JSONEncoder) table(dst []byte, t *glua.LTable, depth int) ([]byte, error) {
	if e.L == nil {
		return dst, jsonError("cannot encode a Lua table without its state (use AppendLua)")
	}
	if slices.Contains(e.stack, t) {
		return dst, jsonError("cannot encode a cycle (a table that contains itself)")
	}
	if err := e.enter(dst, depth); err != nil {
		return dst, err
	}
	e.stack = append(e.stack, t)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()

	n, err := ArrayLen(e.L, t)
	if err != nil {
		return dst, jsonError("cannot encode %v", err)
	}
	if n >= 0 {
		dst = append(dst, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				dst = append(dst, ',')
			}
			if dst, err = e.value(dst, t.RawGetInt(i), depth+1); err != nil {
				return dst, atPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return append(dst, ']'), nil
	}
	start := len(e.pairs)
	binary := e.conv.binaryColumns(t)
	if m, ok := stringKeys(t); ok {
		if s := e.conv.builtFrom(t); s != nil && s.object != nil {
			return e.shaped(dst, m, s.object, binary, depth)
		}
		for k, v := range m {
			if v != glua.LNil {
				e.pairs = append(e.pairs, jsonPair{k, pairValue(k, v, binary)})
			}
		}
		return e.object(dst, start, depth)
	}
	var kerr error
	t.ForEach(func(k, v glua.LValue) {
		ks, ok := ObjectKey(k)
		if !ok && kerr == nil {
			kerr = jsonError("cannot encode an object key of type %s", k.Type())
		}
		e.pairs = append(e.pairs, jsonPair{ks, pairValue(ks, v, binary)})
	})
	if kerr != nil {
		e.pairs = e.pairs[:start]
		return dst, kerr
	}
	return e.object(dst, start, depth)
}

// binaryString is the value of a binary column (binaryColumns) on its way
// to being written as {"base64": "..."}.
type binaryString string

// pairValue is what an object's member k writes for the Lua value v.
func pairValue(k string, v glua.LValue, binary map[string]bool) any {
	if s, ok := v.(glua.LString); ok && binary[k] {
		return binaryString(s)
	}
	return v
}

// object writes the pairs from start on, sorted by key, and pops them.
func (e *JSONEncoder) object(dst []byte, start, depth int) ([]byte, error) {
	slices.SortFunc(e.pairs[start:], func(a, b jsonPair) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, '{')
	end := len(e.pairs)
	for i := start; i < end; i++ {
		if i > start {
			dst = append(dst, ',')
		}
		p := e.pairs[i] // re-read: nested objects may grow (move) e.pairs
		var ok bool
		if dst, ok = event.AppendJSONText(dst, p.k); !ok {
			e.pairs = e.pairs[:start]
			return dst, jsonError("cannot encode a key that is not UTF-8")
		}
		dst = append(dst, ':')
		var err error
		if dst, err = e.value(dst, p.v, depth+1); err != nil {
			e.pairs = e.pairs[:start]
			return dst, atPath(err, "."+p.k)
		}
	}
	e.pairs = e.pairs[:start]
	return append(dst, '}'), nil
}

// shaped writes a table that still has the keys of its shape (m: its
// string keys; keys: the shape's object keys): what object would write,
// without sorting or escaping the keys again.
func (e *JSONEncoder) shaped(dst []byte, m map[string]glua.LValue, keys []objectKey, binary map[string]bool, depth int) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for _, k := range keys {
		v, ok := m[k.name]
		if !ok || v == glua.LNil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k.json...)
		var err error
		if dst, err = e.value(dst, pairValue(k.name, v, binary), depth+1); err != nil {
			return dst, atPath(err, "."+k.name)
		}
	}
	return append(dst, '}'), nil
}

func appendJSONNumber(dst []byte, f float64) ([]byte, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return dst, jsonError("cannot encode %s (JSON has no NaN or infinity)", glua.LNumber(f).String())
	case f == 0 && math.Signbit(f):
		return append(dst, "-0.0"...), nil // "-0" would read back as the integer 0
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53:
		return strconv.AppendInt(dst, int64(f), 10), nil // exact, and faster than 'f', -1
	case f == math.Trunc(f):
		// Beyond 2^53 an integral double is written in exponent form:
		// as plain digits, json.decode would read it back as an exact
		// integer (a digit string) instead of this double.
		return strconv.AppendFloat(dst, f, 'e', -1, 64), nil
	}
	return event.AppendJSONFloat(dst, f), nil
}

func appendJSONText(dst []byte, s string) ([]byte, error) {
	dst, ok := event.AppendJSONText(dst, s)
	if !ok {
		return dst, jsonError("cannot encode a string that is not UTF-8 (binary data? encode it first, e.g. as hex)")
	}
	return dst, nil
}

// DecodeJSON parses JSON text, which must hold exactly one value, into a
// Lua value of L by the rules of json.decode (docs/lua-api.md): integers
// within ±2^53 become numbers and larger ones strings of the same digits,
// other numbers doubles, null json.null, and every array and object is
// marked, so that JSONEncoder writes it back the same way, [] and {}
// included. Builtins that read JSON (json.decode, es reads, http responses)
// all use it.
func DecodeJSON(L *glua.LState, data []byte) (glua.LValue, error) {
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
		return NullValue, nil
	}
	return FromGo(L, v)
}
