package json_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	mjson "github.com/moontide/moontide/builtins/json"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// run executes src as an ad-hoc script and returns what it printed.
func run(t *testing.T, src string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := lua.Exec(context.Background(), lua.Script{File: "t.lua", Source: []byte(src)}, lua.Options{Print: &out, Clients: lua.NewPool()})
	return out.String(), err
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"scalars", `print(json.encode(1), json.encode(-0.5), json.encode("a\"b\n"), json.encode(true), json.encode(json.null))`,
			`1	-0.5	"a\"b\n"	true	null`},
		{"integral doubles have no exponent", `print(json.encode(2^53), json.encode(1e20), json.encode(1e21))`, `9007199254740992	1e+20	1e+21`},
		{"keys are sorted", `print(json.encode({b = 1, a = {3, 2}, c = {x = json.null}}))`, `{"a":[3,2],"b":1,"c":{"x":null}}`},
		{"an empty table is an object", `print(json.encode({}))`, `{}`},
		{"json.array marks an empty array", `print(json.encode({list = json.array(), obj = json.object()}))`, `{"list":[],"obj":{}}`},
		{"json.object turns an array into an object", `print(json.encode(json.object({"a", "b"})))`, `{"1":"a","2":"b"}`},
		{"big integers decode as exact strings", `local v = json.decode('{"id": 9223372036854775807, "u": 18446744073709551615, "n": 42, "f": 1.5}')
print(v.id, type(v.id), v.u, v.n, type(v.n), v.f)`, "9223372036854775807	string	18446744073709551615	42	number	1.5"},
		{"null decodes as json.null", `local v = json.decode('[null, {"a": null}]'); print(v[1] == json.null, v[2].a == json.null, #v)`, "true	true	2"},
		{"[] and {} survive a round trip", `print(json.encode(json.decode('{"a":[],"b":{},"c":[{}]}')))`, `{"a":[],"b":{},"c":[{}]}`},
		{"decimal strings stay strings", `print(json.encode({price = "19.90"}))`, `{"price":"19.90"}`},
		{"decode errors return nil and a message", `local v, err = json.decode('{"a":'); print(v, err ~= nil)`, "nil	true"},
		{"trailing data is an error", `local v, err = json.decode('1 2'); print(v, err)`, "nil	decoding JSON: data after the value"},
		{"null prints as null", `print(json.null, tostring(json.null))`, "null	null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, `local json = require("json")`+"\n"+tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimRight(got, "\n") != tt.want {
				t.Errorf("printed\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestEncodeErrorsNameThePath(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"cycle", `local t = {a = {}}; t.a.b = t; json.encode(t)`, "cycle (a table that contains itself) at $.a.b"},
		{"function", `json.encode({x = {1, print}})`, "cannot encode a function at $.x[2]"},
		{"sparse array", `json.encode({list = {1, nil, 3}})`, "sparse array (2 values, highest index 3); fill the holes with json.null at $.list"},
		{"mixed keys", `json.encode({1, a = 2})`, "mixes array and object keys at $"},
		{"NaN", `json.encode({v = 0/0})`, "JSON has no NaN or infinity) at $.v"},
		{"binary", `json.encode({raw = "\255"})`, "not UTF-8"},
		{"array mark with a string key", `local a = json.array(); a.x = 1; json.encode(a)`, "table marked as array has keys other than 1..n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, `local json = require("json")`+"\n"+tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "t.lua:2:") {
				t.Errorf("error %v, want t.lua:2 and %q", err, tt.want)
			}
		})
	}
	// A table shared twice is not a cycle.
	got, err := run(t, `local json = require("json"); local s = {1}; print(json.encode({a = s, b = s}))`)
	if err != nil || strings.TrimSpace(got) != `{"a":[1],"b":[1]}` {
		t.Errorf("shared table: %q, %v", got, err)
	}
}

