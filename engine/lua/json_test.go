package lua

import (
	"math"
	"strconv"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

func TestAppendJSONWritesGoValuesByTheJSONRules(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", []any{nil, Null{}}, `[null,null]`},
		{"exact integers", []any{int64(math.MaxInt64), int64(math.MinInt64)}, `[9223372036854775807,-9223372036854775808]`},
		{"doubles", []any{1.5, -0.25, math.Ldexp(1, 53), 1e20, math.Copysign(0, -1)}, `[1.5,-0.25,9007199254740992,1e+20,-0.0]`},
		{"sorted keys", map[string]any{"b": true, "a": map[string]any{}, "c": []any{}}, `{"a":{},"b":true,"c":[]}`},
		{"strings", map[string]any{"s": "<a\u2028\"\n"}, `{"s":"<a\u2028\"\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendJSON([]byte("x"), tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+tt.want {
				t.Errorf("got %s, want x%s", got, tt.want)
			}
		})
	}
}

func TestAppendJSONErrorsNameThePath(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a string that is not UTF-8", map[string]any{"a": []any{int64(1), map[string]any{"b": "\xff"}}}, "not UTF-8 (binary data? encode it first, e.g. as hex) at $.a[2].b"},
		{"a key that is not UTF-8", map[string]any{"a": map[string]any{"\xff": int64(1)}}, "cannot encode a key that is not UTF-8 at $.a"},
		{"NaN", []any{math.NaN()}, "(JSON has no NaN or infinity) at $[1]"},
		{"a Go type ToGo never returns", map[string]any{"t": struct{}{}}, "cannot encode a Go struct {} at $.t"},
		{"a Lua table without its state", []any{&glua.LTable{}}, "without its state (use AppendLua) at $[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AppendJSON(nil, tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestJSONEncoderWritesToGoOutputAsTheLuaValue(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString(`v = {id = 7, name = "x", tags = {"a", "b"}, none = json_null, half = 0.5, empty = {}}`); err != nil {
		t.Fatal(err)
	}
	lv := L.GetGlobal("v").(*glua.LTable)
	lv.RawSetString("none", NullValue)
	var e JSONEncoder
	fromLua, err := e.AppendLua(L, nil, lv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ToGo(L, lv)
	if err != nil {
		t.Fatal(err)
	}
	fromGo, err := e.Append(nil, g)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"empty":{},"half":0.5,"id":7,"name":"x","none":null,"tags":["a","b"]}`
	if string(fromLua) != want || string(fromGo) != want {
		t.Errorf("from Lua %s\nfrom Go  %s\nwant     %s", fromLua, fromGo, want)
	}
}

func TestDecodeJSONRefusesTrailingData(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	if _, err := DecodeJSON(L, []byte(`{} {}`)); err == nil || err.Error() != "decoding JSON: data after the value" {
		t.Errorf("error %v", err)
	}
	v, err := DecodeJSON(L, []byte(`null`))
	if err != nil || v != NullValue {
		t.Errorf("null decoded as %v, %v", v, err)
	}
}

func TestIntegralNumbersEncodeAsTheirShortestDecimal(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 1023, 1e15, -1e15, 1<<53 - 1, 1 << 53, -(1 << 53), 4503599627370497} {
		got, err := appendJSONNumber(nil, f)
		if want := strconv.FormatFloat(f, 'f', -1, 64); err != nil || string(got) != want {
			t.Errorf("appendJSONNumber(%v) = %s, %v; want %s", f, got, err, want)
		}
	}
}
