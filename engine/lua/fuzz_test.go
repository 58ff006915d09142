package lua

import (
	"math"
	"reflect"
	"strconv"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// build turns fuzz bytes into a Lua value: a small stack machine that makes
// numbers, strings, nulls, booleans, functions and tables with string,
// integer and odd keys, marks, and cycles.
func build(L *glua.LState, data []byte) glua.LValue {
	var stack []glua.LValue
	var tables []*glua.LTable
	pop := func() glua.LValue {
		if len(stack) == 0 {
			return glua.LNumber(0)
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v
	}
	for i := 0; i < len(data); i++ {
		op := data[i]
		arg := byte(0)
		if i+1 < len(data) {
			arg = data[i+1]
		}
		switch op % 12 {
		case 0:
			stack = append(stack, glua.LNumber(float64(int8(arg))))
		case 1:
			stack = append(stack, glua.LNumber(math.Ldexp(float64(arg)+0.5, int(arg%80))))
		case 2:
			stack = append(stack, glua.LString([]byte{arg, arg ^ 0x80}))
		case 3:
			stack = append(stack, NullValue)
		case 4:
			stack = append(stack, glua.LBool(arg%2 == 0))
		case 5:
			t := L.NewTable()
			tables = append(tables, t)
			stack = append(stack, t)
		case 6: // t[#t+1] = v
			v := pop()
			if t, ok := pop().(*glua.LTable); ok {
				t.Append(v)
				stack = append(stack, t)
			}
		case 7: // t[key] = v
			v := pop()
			if t, ok := pop().(*glua.LTable); ok {
				t.RawSetString(string(rune('a'+arg%6)), v)
				stack = append(stack, t)
			}
		case 8: // t[n] = v
			v := pop()
			if t, ok := pop().(*glua.LTable); ok {
				t.RawSetInt(int(arg%5)+1, v)
				stack = append(stack, t)
			}
		case 9: // mark
			if t, ok := pop().(*glua.LTable); ok {
				if arg%2 == 0 {
					MarkArray(L, t)
				} else {
					MarkObject(L, t)
				}
				stack = append(stack, t)
			}
		case 10: // push an earlier table again (sharing, cycles)
			if len(tables) > 0 {
				stack = append(stack, tables[int(arg)%len(tables)])
			}
		case 11:
			stack = append(stack, L.NewFunction(func(*glua.LState) int { return 0 }))
		}
	}
	return pop()
}

func FuzzToGo(f *testing.F) {
	f.Add([]byte{5, 0, 0, 7, 6, 1})
	f.Add([]byte{5, 0, 10, 0, 7, 1})
	f.Add([]byte{5, 0, 5, 0, 3, 6, 6, 9, 1})
	f.Add([]byte{5, 0, 11, 0, 8, 3})
	f.Add([]byte{1, 200, 2, 0xff, 4, 1})
	o := &Options{}
	L := newState(o.shared(""), &Env{logger: testOptions(nil).Logger, sinks: noSinks{}}).L
	defer L.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		v := build(L, data)
		g, err := ToGo(L, v)
		if err != nil {
			if _, ok := err.(*ConversionError); !ok {
				t.Fatalf("error %T is not a *ConversionError", err)
			}
			return
		}
		// A converted value goes back to Lua and converts to the same Go
		// value: the conversion loses nothing it accepted. Integers beyond
		// ±2^53 come back as strings of the same digits, by design.
		lv, err := FromGo(L, g)
		if err != nil {
			t.Fatalf("FromGo(%#v): %v", g, err)
		}
		g2, err := ToGo(L, lv)
		if err != nil {
			t.Fatalf("ToGo(FromGo(%#v)): %v", g, err)
		}
		if want := wide(g); !reflect.DeepEqual(want, g2) && !hasNaN(g) {
			t.Fatalf("round trip changed %#v into %#v", g, g2)
		}
	})
}

// wide is what FromGo then ToGo makes of v: integers beyond ±2^53 as
// strings.
func wide(v any) any {
	switch x := v.(type) {
	case int64:
		if x > maxExact || x < -maxExact {
			return strconv.FormatInt(x, 10)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = wide(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = wide(e)
		}
		return out
	}
	return v
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != x
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}
