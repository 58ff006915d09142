package redis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// The json builtin, so that scripts under test can use json.null and
	// json.encode as real ones do.
	_ "github.com/moontide/moontide/builtins/json"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// testSinks has a default redis sink "cache" and a second one "store",
// both at addr, and an es sink "search" to misuse.
func testSinks(addr string) luatest.Sinks {
	return luatest.Sinks{
		Conns: map[string]lua.SinkConfig{
			"cache":  {Type: "redis", Endpoints: []string{addr}, Timeout: 2 * time.Second},
			"store":  {Type: "redis", Endpoints: []string{addr}, DB: 1, Timeout: 2 * time.Second},
			"search": {Type: "es", Endpoints: []string{"http://127.0.0.1:1"}},
		},
		Defaults: map[string]string{"redis": "cache"},
	}
}

// options returns luatest's options with the given sinks and a 5 s call
// timeout.
func options(s lua.Sinks, record bool) lua.Options {
	opts := luatest.Options(s, record)
	opts.Timeout = 5 * time.Second
	return opts
}

// exec runs an ad-hoc script and returns the ops it recorded (recording
// mode) or the error.
func exec(t testing.TB, src string, opts lua.Options) ([]string, error) {
	t.Helper()
	return luatest.Exec(context.Background(), "t.lua", src, opts)
}

// ordersTable is a table with the kinds of values that must reach Redis
// exactly: a BIGINT beyond 2^53, binary bytes, text.
var ordersTable = event.NewTable("shop", "orders", []event.Column{
	{Name: "id", Type: "bigint unsigned"},
	{Name: "big", Type: "bigint"},
	{Name: "blob", Type: "varbinary(16)"},
	{Name: "status", Type: "varchar(16)"},
}, []int{0})

// orderEvent builds an insert of shop.orders.
func orderEvent(id uint64, big int64, blob []byte, status string) *event.Event {
	ev := &event.Event{
		ID:     fmt.Sprintf("mysql-bin.000001:%d:0", 1000+id),
		Action: event.Insert,
		Table:  ordersTable,
		Pos:    event.Position{File: "mysql-bin.000001", Pos: uint32(1000 + id)},
		After: []event.Value{
			event.UintValue(id), event.IntValue(big), event.BytesValue(blob), event.StringValue(status),
		},
	}
	ev.Key = event.MakeKey(ordersTable, ev.After)
	return ev
}

// wantErr fails unless err is non-nil and contains every part.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func writeFile(dir, name, text string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
}
