package mysql

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// sinks is a sink configuration for tests.
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

// mysqlSinks configures a default mysql sink "dest" at dsn, and "other".
func mysqlSinks(dsn string) sinks {
	return sinks{
		m: map[string]lua.SinkConfig{
			"dest":   {Type: "mysql", DSN: dsn},
			"other":  {Type: "mysql", DSN: dsn},
			"search": {Type: "es", Endpoints: []string{"http://127.0.0.1:1"}},
		},
		def: map[string]string{"mysql": "dest"},
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
		lua.Options{Record: true, Sinks: mysqlSinks("mysql://u:p@127.0.0.1:1/db"), Clients: lua.NewPool(), Logger: quiet, Modules: []lua.Module{fakeJSON{}}})
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out, err
}

// listener loads a one-listener scripts directory whose handle body is
// body (with mysql and json required).
func listener(t testing.TB, ss sinks, body string) *lua.Listener {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`local mysql = require("mysql")
local json = require("json")
return {
  name = "mysql-test",
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
	return g.Listener("mysql-test")
}

var orders = event.NewTable("shop", "orders", []event.Column{
	{Name: "id", Type: "bigint unsigned"}, {Name: "amount", Type: "decimal(65,30)"},
	{Name: "data", Type: "varbinary(16)"}, {Name: "note", Type: "varchar(32)"},
}, []int{0})

// orderEvent is a change of one order row at binlog position pos.
func orderEvent(action event.Action, id uint64, amount string, data []byte, note *string, pos uint32) *event.Event {
	n := event.NullValue()
	if note != nil {
		n = event.StringValue(*note)
	}
	row := []event.Value{event.UintValue(id), event.DecimalValue(amount), event.BytesValue(data), n}
	ev := &event.Event{
		ID: fmt.Sprintf("1-%d", pos), Action: action, Table: orders,
		Pos: event.Position{File: "mysql-bin.000001", Pos: pos}, Version: event.MakeVersion(1, pos, 0),
	}
	if action == event.Delete {
		ev.Before = row
	} else {
		ev.After = row
	}
	ev.Key = event.MakeKey(orders, row)
	return ev
}

// recordTopLevel loads src as a listener script in recording mode: its top
// level runs at load time, outside any call.
func recordTopLevel(t *testing.T, src string) (*lua.Generation, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := lua.Load(dir, lua.Options{Record: true, Sinks: mysqlSinks("mysql://u:p@127.0.0.1:1/db"), Clients: lua.NewPool(), Logger: quiet})
	if g != nil {
		t.Cleanup(func() { _ = g.Close() })
	}
	return g, err
}
