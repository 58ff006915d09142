package es

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// esSinks configures a default es sink "search" at url, and "other".
func esSinks(url string) luatest.Sinks {
	return luatest.Sinks{
		Conns: map[string]lua.SinkConfig{
			"search": {Type: "es", Endpoints: []string{url}},
			"other":  {Type: "es", Endpoints: []string{url}},
			"cache":  {Type: "redis", Endpoints: []string{"127.0.0.1:1"}},
		},
		Defaults: map[string]string{"es": "search"},
	}
}

// options are the options of the tests' scripts: the given sinks and the
// stand-in json module.
func options(ss luatest.Sinks, record bool) lua.Options {
	opts := luatest.Options(ss, record)
	opts.Modules = []lua.Module{luatest.JSON{}}
	return opts
}

// record runs src as an ad-hoc script in recording mode and returns the
// recorded writes as strings.
func record(t *testing.T, src string) ([]string, error) {
	t.Helper()
	return luatest.Exec(context.Background(), "test.lua", src, options(esSinks("http://127.0.0.1:1"), true))
}

// listener loads a one-listener scripts directory whose handle body is
// body (with es required as es and json as json) against the sinks given.
func listener(t testing.TB, ss luatest.Sinks, body string) *lua.Listener {
	t.Helper()
	return luatest.LoadListener(t, luatest.Handler("es", body), options(ss, false))
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
