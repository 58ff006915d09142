package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// mysqlSinks configures a default mysql sink "dest" at dsn, and "other".
func mysqlSinks(dsn string) luatest.Sinks {
	return luatest.Sinks{
		Conns: map[string]lua.SinkConfig{
			"dest":   {Type: "mysql", DSN: dsn},
			"other":  {Type: "mysql", DSN: dsn},
			"search": {Type: "es", Endpoints: []string{"http://127.0.0.1:1"}},
		},
		Defaults: map[string]string{"mysql": "dest"},
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
	return luatest.Exec(context.Background(), "test.lua", src, options(mysqlSinks("mysql://u:p@127.0.0.1:1/db"), true))
}

// listener loads a one-listener scripts directory whose handle body is
// body (with mysql and json required).
func listener(t testing.TB, ss luatest.Sinks, body string) *lua.Listener {
	t.Helper()
	return luatest.LoadListener(t, luatest.Handler("mysql", body), options(ss, false))
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
	return luatest.Load(t, src, luatest.Options(mysqlSinks("mysql://u:p@127.0.0.1:1/db"), true))
}
