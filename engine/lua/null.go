package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// Null is SQL/JSON null on the Go side of the boundary: ToGo returns Null{}
// for NullValue, and FromGo turns Null{} back into NullValue. It marshals to
// JSON null.
type Null struct{}

// MarshalJSON writes null.
func (Null) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// String is "null", for logs.
func (Null) String() string { return "null" }

// NullValue is SQL NULL and JSON null in Lua (json.null). It is one userdata
// shared by every state, so `v == json.null` works for values from any
// source. Sharing is safe across goroutines because nothing can change it:
// Lua cannot set the metatable of a userdata, and its metatable is protected
// (getmetatable returns a string), so scripts never reach the shared table.
var NullValue glua.LValue

// nullUD is NullValue's concrete value, for identity checks without an
// interface comparison.
var nullUD *glua.LUserData

func init() {
	// A throwaway state only to own the metamethod's function object; the
	// function is a Go function and uses the state it is called from.
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	mt := L.NewTable()
	mt.RawSetString("__metatable", glua.LString("json.null"))
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString("null"))
		return 1
	}))
	nullUD = &glua.LUserData{Value: Null{}, Metatable: mt}
	NullValue = nullUD
}

// IsNull reports whether v is json.null.
func IsNull(v glua.LValue) bool {
	ud, ok := v.(*glua.LUserData)
	return ok && ud == nullUD
}

// Registry keys of the per-state marker metatables. They are per state, not
// shared, because scripts can reach and change them (getmetatable).
const (
	arrayMetaKey  = "moontide.array"
	objectMetaKey = "moontide.object"
)

// markers returns the state's array and object marker metatables, creating
// them on first use.
func markers(L *glua.LState) (array, object *glua.LTable) {
	reg := L.G.Registry
	if a, ok := reg.RawGetString(arrayMetaKey).(*glua.LTable); ok {
		return a, reg.RawGetString(objectMetaKey).(*glua.LTable)
	}
	array = L.CreateTable(0, 1)
	array.RawSetString("__jsontype", glua.LString("array"))
	object = L.CreateTable(0, 1)
	object.RawSetString("__jsontype", glua.LString("object"))
	reg.RawSetString(arrayMetaKey, array)
	reg.RawSetString(objectMetaKey, object)
	return array, object
}

// Shape is how a table converts to JSON or Go.
type Shape uint8

// The shapes of a table.
const (
	// Unmarked tables are arrays when their keys are exactly 1..n and
	// objects when every key is a string; an empty unmarked table is an
	// object.
	Unmarked Shape = iota
	// Array tables were marked with MarkArray (json.array()).
	Array
	// Object tables were marked with MarkObject (json.object()).
	Object
)

// MarkArray marks t so that it converts to an array even when empty.
func MarkArray(L *glua.LState, t *glua.LTable) {
	a, _ := markers(L)
	t.Metatable = a
}

// MarkObject marks t so that it converts to an object even when empty or
// when its keys look like an array.
func MarkObject(L *glua.LState, t *glua.LTable) {
	_, o := markers(L)
	t.Metatable = o
}

// ShapeOf returns the mark of t.
func ShapeOf(L *glua.LState, t *glua.LTable) Shape {
	if t.Metatable == glua.LNil || t.Metatable == nil {
		return Unmarked
	}
	a, o := markers(L)
	switch t.Metatable {
	case glua.LValue(a):
		return Array
	case glua.LValue(o):
		return Object
	}
	return Unmarked
}
