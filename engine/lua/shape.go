package lua

import (
	"maps"
	"reflect"
	"slices"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

// Why this file exists
//
// Converting a batch of events is the hot path of dispatch, and almost all
// of its cost is gopher-lua's bookkeeping of string keys: every
// LTable.RawSetString of a new key inserts into two maps (strdict, and k2i,
// which next/pairs use), appends to the keys slice and boxes the key into an
// interface. k2i and keys cannot be sized through the public API, so a
// 14-field event table reallocates them five times, and a row pays one
// interface allocation per column name. Profiles of bench/lua put 70% of the
// CPU of a no-op listener in RawSetString and the allocations it makes.
//
// Yet the tables we build come in few shapes: every row of one table
// version has the same columns, every insert event the same fields. A shape
// holds, once, the key bookkeeping of a table with those keys, and build
// makes each new table by cloning it: two map clones (a memory copy, no
// hashing) and a shared keys slice, then one store per value. The result is the
// table RawSetString would have built, key for key and in the same
// iteration order; scripts and Go code cannot tell the difference.
//
// Cloning needs gopher-lua's unexported LTable fields. tableFields mirrors
// them, and fastShapes is true only when the mirror matches the real struct
// field for field (name, type, offset), so a gopher-lua upgrade that changes
// LTable falls back to the public API (slower, same result) instead of
// corrupting memory; TestShapeLayoutMatchesGopherLua fails in that case so
// the loss is noticed.

// tableFields mirrors glua.LTable of gopher-lua v1.1.2 (table.go, value.go).
type tableFields struct {
	Metatable glua.LValue
	array     []glua.LValue
	dict      map[glua.LValue]glua.LValue
	strdict   map[string]glua.LValue
	keys      []glua.LValue
	k2i       map[glua.LValue]int
}

// fastShapes reports whether shapes may build tables by cloning, that is
// whether tableFields is glua.LTable's layout.
var fastShapes = sameLayout(reflect.TypeFor[glua.LTable](), reflect.TypeFor[tableFields]())

func sameLayout(a, b reflect.Type) bool {
	if a.Size() != b.Size() || a.NumField() != b.NumField() {
		return false
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Offset != fb.Offset {
			return false
		}
	}
	return true
}

func fieldsOf(t *glua.LTable) *tableFields {
	return (*tableFields)(unsafe.Pointer(t))
}

// stringKeys returns the map of t's string keys when it has no other keys,
// so that code which only reads such a table (json.encode, ToGo) can range
// over it without ForEach, which boxes every key into a new LString. The
// map may hold LNil values, which mean absent keys. ok is false without
// fastShapes or when t has array or non-string keys.
func stringKeys(t *glua.LTable) (m map[string]glua.LValue, ok bool) {
	if !fastShapes {
		return nil, false
	}
	f := fieldsOf(t)
	if len(f.array) != 0 || len(f.dict) != 0 {
		return nil, false
	}
	return f.strdict, true
}

// shape is a fixed list of distinct string keys; build makes tables with
// exactly those keys, set in that order. A shape is owned by one state's
// converter, like everything it builds.
type shape struct {
	names []string
	// template is a table holding every key (bound to a placeholder), whose
	// maps and keys slice build clones; nil without fastShapes.
	template *tableFields
	// object is the names in the order json.encode writes an object's
	// keys (sorted), each with its JSON text, so that encoding a table of
	// this shape neither sorts nor escapes keys (JSONEncoder.shaped). nil
	// without a template, or when a name is not UTF-8: the generic path
	// then reports it.
	object []objectKey
}

// objectKey is a key of a shape as json.encode writes it.
type objectKey struct {
	name string
	json []byte // "name":
}

// newShape returns the shape of names, or nil when names repeat one (a
// shape must have one value per key; callers then set keys one by one).
func newShape(names []string) *shape {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return nil
		}
		seen[n] = true
	}
	s := &shape{names: names}
	if fastShapes && len(names) > 0 {
		// What RawSetString of each name in turn would store, with maps
		// sized for exactly these keys: a clone copies the capacity too,
		// and gopher-lua's default of 32 slots would triple the bytes of a
		// small table.
		t := &tableFields{
			strdict: make(map[string]glua.LValue, len(names)),
			keys:    make([]glua.LValue, len(names)), // len == cap: see build
			k2i:     make(map[glua.LValue]int, len(names)),
		}
		for i, n := range names {
			t.strdict[n] = glua.LFalse
			t.keys[i] = glua.LString(n)
			t.k2i[t.keys[i]] = i
		}
		s.template = t
		s.object = objectKeys(names)
	}
	return s
}

func objectKeys(names []string) []objectKey {
	keys := make([]objectKey, 0, len(names))
	for _, n := range slices.Sorted(slices.Values(names)) {
		text, ok := event.AppendJSONText(nil, n)
		if !ok {
			return nil
		}
		keys = append(keys, objectKey{name: n, json: append(text, ':')})
	}
	return keys
}

// build returns a new table with vals[i] at names[i]. Every value must be
// non-nil: a table cannot hold nil, and callers leave absent keys out of the
// shape instead.
func (s *shape) build(L *glua.LState, vals []glua.LValue) *glua.LTable {
	if s.template == nil {
		// The public API sizes only strdict; keys and k2i grow as we go.
		t := L.CreateTable(0, len(s.names))
		for i, n := range s.names {
			t.RawSetString(n, vals[i])
		}
		return t
	}
	t := &glua.LTable{Metatable: glua.LNil}
	f := fieldsOf(t)
	f.strdict = maps.Clone(s.template.strdict)
	// gopher-lua only ever reads keys and appends to it (a removed key
	// stays). The template's keys slice is full (len == cap), so the first
	// key a script adds makes append copy it: every table of the shape can
	// share it. k2i is written in place when a key is added, so each table
	// needs its own.
	f.keys = s.template.keys
	f.k2i = maps.Clone(s.template.k2i)
	for i, n := range s.names {
		f.strdict[n] = vals[i]
	}
	return t
}
