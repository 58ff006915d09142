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
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

type module struct{}

// Name is "json".
func (module) Name() string { return "json" }

// Open builds the json table. The encoder and its buffer are kept between
// calls; they belong to the state, which belongs to one goroutine.
func (module) Open(L *glua.LState, _ *lua.Env) (glua.LValue, error) {
	var enc lua.JSONEncoder
	var buf []byte
	t := L.CreateTable(0, 5)
	t.RawSetString("encode", L.NewFunction(func(L *glua.LState) int {
		v := L.CheckAny(1)
		var err error
		if buf, err = enc.AppendLua(L, buf[:0], v); err != nil {
			L.RaiseError("json.encode: %v", err)
		}
		L.Push(glua.LString(buf))
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
// package documentation (lua.JSONEncoder's, which es and http follow too).
func Encode(L *glua.LState, v glua.LValue) ([]byte, error) {
	var e lua.JSONEncoder
	return e.AppendLua(L, nil, v)
}

// Decode parses JSON text into a Lua value following the rules of the
// package documentation (lua.DecodeJSON's). The text must hold exactly one
// value.
func Decode(L *glua.LState, data []byte) (glua.LValue, error) {
	return lua.DecodeJSON(L, data)
}