// handle runs a one-listener scripts directory whose listener is src on
// one event, and returns what it printed.
func handle(t *testing.T, src string, ev *event.Event) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g, err := lua.Load(dir, lua.Options{Print: &out, Clients: lua.NewPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Listeners()[0].Handle(context.Background(), 0, []*event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// TestBigIntegersSurviveEventToJSON: BIGINT max and BIGINT UNSIGNED max
// reach a listener as exact strings and json.encode keeps every digit.
func TestBigIntegersSurviveEventToJSON(t *testing.T) {
	tbl := event.NewTable("t", "big", []event.Column{
		{Name: "s", Type: "bigint"}, {Name: "u", Type: "bigint unsigned"}, {Name: "n", Type: "int"},
		{Name: "d", Type: "decimal(30,10)"}, {Name: "z", Type: "int"},
	}, []int{0})
	ev := &event.Event{ID: "1", Action: event.Insert, Table: tbl, After: []event.Value{
		event.IntValue(math.MaxInt64), event.UintValue(math.MaxUint64), event.IntValue(7),
		event.DecimalValue("12345678901234567890.0123456789"), event.NullValue(),
	}}
	got := handle(t, `local json = require("json")
return { name = "big", subscribe = {"t.big"}, handle = function(events)
  print(json.encode(events[1].after))
end }`, ev)
	want := `{"d":"12345678901234567890.0123456789","n":7,"s":"9223372036854775807","u":"18446744073709551615","z":null}`
	if got != want {
		t.Errorf("encoded %s\nwant    %s", got, want)
	}
}

// TestBinaryColumnsOfRowsEncodeAsBase64: the values of BINARY, BLOB and
// the like in an event's row image encode as {"base64": ...}, as in Kafka
// messages, whatever their bytes, in full and partial row images; a table
// the script builds follows the plain rules.
func TestBinaryColumnsOfRowsEncodeAsBase64(t *testing.T) {
	tbl := event.NewTable("t", "bin", []event.Column{
		{Name: "id", Type: "int"}, {Name: "raw", Type: "varbinary(4)"}, {Name: "doc", Type: "blob"}, {Name: "name", Type: "varchar(10)"},
	}, []int{0})
	ev := &event.Event{ID: "1", Action: event.Update, Table: tbl,
		Before: []event.Value{event.IntValue(1), event.BytesValue([]byte{0, 0xff}), event.BytesValue([]byte("abc")), {}},
		After:  []event.Value{event.IntValue(1), event.BytesValue([]byte{0xfe}), event.NullValue(), event.StringValue("x")},
	}
	got := handle(t, `local json = require("json")
return { name = "bin", subscribe = {"t.bin"}, handle = function(events)
  local ev = events[1]
  print(json.encode(ev.after))
  print(json.encode(ev.before))
  print(json.encode(ev))
  local copy = {}
  for k, v in pairs(ev.before) do copy[k] = v end
  print(json.encode({doc = copy.doc}), pcall(json.encode, copy))
end }`, ev)
	want := `{"doc":null,"id":1,"name":"x","raw":{"base64":"/g=="}}
{"doc":{"base64":"YWJj"},"id":1,"raw":{"base64":"AP8="}}
`
	lines := strings.SplitN(got, "\n", 4)
	if len(lines) != 4 || lines[0]+"\n"+lines[1]+"\n" != want {
		t.Fatalf("printed\n%s\nwant first\n%s", got, want)
	}
	if !strings.Contains(lines[2], `"after":{"doc":null,"id":1,"name":"x","raw":{"base64":"/g=="}}`) {
		t.Errorf("the whole event: %s", lines[2])
	}
	if !strings.HasPrefix(lines[3], `{"doc":"abc"}	false	`) || !strings.Contains(lines[3], "not UTF-8") {
		t.Errorf("a script's own table: %s", lines[3])
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[]`, `{}`, `9223372036854775808`, `-1.5e300`, `"\u2028\ud800"`, `[[[[]]]]`, `{"1":2}`} {
		f.Add(s)
	}
	L := glua.NewState()
	defer L.Close()
	f.Fuzz(func(t *testing.T, s string) {
		v, err := mjson.Decode(L, []byte(s))
		if err != nil {
			return
		}
		// What decodes encodes, and encoding is stable from then on.
		b1, err := mjson.Encode(L, v)
		if err != nil {
			if strings.Contains(err.Error(), "not UTF-8") {
				return // invalid UTF-8 inside JSON strings decodes, but is refused on the way out
			}
			t.Fatalf("Encode(Decode(%q)): %v", s, err)
		}
		v2, err := mjson.Decode(L, b1)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b1, err)
		}
		b2, err := mjson.Encode(L, v2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("not stable: %s then %s (%v)", b1, b2, err)
		}
	})
}
