package es

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// sinks is a sink configuration for tests: name → config, and the default
// of each kind.
type sinks struct {
	m   map[string]lua.SinkConfig
	def map[string]string
}

func (s sinks) Sink(name string) (any, bool) {
	c, ok := s.m[name]
	return c, ok
}

func (s sinks) Default(kind string) (string, bool) {
	n, ok := s.def[kind]
	return n, ok
}

// esSinks configures a default es sink "search" at url, and "other".
func esSinks(url string) sinks {
	return sinks{
		m: map[string]lua.SinkConfig{
			"search": {Type: "es", Endpoints: []string{url}},
			"other":  {Type: "es", Endpoints: []string{url}},
			"cache":  {Type: "redis", Endpoints: []string{"127.0.0.1:1"}},
		},
		def: map[string]string{"es": "search"},
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeJSON stands in for the json builtin, which a builtin's tests must not
// import: it offers json.null, json.array and json.object.
type fakeJSON struct{}

func (fakeJSON) Name() string { return "json" }

func (fakeJSON) Open(L *glua.LState, _ *lua.Env) (glua.LValue, error) {
	t := L.NewTable()
	t.RawSetString("null", lua.NullValue)
	mark := func(f func(*glua.LState, *glua.LTable)) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			tb, ok := L.Get(1).(*glua.LTable)
			if !ok {
				tb = L.NewTable()
			}
			f(L, tb)
			L.Push(tb)
			return 1
		})
	}
	t.RawSetString("array", mark(lua.MarkArray))
	t.RawSetString("object", mark(lua.MarkObject))
	return t, nil
}

// record runs src as an ad-hoc script in recording mode and returns the
// recorded writes as strings.
func record(t *testing.T, src string) ([]string, error) {
	t.Helper()
	ops, err := lua.Exec(context.Background(), lua.Script{File: "test.lua", Source: []byte(src)},
		lua.Options{Record: true, Sinks: esSinks("http://127.0.0.1:1"), Clients: lua.NewPool(), Logger: quiet, Modules: []lua.Module{fakeJSON{}}})
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out, err
}

// listener loads a one-listener scripts directory whose handle body is
// body (with es required as es and json as json) against the sinks given.
func listener(t testing.TB, ss sinks, body string) *lua.Listener {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`local es = require("es")
local json = require("json")
return {
  name = "es-test",
  subscribe = { "shop.*" },
  timeout = 20000,
  handle = function(events)
%s
  end,
}
`, body)
	if err := os.WriteFile(filepath.Join(dir, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := lua.Load(dir, lua.Options{Sinks: ss, Clients: lua.NewPool(), Logger: quiet, Modules: []lua.Module{fakeJSON{}}})
	if err != nil {
		t.Fatalf("loading listener: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g.Listener("es-test")
}

var products = event.NewTable("shop", "products", []event.Column{
	{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar(64)"},
	{Name: "price", Type: "decimal(10,2)"}, {Name: "stock", Type: "int"},
}, []int{0})

// productEvent is an insert (or, with action, another change) of one
// product row at binlog position pos.
func productEvent(action event.Action, id int64, name, price string, stock int64, pos uint32) *event.Event {
	row := []event.Value{event.IntValue(id), event.StringValue(name), event.DecimalValue(price), event.IntValue(stock)}
	ev := &event.Event{
		ID: fmt.Sprintf("1-%d", pos), Action: action, Table: products,
		Pos:     event.Position{File: "mysql-bin.000001", Pos: pos},
		Version: event.MakeVersion(1, pos, 0),
	}
	if action == event.Delete {
		ev.Before = row
	} else {
		ev.After = row
	}
	ev.Key = event.MakeKey(products, row)
	return ev
}

func newLocalListener(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
